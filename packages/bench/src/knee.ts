#!/usr/bin/env node
/**
 * The knee finder: a system's maximum sustainable rate (p99 within its objective) and the
 * component that saturated first, read from metrics. The system is a BenchTarget
 * (services/<system>/src/bench-target.ts, see target.ts); the shortener is the default.
 *
 *   node packages/bench/src/knee.ts                       # start the shortener, ramp, report
 *   node packages/bench/src/knee.ts --system shortener    # the same, named
 *   node packages/bench/src/knee.ts --target hello        # the same ramp against bare Fastify
 *   node packages/bench/src/knee.ts --base-url http://127.0.0.1:3000 --path '/{code}'
 *
 * Steps: start the system (its API and worker) unless --base-url, seed and warm --codes keys,
 * start sampling (/proc CPU of the API's event loop, the worker and k6; the machine's CPU; Redis
 * INFO; pg_stat_activity; the API's /metrics, with the target's own series) every second, run the
 * target's step-ramp script with k6 writing every request to a CSV, then compute each plateau's
 * goodput and p99, find the knee (knee-detect.ts), attribute it (saturation.ts, with the target's
 * own signals), print a table and write results/<system>/knee/<timestamp>/{knee.json,knee.md}.
 */
import { rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ensureK6, repoRoot } from '@faultline/infra'
import { runK6 } from '@faultline/measure'
import { interrupted, stopAll, stopChildrenOnSignal } from './children.ts'
import { failWith, positiveFlag } from './cli-args.ts'
import { k6SystemTags, streamK6Csv } from './k6-csv.ts'
import { defaultKneeCriteria, findKnee, type KneeResult, kneeWindow } from './knee-detect.ts'
import { machineInfo, machineLine } from './machine.ts'
import { openModelVus } from './open-model.ts'
import { linkLatest, markdownTable, ms, num, pct, resultsDir, textTable, writeJson } from './report.ts'
import { Sampler } from './sampler.ts'
import {
  type Attribution,
  attributeSaturation,
  deriveSamples,
  type Interruption,
  infraInterruptions,
  maxResource,
  meanCpuByGroup,
  meanResources,
  type RawSample,
  type ResourceSample,
  withDropped,
} from './saturation.ts'
import { externalSystem, helloPort, startHello } from './servers.ts'
import { planSteps, StepAggregator, type StepStats } from './steps.ts'
import { type BenchTarget, loadBenchTarget, type RunningSystem } from './target.ts'

const usage = `Usage: node packages/bench/src/knee.ts [options]

Finds the highest rate a system sustains with p99 ≤ --p99-ms, and which component saturated first
(service CPU, Redis, Postgres pool, the system's own queues, or the machine), from metrics.

Target (default: start the system's API + worker on --port):
  --system NAME              the system, as in services/NAME (its src/bench-target.ts);
                             default shortener
  --target system|hello      what to start: the system, or the bare Fastify baseline
                             (the system's name is accepted for system)
  --base-url URL             use a running server instead (loopback only); nothing is started
  --path TEMPLATE            request path; {code} is replaced by a seeded key
                             (default: the system's request path, e.g. /{code}; / for hello)
  --port N                   port for a started server (default: the system's, 3300 for the
                             shortener; hello 3310)
  --codes N                  keys to seed and warm when the path has {code} (default: the
                             system's, 1000 for the shortener)
  --no-worker                do not start the system's worker
  --log-level L              LOG_LEVEL of a started system (default warn: no per-request logs)
  --via-toxiproxy            connect a started system through Toxiproxy (default: direct ports)

Ramp (bounded: refused if longer than --max-seconds):
  --start-rate N             first plateau, requests/s (default 500)
  --step N                   increase per plateau (default 500)
  --max-rate N               last plateau at most (default 7000)
  --step-seconds N           plateau length (default 6)
  --ramp-seconds N           ramp between plateaus (default 1)
  --max-seconds N            refuse a plan longer than this (default 120)
  --vus N / --max-vus N      k6 pre-allocated / maximum VUs (default both: max-rate × p99
                             objective, at least 8 — enough for every request to take the
                             objective; a step that needs more is past the knee anyway)

Judgement:
  --p99-ms N                 latency objective per plateau (default: the system's, 10 ms)
  --max-error-rate F         (default 0.01)
  --abort-p99-ms N           stop the ramp once a plateau's p99 passes this (default 500)
  --pin none|split           split: k6 on CPU 0, the server on CPU 1 (default none)
  --out DIR                  results root (default <repo>/results)
  --keep-raw                 keep k6's per-request CSV (large) in the results folder
  -h, --help`

const fail = failWith('knee')

const { values } = parseArgs({
  options: {
    system: { type: 'string', default: 'shortener' },
    target: { type: 'string', default: 'system' },
    'base-url': { type: 'string' },
    path: { type: 'string' },
    port: { type: 'string' },
    codes: { type: 'string' },
    'no-worker': { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'warn' },
    'via-toxiproxy': { type: 'boolean', default: false },
    'start-rate': { type: 'string', default: '500' },
    step: { type: 'string', default: '500' },
    'max-rate': { type: 'string', default: '7000' },
    'step-seconds': { type: 'string', default: '6' },
    'ramp-seconds': { type: 'string', default: '1' },
    'max-seconds': { type: 'string', default: '120' },
    vus: { type: 'string' },
    'max-vus': { type: 'string' },
    'p99-ms': { type: 'string' },
    'max-error-rate': { type: 'string', default: String(defaultKneeCriteria.maxErrorRate) },
    'abort-p99-ms': { type: 'string', default: '500' },
    pin: { type: 'string', default: 'none' },
    out: { type: 'string' },
    'keep-raw': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
})

if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const positive = (name: string, raw: string | undefined, integer = true) =>
  positiveFlag(fail, name, raw, integer)

const bench: BenchTarget = await loadBenchTarget(values.system ?? 'shortener').catch((err: Error) =>
  fail(err.message),
)
const target = values.target === bench.name ? 'system' : values.target
if (target !== 'system' && target !== 'hello')
  fail(`--target must be system (or ${bench.name}) or hello, got ${values.target}`)
if (values.pin !== 'none' && values.pin !== 'split') fail(`--pin must be none or split, got ${values.pin}`)
const baseUrlFlag = values['base-url']
if (
  baseUrlFlag !== undefined &&
  !/^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/.test(baseUrlFlag)
) {
  fail(`--base-url must be a loopback http URL (127.0.0.0/8, localhost, [::1]), got ${baseUrlFlag}`)
}
const pathTemplate = values.path ?? (target === 'hello' && baseUrlFlag === undefined ? '/' : bench.path)
if (!pathTemplate.startsWith('/')) fail(`--path must start with /, got ${pathTemplate}`)
const port = values.port ? positive('port', values.port) : target === 'hello' ? helloPort : bench.port
const holdSeconds = positive('step-seconds', values['step-seconds'])
const rampSeconds = positive('ramp-seconds', values['ramp-seconds'])
const plan = planSteps({
  startRate: positive('start-rate', values['start-rate']),
  step: positive('step', values.step),
  maxRate: positive('max-rate', values['max-rate']),
  holdSeconds,
})
const planSeconds = plan.length * (holdSeconds + rampSeconds)
const maxSeconds = positive('max-seconds', values['max-seconds'])
if (planSeconds > maxSeconds) {
  fail(
    `the ramp would take ${planSeconds}s (${plan.length} steps × ${holdSeconds + rampSeconds}s), more than --max-seconds ${maxSeconds}`,
  )
}
const criteria = {
  ...defaultKneeCriteria,
  p99Ms: positive('p99-ms', values['p99-ms'] ?? String(bench.p99ObjectiveMs), false),
  maxErrorRate: Number(values['max-error-rate']),
}
const sizedVus = openModelVus(plan.at(-1)?.targetRps ?? 0, criteria.p99Ms)
const vus = values.vus === undefined ? sizedVus : positive('vus', values.vus)
const maxVus =
  values['max-vus'] === undefined ? Math.max(vus, sizedVus) : positive('max-vus', values['max-vus'])
if (maxVus < vus) fail(`--max-vus (${maxVus}) must be at least --vus (${vus})`)
const codeCount = positive('codes', values.codes ?? String(bench.seedCount.knee))
const pin = values.pin === 'split'

const log = (line: string) => process.stderr.write(`${line}\n`)

async function main(): Promise<void> {
  stopChildrenOnSignal()
  const system = target === 'hello' && baseUrlFlag === undefined ? 'hello-fastify' : bench.name
  const dir = resultsDir(system, 'knee', values.out)
  const machine = await machineInfo()
  log(`knee: ${machineLine(machine)}`)
  log(
    `knee: ${plan.length} plateaus ${plan[0]?.targetRps}…${plan.at(-1)?.targetRps}/s, ${holdSeconds}s each (+${rampSeconds}s ramps) ≈ ${planSeconds}s; results in ${dir}`,
  )

  // k6 is built on first use (minutes on a cold Go cache), before anything is started.
  await ensureK6()
  let running: RunningSystem
  if (baseUrlFlag !== undefined) running = externalSystem(baseUrlFlag, target === 'hello' ? null : '/metrics')
  else {
    log(`knee: starting ${system} on port ${port}${pin ? ' (pinned to CPU 1)' : ''}`)
    const options = { port, logDir: dir, ...(pin ? { cpus: '1' } : {}) }
    running =
      target === 'hello'
        ? await startHello(options)
        : await bench.start({
            ...options,
            worker: !values['no-worker'],
            viaToxiproxy: values['via-toxiproxy'],
            env: { LOG_LEVEL: values['log-level'] ?? 'warn' },
          })
  }

  try {
    let codesFile: string | undefined
    if (pathTemplate.includes('{code}')) {
      const codes = await bench.seed(running.baseUrl, codeCount, (line) => log(`knee: ${line}`))
      codesFile = join(dir, 'codes.json')
      writeFileSync(codesFile, JSON.stringify(codes))
    }

    const sampler = new Sampler({
      ...(running.metricsUrl ? { metricsUrl: running.metricsUrl, systemMetrics: bench.metrics } : {}),
      ...(running.pgApplicationPattern ? { pgApplicationPattern: running.pgApplicationPattern } : {}),
      // The hello-world touches neither Redis nor Postgres: their samples would only be noise.
      ...(target === 'hello' && baseUrlFlag === undefined ? { redisUrl: null, databaseUrl: null } : {}),
      maxSamples: Math.ceil(planSeconds + 120),
      onSample: progress,
    })
    if (running.api) sampler.watch('api', running.api.pid, { mainThread: true })
    if (running.worker) sampler.watch('worker', running.worker.pid)
    await sampler.start()
    // The seeding's side work (the shortener's clicks through Kafka to its worker) may still run.
    const settled = await sampler.settle(
      ['api', 'worker', 'postgres', 'kafka', 'redis', 's3', 'other'],
      0.3,
      30_000,
    )
    log(
      `knee: settled after ${(settled.waitedMs / 1000).toFixed(1)} s (system CPU ${num(settled.cores, 2)} cores)`,
    )

    const csvPath = join(dir, 'k6-samples.csv')
    log(`knee: ramping (k6 ${bench.scripts.stepRamp})`)
    const run = await runK6({
      script: join(repoRoot, bench.scripts.stepRamp),
      cwd: repoRoot,
      env: {
        BASE_URL: running.baseUrl,
        TARGET_PATH: pathTemplate,
        ...(codesFile ? { CODES_FILE: codesFile } : {}),
        START_RATE: String(plan[0]?.targetRps),
        STEP: String(positive('step', values.step)),
        STEPS: String(plan.length),
        STEP_DURATION: `${holdSeconds}s`,
        RAMP_DURATION: `${rampSeconds}s`,
        VUS: String(vus),
        MAX_VUS: String(maxVus),
        ABORT_P99_MS: String(positive('abort-p99-ms', values['abort-p99-ms'], false)),
      },
      csvPath,
      systemTags: k6SystemTags,
      summaryPath: join(dir, 'k6-summary.json'),
      logFile: join(dir, 'k6.log'),
      ...(pin ? { cpus: '0' } : {}),
      gogc: 400,
      timeoutMs: (planSeconds + 180) * 1000,
      signal: interrupted.signal,
      onSpawn: (pid) => sampler.watch('k6', pid),
    })
    const raw = await sampler.stop()
    const workerExit = running.worker?.exitCode()
    await running.stop()
    if (run.exitCode !== 0 && run.exitCode !== 99) {
      fail(`k6 exited with code ${run.exitCode}; see ${join(dir, 'k6.log')}`)
    }

    log(`knee: reading ${(statSync(csvPath).size / 2 ** 20).toFixed(0)} MB of k6 samples`)
    const aggregator = new StepAggregator()
    await streamK6Csv(csvPath, ['http_req_duration', 'dropped_iterations'], (s) => aggregator.add(s))
    if (!values['keep-raw']) rmSync(csvPath)
    const steps = aggregator.steps(plan)
    const knee = findKnee(steps, criteria)
    const samples = withDropped(deriveSamples(raw, bench.metrics), aggregator.droppedBySecond())
    const window = kneeWindow(steps, knee, rampSeconds, run.endedAtMs)
    const attribution = attributeSaturation(samples, window, { systemSignals: bench.signals })
    const otherCores = meanCpuByGroup(samples, window).other ?? 0
    const interruptions = infraInterruptions(samples)
    const rows = stepRows(steps, knee, samples)

    const report = {
      schema: 'faultline.knee/1',
      system,
      target: baseUrlFlag !== undefined ? 'external' : target === 'hello' ? 'hello' : bench.name,
      baseUrl: running.baseUrl,
      path: pathTemplate,
      command: `node packages/bench/src/knee.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine,
      pinning: pin ? 'k6 on CPU 0, server on CPU 1 (taskset)' : 'none',
      connections: values['via-toxiproxy'] ? 'through Toxiproxy' : 'direct',
      plan: { steps: plan, holdSeconds, rampSeconds },
      criteria,
      k6: {
        exitCode: run.exitCode,
        requests: aggregator.requests,
        dropped: aggregator.droppedTotal(),
        vus,
        maxVus,
      },
      knee,
      attribution,
      otherCoresInKneeWindow: otherCores,
      workerExited: workerExit !== undefined,
      infraInterruptions: interruptions,
      steps: steps.map((s, i) => ({ ...s, resources: rows[i]?.resources })),
      perSecond: aggregator.perSecond(),
      samples,
      samplerErrors: Object.fromEntries(sampler.errors),
    }
    writeJson(join(dir, 'knee.json'), report)
    const md = renderMarkdown(report, rows)
    writeFileSync(join(dir, 'knee.md'), md)
    process.stdout.write(
      `\n${textTable(
        tableHeaders(),
        rows.map((r) => r.cells),
      )}\n\n${verdictLines(knee, attribution, otherCores).join('\n')}\n`,
    )
    for (const line of interruptionLines(interruptions)) process.stdout.write(`${line}\n`)
    if (workerExit !== undefined) {
      process.stdout.write(
        `Warning: the worker exited (code ${workerExit}) during the run: see ${running.worker?.logFile}\n`,
      )
    }
    linkLatest(dir)
    process.stdout.write(`\nwrote ${join(dir, 'knee.json')} and knee.md\n`)
  } finally {
    await running.stop()
    await stopAll()
  }
}

let lastProgress = 0
let previous: RawSample | undefined
function progress(sample: RawSample): void {
  const prev = previous
  previous = sample
  if (prev === undefined || sample.tMs - lastProgress < 5000) return
  lastProgress = sample.tMs
  const [d] = deriveSamples([prev, sample], bench.metrics)
  if (d === undefined) return
  const own = bench.stepColumns.map(([id]) => `  ${id} ${num(d.system[id] ?? null)}`).join('')
  log(
    `  ${new Date(sample.tMs).toISOString().slice(11, 19)}  service ${num(d.serviceCpu, 2)} cores  k6 ${num(d.k6Cpu, 2)}  machine ${pct(d.hostCpu, 0)}  redis ${num(d.redisCpu, 2)} (${num(d.redisOpsPerSec)} ops/s)  pool waiting ${num(d.poolWaiting)}${own}`,
  )
}

/** The generic columns, the target's own gauges (their max per plateau), then the verdict. */
const tableHeaders = () => [...genericHeaders, ...bench.stepColumns.map(([, header]) => header), 'verdict']

const genericHeaders = [
  'step',
  'target/s',
  'goodput/s',
  'p50',
  'p99',
  'errors',
  'dropped',
  'svc loop',
  'worker',
  'k6',
  'postgres',
  'kafka',
  'redis',
  's3',
  'other',
  'machine',
  'redis ops/s',
  'pg conns',
  'pool wait',
]

interface Row {
  cells: string[]
  resources: Record<string, number | null | Record<string, number>>
}

function stepRows(steps: readonly StepStats[], knee: KneeResult, samples: readonly ResourceSample[]): Row[] {
  return steps
    .filter((s) => s.requests > 0)
    .map((s) => {
      const window = { startMs: s.startMs, endMs: s.endMs }
      const mean = meanResources(samples, window)
      const groups = meanCpuByGroup(samples, window)
      const poolWaitingMax = maxResource(samples, window, 'poolWaiting')
      const own = Object.fromEntries(
        bench.stepColumns.map(([id]) => [`${id}Max`, maxResource(samples, window, { system: id })]),
      )
      const verdict = knee.verdicts.find((v) => v.step === s.step)
      const mark =
        s.step === knee.kneeStep
          ? 'KNEE'
          : s.step === knee.lastGoodStep
            ? 'max ok'
            : verdict?.ok
              ? 'ok'
              : 'over'
      return {
        cells: [
          s.step,
          String(s.targetRps),
          num(s.achievedRps),
          ms(s.latency.p50Ms),
          ms(s.latency.p99Ms),
          pct(s.errorRate, 2),
          String(s.dropped),
          num(mean.serviceCpu, 2),
          num(groups.worker, 2),
          num(groups.k6, 2),
          num(groups.postgres, 2),
          num(groups.kafka, 2),
          num(mean.redisCpu, 2),
          num(groups.s3, 2),
          num(groups.other, 2),
          pct(mean.hostCpu, 0),
          num(mean.redisOpsPerSec),
          num(mean.pgConnections, 1),
          num(poolWaitingMax),
          ...bench.stepColumns.map(([id]) => num(own[`${id}Max`] ?? null)),
          mark,
        ],
        resources: { ...mean, poolWaitingMax, ...own, cpuByGroup: groups } as Row['resources'],
      }
    })
}

function verdictLines(knee: KneeResult, attribution: Attribution, otherCores: number): string[] {
  const lines: string[] = []
  if (knee.maxSustainableRps === null) {
    const reasons = knee.verdicts[0]?.reasons.join('; ') ?? 'no step ran'
    const advice = /errors 100\.00%/.test(reasons)
      ? 'Every request failed: is the server up, and is --path right? See k6.log.'
      : 'Lower --start-rate.'
    lines.push(`Max sustainable: none — the first plateau already failed (${reasons}). ${advice}`)
  } else {
    lines.push(
      `Max sustainable: ${knee.maxSustainableRps.toFixed(0)} req/s with p99 ≤ ${knee.criteria.p99Ms} ms (step ${knee.lastGoodStep})` +
        (knee.kneeAboveRange ? ' — every plateau passed: the knee is higher; raise --max-rate.' : ''),
    )
  }
  if (knee.kneeStep !== null) {
    const reasons = knee.verdicts.find((v) => v.step === knee.kneeStep)?.reasons.join('; ')
    lines.push(`Knee: step ${knee.kneeStep} (${reasons})`)
  }
  if (knee.blips.length > 0)
    lines.push(`Blips (one failed plateau, then a good one): ${knee.blips.join(', ')}`)
  const s = attribution.saturated
  if (s !== null) {
    lines.push(
      `Saturated first: ${s.component} — over ${s.threshold} ${s.unit} from ${new Date(s.crossedAtMs as number).toISOString().slice(11, 19)}, peak ${num(s.peakInWindow, 2)} in the knee window`,
    )
  } else {
    const n = attribution.nearest
    lines.push(
      `Saturated first: none of the watched components crossed its threshold in the knee window` +
        (n === null
          ? ''
          : (n.peakRatio as number) > 1
            ? `; nearest: ${n.component}, over its threshold only in passing (peak ${pct(n.peakRatio, 0)} of it, never ${attribution.sustain} s in a row)`
            : `; nearest: ${n.component} at ${pct(n.peakRatio, 0)} of its threshold`) +
        '. Suspect what is not watched (the network stack, GC pauses) or several components sharing the cores.',
    )
  }
  const others = attribution.signals.filter((x) => x.crossedAtMs !== null && x !== s)
  for (const o of others) {
    lines.push(
      `  also crossed: ${o.component} from ${new Date(o.crossedAtMs as number).toISOString().slice(11, 19)}`,
    )
  }
  if (otherCores >= 0.15) {
    lines.push(
      `Warning: processes outside this run used ${otherCores.toFixed(2)} cores in the knee window; on a quiet machine the knee is higher. Rerun when nothing else runs.`,
    )
  }
  return lines
}

function interruptionLines(interruptions: readonly Interruption[]): string[] {
  return interruptions.map(
    (i) =>
      `Warning: ${i.group} had no process running from ${new Date(i.fromMs).toISOString().slice(11, 19)} to ${new Date(i.toMs).toISOString().slice(11, 19)} (down or restarted, not by this run): what the samples show around it is its consequence.`,
  )
}

function renderMarkdown(
  report: {
    system: string
    command: string
    machine: Awaited<ReturnType<typeof machineInfo>>
    pinning: string
    knee: KneeResult
    attribution: Attribution
    otherCoresInKneeWindow: number
    infraInterruptions: Interruption[]
    baseUrl: string
    path: string
  },
  rows: Row[],
): string {
  const m = report.machine
  const signals = report.attribution.signals.map((s) => [
    s.component,
    `${s.threshold} ${s.unit}`,
    s.measured ? 'yes' : 'no',
    s.crossedAtMs === null ? '-' : new Date(s.crossedAtMs).toISOString().slice(11, 19),
    num(s.peakInWindow, 2),
    num(s.meanInWindow, 2),
  ])
  return `# Knee: ${report.system} (${report.path})

${[
  ...verdictLines(report.knee, report.attribution, report.otherCoresInKneeWindow),
  ...interruptionLines(report.infraInterruptions),
]
  .map((l) => `- ${l.trim()}`)
  .join('\n')}

- Command: \`${report.command}\`
- Date: ${m.date}
- Machine: ${machineLine(m)}
- Pinning: ${report.pinning}
- Target: ${report.baseUrl}${report.path}

## Steps

A plateau is sustained when p99 ≤ ${report.knee.criteria.p99Ms} ms, errors ≤ ${pct(report.knee.criteria.maxErrorRate, 1)} and goodput ≥ ${pct(report.knee.criteria.minAchievedRatio, 0)} of the target. CPU columns are mean cores over the plateau: "svc loop" is the API's event-loop thread, "redis" Redis's main thread, "postgres" all Postgres processes (primary and replica), "kafka" the broker's JVM, "s3" the S3 server (versitygw), "other" every process that is not part of this run (another test on the same machine shows up here); "machine" is the share of all ${m.cores} cores busy.

${markdownTable(
  tableHeaders(),
  rows.map((r) => r.cells),
)}

## Saturation signals (knee window)

${markdownTable(['component', 'threshold', 'measured', 'crossed at', 'peak', 'mean'], signals)}

The first signal to stay over its threshold for ${report.attribution.sustain} consecutive seconds, among those over it between the ramp into the last sustained plateau and the end of the knee plateau, is reported as the component that saturated first.
`
}

main().catch(async (err: unknown) => {
  process.stderr.write(`knee: ${(err as Error).stack ?? String(err)}\n`)
  await stopAll()
  process.exit(1)
})
