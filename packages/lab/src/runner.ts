/**
 * `runExperiment`: for each mode (naive, then hardened) — clean state, fresh service processes
 * with the mode's switches, setup, k6 load with the fault timeline, heal, settle, invariants —
 * then the verdict and the results directory. Every fault is healed and every child process
 * stopped whatever happens (an error, Ctrl-C through the abort signal).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import pg from 'pg'
import { Balancer } from './balancer.ts'
import { catalogRow } from './catalog.ts'
import {
  modes as allModes,
  type Experiment,
  type HookContext,
  type Mode,
  mitigationsFor,
  resolveVariant,
} from './experiment.ts'
import { ToxiproxyApi } from './faults/toxiproxy.ts'
import { type InfraControl, type InfraMode, infraControl, infraModeFrom } from './infra.ts'
import { evaluateInvariants, type RunContext, resolveWindow } from './invariants.ts'
import { k6Binary, runK6, toLedgerEntry } from './k6.ts'
import { Ledger } from './ledger.ts'
import { machineInfo } from './machine.ts'
import { MetricsView, readinessSeries, type Scrape, scrapeInstance } from './metrics-scrape.ts'
import { defaultResultsDir, labStateDir, repoRoot } from './paths.ts'
import { createProgress, type Progress, silentProgress } from './progress.ts'
import { writeResults } from './report/index.ts'
import { computeVerdict } from './report/verdict.ts'
import { type ServiceFleet as Fleet, resolveService, ServiceFleet, tail } from './services.ts'
import { type ModeSummary, type Summary, statsOf, summarySchema } from './summary.ts'
import { errorText, faultWindows, Timeline, type TimelineEvent } from './timeline.ts'
import { perSecond, quantile } from './timeseries.ts'

export interface RunOptions {
  /** Run the short CI variant (the experiment's `ci` overrides). */
  ci?: boolean
  /** Default `both` (naive then hardened). */
  mode?: Mode | 'both'
  /** Base results dir (default `<repo>/results`); `false` writes no files (logs go to a temp dir). */
  out?: string | false
  /** Default: `FAULTLINE_INFRA`, else native. */
  infra?: InfraMode
  /** `true` prints progress to stderr; default silent. */
  progress?: Progress | boolean
  /** Abort to stop early: faults are healed and services stopped, the partial run is reported. */
  signal?: AbortSignal
  /** The command shown in the report as the way to regenerate it. */
  command?: string
}

export class LabRunError extends Error {
  override name = 'LabRunError'
  readonly summary: Summary
  constructor(message: string, summary: Summary) {
    super(message)
    this.summary = summary
  }
}

/** The results dir for one run: `<base>/<system>/<id>-<slug>/<2026-01-31T12-00-00Z>`. */
export function runDirFor(base: string, exp: Experiment, date: Date): string {
  const stamp = date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-')
  return join(base, exp.system, `${exp.id}-${exp.slug}`, stamp)
}

export function defaultCommand(exp: Experiment, options: Pick<RunOptions, 'ci' | 'mode'>): string {
  const parts = ['./faultline lab run', exp.name]
  if (options.ci) parts.push('--ci')
  if (options.mode && options.mode !== 'both') parts.push('--mode', options.mode)
  return parts.join(' ')
}

/** One lab run at a time: faults on shared infra would collide. */
function acquireLock(): () => void {
  mkdirSync(labStateDir, { recursive: true })
  const file = join(labStateDir, 'run.lock')
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim())
    let alive = false
    try {
      if (pid > 0) process.kill(pid, 0)
      alive = pid > 0
    } catch {}
    if (alive && pid !== process.pid) {
      throw new Error(
        `another lab run is in progress (pid ${pid}); its faults would collide with this one (${file})`,
      )
    }
  }
  writeFileSync(file, String(process.pid))
  return () => rmSync(file, { force: true })
}

interface Clients {
  pg: pg.Pool
  redis: Redis
  queueRedis: Redis
  toxiproxy: ToxiproxyApi
  close(): Promise<void>
}

function createClients(infra: InfraControl): Clients {
  const direct = infra.directEnv()
  const pool = new pg.Pool({ connectionString: direct.DATABASE_URL, max: 6, connectionTimeoutMillis: 5000 })
  pool.on('error', () => {})
  const redisOptions = { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 3000 }
  const redis = new Redis(direct.REDIS_URL ?? 'redis://127.0.0.1:16379', redisOptions)
  const queueRedis = new Redis(direct.QUEUE_REDIS_URL ?? 'redis://127.0.0.1:16380', redisOptions)
  redis.on('error', () => {})
  queueRedis.on('error', () => {})
  return {
    pg: pool,
    redis,
    queueRedis,
    toxiproxy: new ToxiproxyApi(infra.toxiproxyUrl()),
    async close() {
      redis.disconnect()
      queueRedis.disconnect()
      await pool.end().catch(() => {})
    },
  }
}

function hookContext(
  mode: Mode,
  mitigations: Record<string, boolean>,
  fleet: Fleet | undefined,
  clients: Clients,
  log: (m: string) => void,
): HookContext {
  return {
    mode,
    mitigations,
    services: fleet?.instances ?? [],
    url(service = 'api', index = 0) {
      if (!fleet) throw new Error('no service is running yet (reset runs before the services start)')
      const url = fleet.instance(service, index).url
      if (!url) throw new Error(`${service}-${index} does not serve HTTP`)
      return url
    },
    pg: clients.pg,
    redis: clients.redis,
    queueRedis: clients.queueRedis,
    log,
  }
}

/** PUT the mode's switches to an instance and read them back. A non-2xx answer fails the run. */
async function applyMitigations(
  url: string,
  path: string,
  mitigations: Record<string, boolean>,
): Promise<unknown> {
  const put = await fetch(url + path, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(mitigations),
    signal: AbortSignal.timeout(5000),
  })
  const text = await put.text()
  if (!put.ok) {
    throw new Error(
      `PUT ${path} answered ${put.status} ${text.slice(0, 200)} — set mitigationsPath: null for a service that reads its switches from env only`,
    )
  }
  const get = await fetch(url + path, { signal: AbortSignal.timeout(5000) })
  const body = await get.text()
  try {
    return JSON.parse(body)
  } catch {
    return body
  }
}

/** Scrapes every HTTP instance once a second from the load start until stopped. */
class Sampler {
  readonly samples: Scrape[] = []
  private stopped = false
  private loop: Promise<void> | undefined
  private readonly fleet: ServiceFleet
  private readonly startMs: number

  constructor(fleet: ServiceFleet, startMs: number) {
    this.fleet = fleet
    this.startMs = startMs
  }

  start(): void {
    this.loop = (async () => {
      for (let tick = 0; !this.stopped; tick++) {
        const tS = tick
        const targets = scrapeTargets(this.fleet)
        const scrapes = await Promise.all(targets.map((t) => scrapeInstance(t, tS, 800)))
        this.samples.push(...scrapes)
        const next = this.startMs + (tick + 1) * 1000 - performance.now()
        if (next > 0 && !this.stopped) await sleep(next)
      }
    })()
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.loop
  }
}

function scrapeTargets(fleet: ServiceFleet) {
  return fleet.httpInstances().flatMap((i) => {
    const svc = fleet.serviceOf(i)
    if (!i.url || (!svc.metricsPath && !svc.readyPath)) return []
    return [{ instance: i.name, baseUrl: i.url, metricsPath: svc.metricsPath, readyPath: svc.readyPath }]
  })
}

async function scrapeAll(fleet: ServiceFleet, tS: number): Promise<Scrape[]> {
  return Promise.all(scrapeTargets(fleet).map((t) => scrapeInstance({ ...t, readyPath: null }, tS, 3000)))
}

/** Live numbers for the progress line: per-second counts and latencies of the last few seconds. */
class LiveStats {
  private readonly counts = new Map<number, { n: number; errors: number; latencies: number[] }>()

  add(endMs: number, ok: boolean, latencyMs: number): void {
    const sec = Math.floor(endMs / 1000)
    const cur = this.counts.get(sec) ?? { n: 0, errors: 0, latencies: [] }
    cur.n++
    if (!ok) cur.errors++
    cur.latencies.push(latencyMs)
    this.counts.set(sec, cur)
    this.counts.delete(sec - 10)
  }

  second(sec: number): { rps: number; errors: number; p99Ms: number | null } {
    const cur = this.counts.get(sec)
    if (!cur) return { rps: 0, errors: 0, p99Ms: null }
    return {
      rps: cur.n,
      errors: cur.errors,
      p99Ms: quantile(
        [...cur.latencies].sort((a, b) => a - b),
        0.99,
      ),
    }
  }
}

interface ModeRunArgs {
  exp: Experiment
  mode: Mode
  infra: InfraControl
  clients: Clients
  logDir: string
  runDir: string | undefined
  progress: Progress
  signal: AbortSignal
  onFleet(fleet: ServiceFleet | undefined): void
}

async function runMode(args: ModeRunArgs): Promise<ModeSummary> {
  const { exp, mode, infra, clients, progress, signal } = args
  const mitigations = mitigationsFor(exp, mode)
  const errors: string[] = []
  const log = (m: string) => progress.line(`[${mode}] ${m}`)
  const startedAt = new Date().toISOString()
  mkdirSync(args.logDir, { recursive: true })

  progress.phase(
    mode,
    `resetting state (mitigations: ${Object.entries(mitigations)
      .map(([k, v]) => `${k}=${v ? 'on' : 'off'}`)
      .join(', ')})`,
  )
  const leftovers = await clients.toxiproxy.removeLabToxics().catch((err: Error) => {
    errors.push(`toxiproxy cleanup: ${err.message}`)
    return []
  })
  if (leftovers.length > 0) log(`removed toxics left by an earlier run: ${leftovers.join(', ')}`)
  await reenableProxies(clients.toxiproxy, log)
  await exp.reset?.(hookContext(mode, mitigations, undefined, clients, log))

  const applied: Record<string, unknown> = {}
  const fleet = new ServiceFleet({
    repoRoot,
    system: exp.system,
    services: exp.services,
    mode,
    mitigations,
    baseEnv: infra.serviceEnv(),
    experimentEnv: exp.env,
    logDir: args.logDir,
    log,
    afterStart: async (instance, svc) => {
      if (!svc.mitigationsPath || !instance.url) return
      applied[instance.name] = await applyMitigations(instance.url, svc.mitigationsPath, mitigations)
    },
  })
  args.onFleet(fleet)
  const ledger = new Ledger()
  const live = new LiveStats()
  let timeline: Timeline | undefined
  let sampler: Sampler | undefined
  let balancer: Balancer | undefined
  let ticker: NodeJS.Timeout | undefined
  let k6Result = { exitCode: -1, command: '', points: 0 }
  let loadStartEpochMs = Date.now()
  let before: Scrape[] = []
  let after: Scrape[] = []
  const k6Log = join(args.logDir, 'k6.log')
  const faults = faultWindows(exp.timeline)
  try {
    progress.phase(mode, `starting ${fleet.describe()}`)
    await fleet.start()
    if (signal.aborted) throw new Error('aborted')
    if (exp.setup) {
      progress.phase(mode, 'setup')
      await exp.setup(hookContext(mode, mitigations, fleet, clients, log))
    }
    before = await scrapeAll(fleet, -1)

    const target = exp.load.target ?? 'api'
    let targets = fleet.httpInstances(target).map((i) => i.url as string)
    if (exp.load.balancer) {
      const svc = fleet.services.find((s) => s.name === target)
      balancer = new Balancer({
        targets: () => fleet.httpInstances(target).map((i) => ({ name: i.name, url: i.url as string })),
        readyPath: svc?.readyPath ?? svc?.healthPath ?? '/healthz',
      })
      targets = [await balancer.start()]
      log(`load balancer on ${targets[0]} (routes to ready ${target} instances only)`)
    }
    const env: Record<string, string> = {
      BASE_URL: targets[0] ?? '',
      BASE_URLS: targets.join(','),
      DURATION: `${exp.load.durationS}s`,
      DURATION_S: String(exp.load.durationS),
      LAB_MODE: mode,
      ...exp.load.env,
    }
    progress.phase(
      mode,
      `load: ${exp.load.script} for ${exp.load.durationS} s against ${targets.length} instance(s)`,
    )
    let startMono = 0
    timeline = new Timeline({
      faults: exp.timeline,
      context: {
        mode,
        mitigations,
        services: fleet,
        infra,
        toxiproxy: clients.toxiproxy,
        pg: clients.pg,
        redis: clients.redis,
        queueRedis: clients.queueRedis,
        log,
      },
      onEvent: (e: TimelineEvent) => {
        const what = e.phase === 'inject' ? 'fire' : 'heal'
        if (e.status === 'started') log(`t=${e.tS.toFixed(1)} s  ${what} F${e.fault + 1}: ${e.label}`)
        else if (e.status === 'failed') {
          log(`t=${e.tS.toFixed(1)} s  ${what} F${e.fault + 1} FAILED: ${e.note}`)
          errors.push(`${what} F${e.fault + 1} (${e.label}) failed: ${e.note}`)
        } else if (e.note) log(`        F${e.fault + 1} ${what}: ${e.note}`)
      },
    })
    const tl = timeline
    k6Result = await runK6({
      script: resolve(repoRoot, exp.load.script),
      env,
      cwd: repoRoot,
      logFile: k6Log,
      workDir: args.logDir,
      signal,
      onStart: () => {
        loadStartEpochMs = Date.now()
        startMono = performance.now()
        tl.start().catch(() => {})
        sampler = new Sampler(fleet, startMono)
        sampler.start()
        ticker = setInterval(() => {
          const elapsedS = (performance.now() - startMono) / 1000
          const last = live.second(Math.floor(elapsedS - 1.3))
          progress.status({ mode, elapsedS, totalS: exp.load.durationS, ...last })
        }, 250)
      },
      onPoint: (point) => {
        const entry = toLedgerEntry(point, loadStartEpochMs)
        ledger.add(entry)
        live.add(entry.endMs, entry.ok, entry.latencyMs)
      },
    })
    if (ticker) clearInterval(ticker)
    progress.done()
    if (k6Result.exitCode !== 0 && k6Result.exitCode !== 99 && !signal.aborted) {
      throw new Error(`k6 exited with ${k6Result.exitCode}:\n${tail(k6Log, 15)}`)
    }
    if (k6Result.points === 0 && !signal.aborted)
      throw new Error(`k6 made no request; see ${k6Log}:\n${tail(k6Log, 15)}`)
    await timeline.stop()
    if (exp.settleS && !signal.aborted) {
      progress.phase(mode, `settling (up to ${exp.settleS} s)`)
      const settleCtx = { ...hookContext(mode, mitigations, fleet, clients, log), ledger }
      const deadline = performance.now() + exp.settleS * 1000
      while (performance.now() < deadline && !signal.aborted) {
        if (exp.settleUntil && (await exp.settleUntil(settleCtx).catch(() => false))) break
        await sleep(Math.min(1000, deadline - performance.now()), undefined, { signal }).catch(() => {})
      }
    }
    await sampler?.stop()
    after = await scrapeAll(fleet, (performance.now() - startMono) / 1000)
    if (signal.aborted) throw new Error('aborted')
  } finally {
    if (ticker) clearInterval(ticker)
    progress.done()
    await timeline?.stop()
    await sampler?.stop()
    await balancer?.stop()
    for (const e of timeline?.events ?? []) {
      if (e.status === 'failed' && !errors.some((x) => x.includes(e.label)))
        errors.push(`F${e.fault + 1} failed: ${e.note}`)
    }
  }

  const metrics = new MetricsView(before, after, sampler?.samples ?? [])
  const readiness = readinessSeries(sampler?.samples ?? [])
  const events = timeline?.events ?? []
  const series = perSecond(ledger.entries, exp.load.durationS)
  const window = (sel: Parameters<RunContext['window']>[0]) => resolveWindow(sel, faults, exp.load.durationS)
  const ctx: RunContext = {
    mode,
    experiment: exp,
    mitigations,
    durationS: exp.load.durationS,
    ledger,
    series,
    faults,
    events,
    window,
    firings: (fault) =>
      events.filter(
        (e) =>
          e.phase === 'inject' &&
          e.status === 'ok' &&
          (typeof fault === 'number' ? e.fault === fault : exp.timeline[e.fault]?.action.kind === fault),
      ).length,
    metrics,
    readiness,
    services: fleet.instances,
    pg: clients.pg,
    redis: clients.redis,
    queueRedis: clients.queueRedis,
  }
  progress.phase(mode, 'checking invariants')
  const invariants = await evaluateInvariants(exp.invariants, ctx)
  for (const r of invariants) log(`${r.holds ? '✓' : '✗'} ${r.name}: ${r.observed} (expected ${r.expected})`)

  const fw = faults.length > 0 ? window('fault') : undefined
  const inFaultLedger = fw ? ledger.select({ fromS: fw.fromS, toS: fw.toS }) : undefined
  const byOp: ModeSummary['byOp'] = {}
  for (const op of ledger.ops()) byOp[op] = statsOf(ledger.select({ op }), exp.load.durationS)
  let ledgerFile: string | undefined
  if (args.runDir) {
    ledgerFile = join(args.runDir, `ledger-${mode}.csv`)
    writeFileSync(ledgerFile, ledger.toCsv())
  }
  const rel = (p: string) => (args.runDir ? relative(args.runDir, p) : p)
  return {
    mode,
    mitigations,
    appliedMitigations: applied,
    startedAt,
    loadStartEpochMs,
    durationS: exp.load.durationS,
    k6: { command: k6Result.command, exitCode: k6Result.exitCode, requests: k6Result.points },
    totals: statsOf(ledger, exp.load.durationS),
    inFault: inFaultLedger && fw ? statsOf(inFaultLedger, Math.max(1, fw.toS - fw.fromS)) : null,
    faultWindow: fw ? { fromS: fw.fromS, toS: Math.min(fw.toS, exp.load.durationS) } : null,
    byOp,
    series,
    events,
    invariants,
    readiness,
    metrics: { before: MetricsView.table(before), after: MetricsView.table(after) },
    services: fleet.instances.map((i) => ({
      name: i.name,
      pid: i.pid,
      port: i.port,
      logFile: rel(i.logFile),
    })),
    files: {
      ledger: ledgerFile ? rel(ledgerFile) : undefined,
      k6Log: rel(k6Log),
      logs: fleet.instances.map((i) => rel(i.logFile)),
    },
    errors,
  }
}

/** Proxies a crashed run left disabled would make every experiment look broken: enable them. */
async function reenableProxies(toxiproxy: ToxiproxyApi, log: (m: string) => void): Promise<void> {
  try {
    for (const [name, state] of Object.entries(await toxiproxy.proxies())) {
      if (!state.enabled) {
        await toxiproxy.setEnabled(name, true)
        log(`re-enabled proxy ${name} (left disabled by an earlier run)`)
      }
    }
  } catch {
    // No Toxiproxy (external infra without it): toxic actions will say so if used.
  }
}

/**
 * Run an experiment: naive then hardened (or one of them), write the results, return the summary.
 * Throws `LabRunError` (with the partial summary) when a mode could not complete.
 */
export async function runExperiment(experiment: Experiment, options: RunOptions = {}): Promise<Summary> {
  const exp = resolveVariant(experiment, options.ci ?? false)
  const modesToRun = options.mode && options.mode !== 'both' ? [options.mode] : [...allModes]
  const progress =
    options.progress === true
      ? createProgress()
      : options.progress === false || !options.progress
        ? silentProgress
        : options.progress
  const startedAt = new Date()
  const runDir =
    options.out === false ? undefined : runDirFor(options.out ?? defaultResultsDir, exp, startedAt)
  const scratch = runDir ?? mkdtempSync(join(tmpdir(), 'faultline-lab-'))
  const infraMode = options.infra ?? infraModeFrom(undefined)
  const infra = infraControl(infraMode, repoRoot, (m) => progress.line(m))
  const controller = new AbortController()
  const onAbort = () => controller.abort()
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (options.signal?.aborted) controller.abort()

  const release = acquireLock()
  let fleet: ServiceFleet | undefined
  const emergency = () => fleet?.killAllNow()
  process.on('exit', emergency)
  const { row: catalog } = catalogRow(exp.id, exp.catalog, repoRoot)
  const results: Partial<Record<Mode, ModeSummary>> = {}
  let aborted: string | undefined
  let clients: Clients | undefined
  try {
    progress.line(
      `${exp.name}: ${exp.title}${exp.variant === 'ci' ? ' (CI variant)' : ''} — modes: ${modesToRun.join(', ')}`,
    )
    await infra.ensure(exp.infra)
    clients = createClients(infra)
    for (const mode of modesToRun) {
      if (controller.signal.aborted) {
        aborted ??= 'interrupted'
        break
      }
      const logDir = join(scratch, 'logs', mode)
      try {
        results[mode] = await runMode({
          exp,
          mode,
          infra,
          clients,
          logDir,
          runDir,
          progress,
          signal: controller.signal,
          onFleet: (f) => {
            fleet = f
          },
        })
      } catch (err) {
        aborted = controller.signal.aborted ? 'interrupted (Ctrl-C)' : `${mode} run failed: ${errorText(err)}`
        progress.line(`[${mode}] ${aborted}`)
        break
      } finally {
        progress.phase(mode, 'stopping services')
        await fleet?.stopAll()
        fleet = undefined
      }
    }
  } catch (err) {
    aborted = `could not start: ${errorText(err)}`
  } finally {
    await clients?.toxiproxy.removeLabToxics().catch(() => [])
    await clients?.close()
    process.off('exit', emergency)
    options.signal?.removeEventListener('abort', onAbort)
    release()
  }

  const verdict = computeVerdict(
    Object.fromEntries(Object.entries(results).map(([mode, run]) => [mode, run.invariants])) as Partial<
      Record<Mode, ModeSummary['invariants']>
    >,
  )
  const services: Summary['experiment']['services'] = {}
  for (const [name, s] of Object.entries(exp.services)) {
    const resolved = resolveService(exp.system, name, s)
    services[name] = { entry: resolved.entry, instances: resolved.instances }
  }
  const summary: Summary = {
    schema: summarySchema,
    experiment: {
      name: exp.name,
      id: exp.id,
      slug: exp.slug,
      system: exp.system,
      title: exp.title,
      description: exp.description,
      variant: exp.variant,
      catalog,
      services,
      load: exp.load,
      mitigations: exp.mitigations,
      timeline: exp.timeline.map((f) => ({
        at: f.at,
        until: f.until,
        every: f.every,
        hold: f.hold,
        label: f.label ?? f.action.describe,
        kind: f.action.kind,
      })),
      faults: faultWindows(exp.timeline),
      invariants: exp.invariants.map((i) => ({
        name: i.name,
        expected: i.expected,
        expect: i.expect ?? 'reproduces',
      })),
    },
    command: options.command ?? defaultCommand(exp, options),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(k6Binary()),
    infra: infraMode,
    modes: results,
    verdict,
  }
  if (aborted) summary.aborted = aborted
  if (runDir) {
    summary.outDir = runDir
    writeResults(summary, runDir)
  } else {
    summary.outDir = undefined
  }
  if (aborted)
    throw new LabRunError(
      `${exp.name}: ${aborted}${runDir ? `\n(partial results in ${runDir})` : `\n(logs in ${scratch})`}`,
      summary,
    )
  if (!runDir) rmSync(scratch, { recursive: true, force: true })
  return summary
}

/** For tests: the experiment reproduces (every invariant fails naive and holds hardened), or a readable failure. */
export function assertReproduces(summary: Summary): void {
  if (summary.verdict.reproduces === true) return
  const rows = summary.verdict.rows
    .map(
      (r) =>
        `  ${r.name} (expected ${r.expected}): naive ${r.naive ? `${r.naive.holds ? 'holds' : 'fails'} ${r.naive.observed}` : '—'}, hardened ${r.hardened ? `${r.hardened.holds ? 'holds' : 'fails'} ${r.hardened.observed}` : '—'} → ${r.verdict}`,
    )
    .join('\n')
  throw new Error(
    `${summary.experiment.name}: ${summary.verdict.headline}\n${rows}${summary.outDir ? `\nreport: ${summary.outDir}/report.md` : ''}`,
  )
}
