/**
 * The benchmark's building blocks: start N instances of a candidate (or of the decision service),
 * run the one k6 script against them, collect what the instances admitted.
 */
import { join } from 'node:path'
import { type Child, startChild, stopChild, waitForHttp } from '@faultline/bench'
import { freePort, repoRoot } from '@faultline/infra'
import { type K6Summary, runK6 } from '@faultline/measure'
import type { CandidateName } from './candidates.ts'

const candidateEntry = join(repoRoot, 'services', 'ratelimiter', 'bench', 'candidate-server.ts')
const decisionEntry = join(repoRoot, 'services', 'ratelimiter', 'src', 'server.ts')
const gatewayEntry = join(repoRoot, 'services', 'ratelimiter', 'src', 'gateway.ts')
export const benchScript = join(repoRoot, 'loadtests', 'ratelimiter', 'bench.js')

/** The ratelimiter's own processes, started as `./faultline up ratelimiter` starts them. */
export type OurService = 'decision-service' | 'gateway'

const serviceEntry: Record<OurService, string> = { 'decision-service': decisionEntry, gateway: gatewayEntry }

export function isOurService(name: CandidateSpec['name']): name is OurService {
  return name === 'decision-service' || name === 'gateway'
}

export interface Instances {
  urls: string[]
  stop: () => Promise<void>
}

export interface CandidateSpec {
  /** A candidate server, or one of the real services (`decision-service`, the demo `gateway`). */
  name: CandidateName | OurService
  algorithm?: string
  /** Extra env for every instance (REDIS_URL, LIMIT, failure policy …). */
  env: Record<string, string>
  /** Told apart from the same candidate with other settings, in the report. */
  tag?: string
}

export function label(spec: CandidateSpec): string {
  const name = spec.name === 'plugin' ? `plugin ${spec.algorithm}` : spec.name
  return spec.tag ? `${name} (${spec.tag})` : name
}

/** A label as a file name. */
export function fileLabel(spec: CandidateSpec): string {
  return label(spec).replace(/[^a-z0-9-]+/gi, '-')
}

/** Starts `count` instances on free ports and waits until each answers. */
export async function startInstances(
  spec: CandidateSpec,
  count: number,
  logDir: string,
  cpus?: string,
): Promise<Instances> {
  const children: Child[] = []
  const urls: string[] = []
  const stop = async () => {
    await Promise.all(children.map((c) => stopChild(c)))
  }
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort()
      const service = isOurService(spec.name)
      const child = startChild({
        name: `${fileLabel(spec)}-${i}`,
        command: process.execPath,
        args: [isOurService(spec.name) ? serviceEntry[spec.name] : candidateEntry],
        env: {
          ...spec.env,
          PORT: String(port),
          HOST: '127.0.0.1',
          INSTANCE_ID: `bench-${i}`,
          LOG_LEVEL: 'warn',
          ...(service ? {} : { CANDIDATE: spec.name, ALGORITHM: spec.algorithm ?? 'sliding-log' }),
        },
        cwd: repoRoot,
        logFile: join(logDir, `${fileLabel(spec)}-${i}.log`),
        ...(cpus ? { cpus } : {}),
      })
      children.push(child)
      const url = `http://127.0.0.1:${port}`
      await waitForHttp(service ? `${url}/readyz` : `${url}/__admitted`, { child, timeoutMs: 30_000 })
      urls.push(url)
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { urls, stop }
}

export interface LoadRun {
  rps: number
  requests: number
  failedRate: number
  dropped: number
  p50Ms: number | null
  p99Ms: number | null
  maxMs: number | null
}

function measured(summary: K6Summary | undefined, durationS: number): LoadRun {
  const scenario = summary?.scenarios.measure
  const d = scenario?.durationMs ?? {}
  const requests = scenario?.reqs ?? 0
  return {
    rps: requests / durationS,
    requests,
    failedRate: scenario?.failedRate ?? 1,
    dropped: summary?.metrics['dropped_iterations{scenario:measure}']?.values.count ?? 0,
    p50Ms: d.med ?? null,
    p99Ms: d.p99 ?? null,
    maxMs: d.max ?? null,
  }
}

export interface LoadOptions {
  urls: string[]
  mode: 'get' | 'decide'
  scenario: 'max' | 'rate' | 'bursts'
  durationS: number
  warmupS: number
  vus: number
  rate?: number
  /** Extra k6 env (the bursts scenario's knobs). */
  env?: Record<string, string>
  keys: number
  keyPrefix: string
  logDir: string
  name: string
  cpus?: string
}

export async function runLoad(o: LoadOptions): Promise<LoadRun> {
  const summaryPath = join(o.logDir, `${o.name}.summary.json`)
  const result = await runK6({
    script: benchScript,
    env: {
      BASE_URLS: o.urls.join(','),
      MODE: o.mode,
      SCENARIO: o.scenario,
      DURATION: `${o.durationS}s`,
      WARMUP: `${o.warmupS}s`,
      VUS: String(o.vus),
      ...(o.rate !== undefined ? { RATE: String(o.rate), MAX_VUS: String(Math.max(o.vus, 64)) } : {}),
      KEYS: String(o.keys),
      KEY_PREFIX: o.keyPrefix,
      ...o.env,
    },
    logFile: join(o.logDir, `${o.name}.k6.log`),
    summaryPath,
    gogc: 400,
    timeoutMs: (o.durationS + o.warmupS + 60) * 1000,
    ...(o.cpus ? { cpus: o.cpus } : {}),
  })
  if (result.exitCode !== 0 && result.exitCode !== 99) {
    throw new Error(`k6 exited ${result.exitCode} for ${o.name}; see ${join(o.logDir, `${o.name}.k6.log`)}`)
  }
  return measured(result.summary, o.durationS)
}

/** Every admitted timestamp the instances noted (RECORD_ADMITTED=1), merged and sorted. */
export async function collectAdmitted(urls: string[]): Promise<number[]> {
  const all: number[] = []
  for (const url of urls) {
    const res = await fetch(`${url}/__admitted`, { signal: AbortSignal.timeout(10_000) })
    const body = (await res.json()) as { admitted: number[] }
    all.push(...body.admitted)
  }
  return all.sort((a, b) => a - b)
}

/** Decisions our plugin's failure policy answered so far, summed over `urls`; null for others. */
export async function degradedCount(urls: string[]): Promise<number | null> {
  let total: number | null = null
  for (const url of urls) {
    const res = await fetch(`${url}/__degraded`, { signal: AbortSignal.timeout(10_000) })
    if (res.status === 404) {
      await res.body?.cancel()
      continue
    }
    total = (total ?? 0) + ((await res.json()) as { degraded: number }).degraded
  }
  return total
}
