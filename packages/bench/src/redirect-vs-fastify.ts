#!/usr/bin/env node
/**
 * The benchmark of a system against the bare Fastify ceiling (a measurement, not a test: it prints
 * whether the targets were met and never fails on them). The system is a BenchTarget
 * (services/<system>/src/bench-target.ts, see target.ts; `--system`, default the shortener, whose
 * request is the redirect of a cached code). In one run, with the same load generator and the
 * same script (the target's throughput script), it measures:
 *
 *   1. the maximum throughput of a bare Fastify hello-world (hello-fastify.ts) and of the
 *      system's request — for the shortener a cache hit that records a click into the spool
 *      while the Kafka producer and the click worker run — with the same closed-model load
 *      (--vus virtual users, each sending its next request when the previous answered), in
 *      alternating rounds so that drift of a shared machine hits both alike; the ratio of the two
 *      is the price of the system's features over the framework itself (the target's ratio, 0.6
 *      for the shortener);
 *   2. the system's latency at half its maximum (open model, constant arrival rate): the
 *      p99 target is the target's objective (≤ 10 ms for the shortener). The hello-world runs at
 *      the same rate first: its p99 is the floor
 *      of the generator and the machine at that rate, measured in the same run. This is measured
 *      with k6 and again with vegeta (--generators): k6's open model costs more than a core at
 *      the rates a 2-core machine serves, so there its floor is above the target and it measures
 *      itself; vegeta offers the same rate on about half a core. Both are reported.
 *
 *   node packages/bench/src/redirect-vs-fastify.ts
 *   node packages/bench/src/redirect-vs-fastify.ts --system shortener --vus 64 --duration 20 --rounds 3 --pin split
 *
 * Writes results/<system>/bench/<timestamp>/{bench.json,bench.md}.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ensureK6, repoRoot } from '@faultline/infra'
import { type K6Summary, k6Version, runK6 } from '@faultline/measure'
import { interrupted, stopAll, stopChildrenOnSignal } from './children.ts'
import { failWith, positiveFlag } from './cli-args.ts'
import { cpuMicrosPerRequest, formatCpuCost } from './cpu-cost.ts'
import { machineInfo, machineLine } from './machine.ts'
import { droppedShare, meetsLatencyTarget, openModelVus, type RunStats } from './open-model.ts'
import { linkLatest, markdownTable, ms, num, pct, resultsDir, textTable, writeJson } from './report.ts'
import { Sampler } from './sampler.ts'
import {
  deriveSamples,
  infraInterruptions,
  meanCpuByGroup,
  meanResources,
  type RawSample,
} from './saturation.ts'
import { helloPort, startHello } from './servers.ts'
import { type BenchTarget, loadBenchTarget, type RunningSystem } from './target.ts'
import { runVegeta, vegetaVersion } from './vegeta-run.ts'

const usage = `Usage: node packages/bench/src/redirect-vs-fastify.ts [options]

Measures a system's request (the shortener's: a redirect of a cached code, click recorded)
against a bare Fastify hello-world with the same k6 script and settings, prints req/s of each, the
ratio (target: the system's, ≥ 0.6 for the shortener) and p50/p99, then the system's p99 at half
its maximum (target: the system's objective, ≤ 10 ms) next to the hello-world's at the same rate
(the generator's floor on this machine), with k6 and with vegeta (a lighter open-model generator,
built on first use from the Go module proxy).

  --system NAME      the system, as in services/NAME (its src/bench-target.ts); default shortener
  --vus N            closed-model virtual users for the maximum runs (default 32)
  --duration N       seconds measured per run (default 15)
  --warmup N         seconds of load before each measured run, not counted (default 3)
  --rounds N         hello/system pairs, alternating order (default 2)
  --codes N          seeded keys the system's runs cycle through (default: the system's, 100)
  --pin none|split   split: the load generator on CPU 0, both servers on CPU 1 (default none)
  --log-level L      the system's LOG_LEVEL (default warn: no per-request log lines)
  --via-toxiproxy    connect the system through Toxiproxy (default: direct ports)
  --p99-ms N         latency target at half the max (default: the system's, 10)
  --generators LIST  generators for the half-max runs, comma-separated: k6, vegeta (default both)
  --target-ratio F   throughput ratio target (default: the system's, 0.6)
  --out DIR          results root (default <repo>/results)
  -h, --help`

const { values } = parseArgs({
  options: {
    system: { type: 'string', default: 'shortener' },
    vus: { type: 'string', default: '32' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    codes: { type: 'string' },
    pin: { type: 'string', default: 'none' },
    'log-level': { type: 'string', default: 'warn' },
    'via-toxiproxy': { type: 'boolean', default: false },
    'p99-ms': { type: 'string' },
    generators: { type: 'string', default: 'k6,vegeta' },
    'target-ratio': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

const fail = failWith('bench')

if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const positive = (name: string, raw: string | undefined, integer = true) =>
  positiveFlag(fail, name, raw, integer)

const bench: BenchTarget = await loadBenchTarget(values.system ?? 'shortener').catch((err: Error) =>
  fail(err.message),
)
const vus = positive('vus', values.vus)
const durationS = positive('duration', values.duration)
const warmupS = positive('warmup', values.warmup)
const rounds = positive('rounds', values.rounds)
const codeCount = positive('codes', values.codes ?? String(bench.seedCount.bench))
const p99TargetMs = positive('p99-ms', values['p99-ms'] ?? String(bench.p99ObjectiveMs), false)
const targetRatio = positive(
  'target-ratio',
  values['target-ratio'] ?? String(bench.ceiling.targetRatio),
  false,
)
if (values.pin !== 'none' && values.pin !== 'split') fail(`--pin must be none or split, got ${values.pin}`)
const pin = values.pin === 'split'
type Generator = 'k6' | 'vegeta'
const halfMaxGenerators = [...new Set((values.generators ?? '').split(',').map((g) => g.trim()))].filter(
  (g) => g !== '',
) as Generator[]
if (halfMaxGenerators.length === 0 || halfMaxGenerators.some((g) => g !== 'k6' && g !== 'vegeta'))
  fail(`--generators must list k6 and/or vegeta, got ${values.generators}`)
if ((durationS + warmupS) * (2 * rounds + 2 * halfMaxGenerators.length) > 600)
  fail('the runs would take more than 10 minutes; shorten them')

const log = (line: string) => process.stderr.write(`${line}\n`)

/** Mean cores used by processes outside the benchmark above which a run is flagged. */
const otherCoresLimit = 0.15
const script = join(repoRoot, bench.scripts.throughput)
/** The two servers of every comparison: the hello-world ceiling and the system. */
type Server = 'hello' | 'system'
/** How a server is named in logs, labels and reports (the system by its own name). */
const serverName = (server: Server) => (server === 'hello' ? 'hello' : bench.name)

interface RunResult extends RunStats {
  server: Server
  /** `hello`, or the system's name. */
  name: string
  scenario: 'max' | 'rate'
  generator: Generator
  round: number
  rps: number
  exitCode: number | null
  /** Means over the measured part: server event-loop thread, server process, load generator, machine. */
  cpu: {
    serverMainThread: number | null
    serverProcess: number | null
    generator: number | null
    machine: number | null
  }
  /** Mean cores per process group over the measured part (see proc.ts cpuGroup). */
  cpuByGroup: Record<string, number>
  /** How long the run waited for the previous one's work to drain, and the CPU level it saw. */
  settled: { waitedMs: number; cores: number }
  /** Processes outside this benchmark used ≥ 0.15 cores during the run: its numbers are low. */
  contaminated: boolean
  /** The system only: how much each of its counters (the target's `metrics`) grew during the run. */
  counters?: Record<string, number | null>
}

function measureStats(summary: K6Summary | undefined): RunStats {
  const measure = summary?.scenarios.measure
  const d = measure?.durationMs ?? {}
  const dropped = summary?.metrics['dropped_iterations{scenario:measure}']?.values.count ?? 0
  return {
    requests: measure?.reqs ?? 0,
    failedRate: measure?.failedRate ?? 1,
    dropped,
    p50Ms: d.med ?? null,
    p90Ms: d.p90 ?? null,
    p99Ms: d.p99 ?? null,
    p999Ms: d.p999 ?? null,
    maxMs: d.max ?? null,
  }
}

/** What a run that produced no statistics counts as: everything failed. */
const failedStats: RunStats = {
  requests: 0,
  failedRate: 1,
  dropped: 0,
  p50Ms: null,
  p90Ms: null,
  p99Ms: null,
  p999Ms: null,
  maxMs: null,
}

function counterDelta(raw: readonly RawSample[], fromMs: number, toMs: number, key: string) {
  const inside = raw.filter((s) => s.tMs >= fromMs && s.tMs <= toMs && s.metrics?.[key] !== undefined)
  const first = inside[0]?.metrics?.[key]
  const last = inside.at(-1)?.metrics?.[key]
  return first === undefined || last === undefined ? null : last - first
}

async function main(): Promise<void> {
  stopChildrenOnSignal()
  const dir = resultsDir(bench.name, 'bench', values.out)
  const machine = await machineInfo()
  log(`bench: ${machineLine(machine)}`)
  log(`bench: results in ${dir}`)
  const cpus = pin ? { cpus: '1' } : {}
  // k6 is built on first use (minutes on a cold Go cache), before anything is started.
  await ensureK6()
  const hello = await startHello({ port: helloPort, logDir: dir, ...cpus })
  let system: RunningSystem | undefined
  try {
    system = await bench.start({
      port: bench.port,
      logDir: dir,
      ...cpus,
      viaToxiproxy: values['via-toxiproxy'],
      env: { LOG_LEVEL: values['log-level'] ?? 'warn' },
    })
    const codes = await bench.seed(system.baseUrl, codeCount, (line) => log(`bench: ${line}`))
    const codesFile = join(dir, 'codes.json')
    writeFileSync(codesFile, JSON.stringify(codes))

    const sampler = new Sampler({
      ...(system.metricsUrl ? { metricsUrl: system.metricsUrl, systemMetrics: bench.metrics } : {}),
      ...(system.pgApplicationPattern ? { pgApplicationPattern: system.pgApplicationPattern } : {}),
      maxSamples: 1200,
    })
    if (hello.api) sampler.watch('hello', hello.api.pid, { mainThread: true })
    if (system.api) sampler.watch(bench.name, system.api.pid, { mainThread: true })
    if (system.worker) sampler.watch('worker', system.worker.pid)
    await sampler.start()
    // 'other' too: a test someone runs on the same machine takes CPU from whichever run it overlaps.
    const settleGroups = ['hello', bench.name, 'worker', 'postgres', 'kafka', 'redis', 's3', 'other']

    const systemPath = (code: string) => bench.path.replaceAll('{code}', code)
    const targets = {
      hello: { baseUrl: hello.baseUrl, env: { TARGET_PATH: '/' } },
      system: { baseUrl: system.baseUrl, env: { TARGET_PATH: bench.path, CODES_FILE: codesFile } },
    }
    const runs: RunResult[] = []
    const vegetaUrls = {
      hello: [`${hello.baseUrl}/`],
      system: bench.path.includes('{code}')
        ? codes.map((code) => `${system?.baseUrl}${systemPath(code)}`)
        : [`${system.baseUrl}${bench.path}`],
    }
    const runOne = async (
      server: Server,
      scenario: 'max' | 'rate',
      round: number,
      extra: Record<string, string>,
      generator: Generator = 'k6',
    ): Promise<RunResult> => {
      const name = serverName(server)
      const label = `${name}-${scenario}-${round}${generator === 'k6' ? '' : `-${generator}`}`
      // Start every run from a quiet machine: the previous run's work (the shortener's clicks) may still be flowing
      // through Kafka, the worker and Postgres, and that CPU would be taken from this run.
      const settled = await sampler.settle(settleGroups, 0.3, 60_000)
      const result =
        generator === 'vegeta'
          ? await runVegeta({
              urls: vegetaUrls[server],
              rate: Number(extra.RATE),
              workers: Number(extra.VUS),
              durationS,
              warmupS,
              dir,
              label,
              ...(pin ? { cpus: '0' } : {}),
              onStart: (child) => sampler.watch(generator, child.pid),
            })
          : await runK6({
              script,
              cwd: repoRoot,
              env: {
                BASE_URL: targets[server].baseUrl,
                ...targets[server].env,
                SCENARIO: scenario,
                DURATION: `${durationS}s`,
                WARMUP: `${warmupS}s`,
                ...extra,
              },
              summaryPath: join(dir, `k6-${label}.json`),
              logFile: join(dir, `k6-${label}.log`),
              ...(pin ? { cpus: '0' } : {}),
              gogc: 400,
              timeoutMs: (durationS + warmupS + 60) * 1000,
              signal: interrupted.signal,
              onSpawn: (pid) => sampler.watch(generator, pid),
            })
      const stats = 'summary' in result ? measureStats(result.summary) : (result.stats ?? failedStats)
      // The measured part: after k6's start-up and the warm-up, before its wind-down.
      const fromMs = result.startedAtMs + (warmupS + 1) * 1000
      const toMs = Math.max(fromMs, result.endedAtMs - 1000)
      const derived = deriveSamples(sampler.samples, bench.metrics)
      const means = meanResources(derived, { startMs: fromMs, endMs: toMs })
      const raw = sampler.samples
      const cpuOf = (key: string) => {
        const inside = raw.filter((s) => s.tMs >= fromMs && s.tMs <= toMs && s.cpuSeconds[key] !== undefined)
        const a = inside[0]
        const b = inside.at(-1)
        if (!a || !b || b.tMs <= a.tMs) return null
        return ((b.cpuSeconds[key] as number) - (a.cpuSeconds[key] as number)) / ((b.tMs - a.tMs) / 1000)
      }
      const run: RunResult = {
        server,
        name,
        scenario,
        generator,
        round,
        rps: stats.requests / durationS,
        ...stats,
        exitCode: result.exitCode,
        cpu: {
          serverMainThread: cpuOf(`${name}-main`),
          serverProcess: cpuOf(name),
          generator: cpuOf(generator),
          machine: means.hostCpu ?? null,
        },
        cpuByGroup: meanCpuByGroup(derived, { startMs: fromMs, endMs: toMs }),
        settled,
        contaminated: false,
        ...(server === 'system'
          ? {
              counters: Object.fromEntries(
                Object.entries(bench.metrics)
                  .filter(([, metric]) => metric.kind === 'counter')
                  .map(([id]) => [id, counterDelta(raw, fromMs, toMs, id)]),
              ),
            }
          : {}),
      }
      run.contaminated = (run.cpuByGroup.other ?? 0) >= otherCoresLimit
      // k6 exits 99 when a threshold failed: a result, not an error.
      if (result.exitCode !== 0 && !(generator === 'k6' && result.exitCode === 99)) {
        throw new Error(
          `${generator} exited with code ${result.exitCode} on ${label}; see ${join(dir, `${generator}-${label}.log`)}`,
        )
      }
      log(
        `bench: ${label.padEnd(18)} ${num(run.rps).padStart(6)} req/s  p50 ${ms(run.p50Ms)}  p99 ${ms(run.p99Ms)}  errors ${pct(run.failedRate, 2)}  server loop ${num(run.cpu.serverMainThread, 2)} cores  ${generator} ${num(run.cpu.generator, 2)}  machine ${pct(run.cpu.machine, 0)}` +
          (run.contaminated
            ? `  — other processes used ${num(run.cpuByGroup.other, 2)} cores: numbers are low`
            : ''),
      )
      runs.push(run)
      return run
    }

    for (let round = 1; round <= rounds; round++) {
      const order: Server[] = round % 2 === 1 ? ['hello', 'system'] : ['system', 'hello']
      for (const server of order) await runOne(server, 'max', round, { VUS: String(vus) })
    }
    const mean = (server: Server) => {
      const r = runs.filter((x) => x.server === server && x.scenario === 'max')
      return r.reduce((a, x) => a + x.rps, 0) / r.length
    }
    const helloRps = mean('hello')
    const systemRps = mean('system')
    const ratio = systemRps / helloRps
    // The same comparison per core of each server's event loop: independent of whether k6 or
    // the machine capped a run, it is the request's CPU cost relative to Fastify's floor.
    const perLoopCore = (server: Server) => {
      const r = runs.filter((x) => x.server === server && x.scenario === 'max' && x.cpu.serverMainThread)
      return r.reduce((a, x) => a + x.rps / (x.cpu.serverMainThread as number), 0) / Math.max(1, r.length)
    }
    const cpuNormalized = {
      helloRpsPerLoopCore: perLoopCore('hello'),
      systemRpsPerLoopCore: perLoopCore('system'),
      ratio: perLoopCore('system') / perLoopCore('hello'),
    }
    // Where the machine's CPU goes per request: adds up across k6, the server and the pipeline.
    const cpuCost = (server: Server) =>
      cpuMicrosPerRequest(
        runs
          .filter((x) => x.server === server && x.scenario === 'max')
          .map((x) => ({
            rps: x.rps,
            cores: {
              machine: x.cpu.machine === null ? null : x.cpu.machine * machine.cores,
              server: x.cpu.serverProcess,
              ...Object.fromEntries(
                ['k6', 'worker', 'postgres', 'kafka', 'redis', 's3', 'other'].map((g) => [
                  g,
                  x.cpuByGroup[g],
                ]),
              ),
            },
          })),
      )
    const cpuPerRequest = { hello: cpuCost('hello'), system: cpuCost('system') }
    const halfRate = Math.max(1, Math.round(systemRps / 2))
    const rateVus = openModelVus(halfRate, p99TargetMs)
    const atRate = { RATE: String(halfRate), VUS: String(rateVus), MAX_VUS: String(rateVus) }
    /** Per generator: the hello-world at half the system's max (the floor), then the system. */
    const halfMax: { generator: Generator; floor: RunResult; half: RunResult }[] = []
    for (const generator of halfMaxGenerators) {
      const floor = await runOne('hello', 'rate', 1, atRate, generator)
      const half = await runOne('system', 'rate', 1, atRate, generator)
      halfMax.push({ generator, floor, half })
    }
    await sampler.stop()

    const ratioMet = ratio >= targetRatio
    const workerExit = system.worker?.exitCode()
    const interruptions = infraInterruptions(deriveSamples(sampler.samples))
    const contaminated = runs.filter((r) => r.contaminated)
    const latency = halfMax.map(({ generator, floor, half }) => ({
      generator,
      half,
      floor,
      p99Met: meetsLatencyTarget(half, halfRate, durationS, p99TargetMs),
      floorMet: meetsLatencyTarget(floor, halfRate, durationS, p99TargetMs),
    }))
    const generatorVersions = {
      k6: k6Version(),
      ...(halfMaxGenerators.includes('vegeta') ? { vegeta: vegetaVersion() } : {}),
    }
    const report = {
      schema: 'faultline.redirect-bench/2',
      system: bench.name,
      request: bench.request,
      command: `node packages/bench/src/redirect-vs-fastify.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine,
      settings: {
        vus,
        durationS,
        warmupS,
        rounds,
        codes: codeCount,
        pinning: pin ? 'load generator on CPU 0, servers on CPU 1 (taskset)' : 'none',
        systemLogLevel: values['log-level'],
        connections: values['via-toxiproxy'] ? 'through Toxiproxy' : 'direct',
        k6: `${bench.scripts.throughput}, SCENARIO=max (constant-vus) and SCENARIO=rate (constant-arrival-rate), GOGC=400`,
        halfMaxGenerators,
        generatorVersions,
      },
      results: {
        contaminatedRuns: contaminated.length,
        workerExited: workerExit !== undefined,
        infraInterruptions: interruptions,
        helloRps,
        systemRps,
        ratio,
        targetRatio,
        ratioMet,
        cpuNormalized,
        cpuPerRequestMicros: cpuPerRequest,
        halfMaxRate: halfRate,
        halfMaxWorkers: rateVus,
        p99TargetMs,
        /** Per generator: the system at half its max, and the hello-world at that rate (the floor). */
        halfMax: latency.map((l) => ({
          generator: l.generator,
          p50Ms: l.half.p50Ms,
          p99Ms: l.half.p99Ms,
          failedRate: l.half.failedRate,
          dropped: l.half.dropped,
          droppedShare: droppedShare(l.half, halfRate, durationS),
          p99Met: l.p99Met,
          floor: {
            p50Ms: l.floor.p50Ms,
            p99Ms: l.floor.p99Ms,
            dropped: l.floor.dropped,
            droppedShare: droppedShare(l.floor, halfRate, durationS),
            met: l.floorMet,
          },
        })),
      },
      runs,
    }
    writeJson(join(dir, 'bench.json'), report)
    const headers = [
      'run',
      'req/s',
      'dropped',
      'p50',
      'p90',
      'p99',
      'errors',
      'server loop',
      'server proc',
      'worker',
      'generator',
      'postgres',
      'kafka',
      'redis',
      's3',
      'other',
      'machine',
      ...bench.runCounters.map(([, header]) => header),
    ]
    const rows = runs.map((r) => [
      `${r.name} ${r.scenario === 'max' ? `max #${r.round}` : `at ${halfRate}/s`} (${r.generator})`,
      num(r.rps),
      r.scenario === 'rate' ? pct(droppedShare(r, halfRate, durationS), 1) : '-',
      ms(r.p50Ms),
      ms(r.p90Ms),
      ms(r.p99Ms),
      pct(r.failedRate, 2),
      num(r.cpu.serverMainThread, 2),
      num(r.cpu.serverProcess, 2),
      num(r.cpuByGroup.worker, 2),
      num(r.cpu.generator, 2),
      num(r.cpuByGroup.postgres, 2),
      num(r.cpuByGroup.kafka, 2),
      num(r.cpuByGroup.redis, 2),
      num(r.cpuByGroup.s3, 2),
      num(r.cpuByGroup.other, 2),
      pct(r.cpu.machine, 0),
      ...bench.runCounters.map(([id]) => (r.counters ? num(r.counters[id] ?? null) : '-')),
    ])
    const verdict = [
      `Bare Fastify hello-world: ${num(helloRps)} req/s; ${bench.name}, ${bench.request}: ${num(systemRps)} req/s`,
      `Ratio: ${ratio.toFixed(2)}× (target ≥ ${targetRatio}×) — ${ratioMet ? 'MET' : 'NOT MET'}`,
      `Per core of event loop: hello ${num(cpuNormalized.helloRpsPerLoopCore)} req/s, ${bench.name} ${num(cpuNormalized.systemRpsPerLoopCore)} req/s — ${cpuNormalized.ratio.toFixed(2)}× (the request's CPU cost relative to Fastify's, whoever capped the runs)`,
      `Machine CPU per request (µs, max runs): hello ${formatCpuCost(cpuPerRequest.hello)}; ${bench.name} ${formatCpuCost(cpuPerRequest.system)}`,
      ...latency.flatMap((l) => [
        `p99 at half the max with ${l.generator} (${halfRate}/s offered, ${rateVus} ${l.generator === 'k6' ? 'VUs' : 'workers'}): ${ms(l.half.p99Ms)} (p50 ${ms(l.half.p50Ms)}, errors ${pct(l.half.failedRate, 2)}, not sent on time ${pct(droppedShare(l.half, halfRate, durationS), 1)}; target ≤ ${p99TargetMs} ms with ≤ 1% errors and ≤ 1% not sent) — ${l.p99Met ? 'MET' : 'NOT MET'}`,
        `${l.generator}'s floor at the same rate (hello-world): p99 ${ms(l.floor.p99Ms)} (p50 ${ms(l.floor.p50Ms)}, not sent on time ${pct(droppedShare(l.floor, halfRate, durationS), 1)})${l.floorMet ? '' : ` — ${l.generator} and this machine cannot offer ${halfRate}/s within the target even to a hello-world, so the system's figure with it is bounded by them`}`,
      ]),
      ...(contaminated.length > 0
        ? [
            `Warning: processes outside the benchmark used ≥ ${otherCoresLimit} cores during ${contaminated.length} run(s) (${contaminated.map((r) => `${r.name}-${r.scenario}-${r.round}`).join(', ')}): rerun on a quiet machine`,
          ]
        : []),
      ...interruptions.map(
        (i) =>
          `Warning: ${i.group} had no process running from ${new Date(i.fromMs).toISOString().slice(11, 19)} to ${new Date(i.toMs).toISOString().slice(11, 19)} (down or restarted by something else): runs overlapping it are not representative`,
      ),
      ...(workerExit !== undefined
        ? [
            `Warning: the worker exited (code ${workerExit}) during the benchmark, so its work was not consumed: see ${system.worker?.logFile}`,
          ]
        : []),
    ]
    process.stdout.write(`\n${textTable(headers, rows)}\n\n${verdict.join('\n')}\n`)
    const md = `# Benchmark: ${bench.name} vs bare Fastify

${verdict.map((v) => `- ${v}`).join('\n')}

- Command: \`${report.command}\`
- Date: ${machine.date}
- Machine: ${machineLine(machine)}
- Request: ${bench.request}
- Load: k6 \`${bench.scripts.throughput}\`; maximum = closed model, ${vus} VUs for ${durationS} s after a ${warmupS} s warm-up, ${rounds} alternating round(s) per server, mean reported; half max = constant arrival rate ${halfRate}/s for ${durationS} s after a ${warmupS} s warm-up with ${rateVus} VUs or workers (rate × p99 target, see \`openModelVus\`), hello-world first as the generator's floor, with ${halfMaxGenerators.join(' and ')} (${Object.values(generatorVersions).join('; ')}); vegeta does not follow redirects and counts 3xx as success, like the k6 script.
- Pinning: ${report.settings.pinning}. The load generator, both servers, Redis, Kafka and Postgres share the ${machine.cores} cores.
- ${bench.name}: LOG_LEVEL=${values['log-level']}, ${report.settings.connections} connections to Redis/Postgres/Kafka, worker running; requests cycle over ${codeCount} seeded, warmed keys.

${markdownTable(headers, rows)}

CPU columns are mean cores over the measured part: "generator" is the load generator named in the run column, "server loop" is the server's main (event-loop) thread, "server proc" the whole server process, "worker" the system's background worker, "postgres" every Postgres process (primary and replica), "kafka" the broker's JVM, "s3" the S3 server (versitygw), "other" every process not part of this run (another test on the machine shows up there); "machine" is the share of all cores busy. Each run waited for the previous run's background work to drain first (see bench.json \`settled\`).
`
    writeFileSync(join(dir, 'bench.md'), md)
    linkLatest(dir)
    process.stdout.write(`\nwrote ${join(dir, 'bench.json')} and bench.md\n`)
  } finally {
    await system?.stop()
    await hello.stop()
    await stopAll()
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
  await stopAll()
  process.exit(1)
})
