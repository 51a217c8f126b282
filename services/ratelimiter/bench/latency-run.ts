/**
 * The p99 a decision adds at half the plugin's maximum: our plugin (sliding log) and the bare
 * hello-world at the same constant rate (open model), the hello-world first as the generator's
 * floor, and rate-limiter-flexible at the same rate as the in-between ceiling (one Redis round
 * trip per request, nothing around it). Measured with k6 (the benchmark's one script) and with vegeta: at half the maximum k6's
 * open model needs about a core of this 2-core machine, so the plugin, Redis and k6 compete for
 * the CPU and the figure measures the machine; vegeta sends the same rate on a fraction of a core
 * (the shortener's redirect benchmark met its own latency target this way). Both are reported.
 */
import { join } from 'node:path'
import { runVegeta, type VegetaTarget } from '@faultline/bench'
import { type CandidateSpec, fileLabel, type LoadRun, label, runLoad, startInstances } from './runs.ts'
import { type RunSettings, type Throughput, unreachable } from './throughput-run.ts'

export const generators = ['k6', 'vegeta'] as const
export type Generator = (typeof generators)[number]

export interface LatencyAtHalf {
  generator: Generator
  rate: number
  hello: LoadRun
  plugin: LoadRun
  /** p99(plugin) − p99(hello) at the same rate: what a decision adds. */
  addedP99Ms: number | null
  /**
   * rate-limiter-flexible at the same rate: one Redis round trip per request with nothing around
   * it (no deadline, breaker or metrics) — what any Redis-backed limiter adds on this machine.
   */
  peer: LoadRun
  peerAddedP99Ms: number | null
}

/** In-flight requests either generator may hold: k6's VUs, vegeta's workers. */
const concurrency = 32
/** Keys the requests cycle through (`x-api-key`), as in the throughput runs. */
const keys = 1000

interface LatencyRun {
  s: RunSettings
  spec: CandidateSpec
  urls: string[]
  rate: number
  generator: Generator
}

async function runAtRate({ s, spec, urls, rate, generator }: LatencyRun): Promise<LoadRun> {
  const name = `half-${fileLabel(spec)}${generator === 'k6' ? '' : `-${generator}`}`
  if (generator === 'k6') {
    return runLoad({
      urls,
      mode: 'get',
      scenario: 'rate',
      rate,
      durationS: s.durationS,
      warmupS: s.warmupS,
      vus: concurrency,
      keys,
      keyPrefix: `${s.runId}-h`,
      logDir: s.logDir,
      name,
    })
  }
  // The same requests as the k6 script's: GET / with one of `keys` API keys, round robin over
  // the instances.
  const targets: VegetaTarget[] = Array.from({ length: keys }, (_, i) => ({
    url: `${urls[i % urls.length]}/`,
    headers: { 'x-api-key': `${s.runId}-h${i}` },
  }))
  const result = await runVegeta({
    urls: targets,
    rate,
    durationS: s.durationS,
    warmupS: s.warmupS,
    workers: concurrency,
    dir: s.logDir,
    label: name,
  })
  if (result.exitCode !== 0 || !result.stats) {
    throw new Error(
      `vegeta exited ${result.exitCode} for ${name}; see ${join(s.logDir, `vegeta-${name}.log`)}`,
    )
  }
  const stats = result.stats
  return {
    rps: stats.requests / s.durationS,
    requests: stats.requests,
    failedRate: stats.failedRate,
    dropped: stats.dropped,
    p50Ms: stats.p50Ms,
    p99Ms: stats.p99Ms,
    maxMs: stats.maxMs,
  }
}

/** Our plugin (sliding log) at half its measured maximum, and the hello-world at the same rate, per generator. */
export async function measureLatencyAtHalf(
  s: RunSettings,
  throughput: Throughput | undefined,
  chosen: readonly Generator[] = generators,
): Promise<LatencyAtHalf[]> {
  const max = throughput?.rows.find((r) => r.candidate === 'plugin sliding-log')?.rps ?? 4000
  const rate = Math.max(100, Math.round(max / 2 / 100) * 100)
  const specs: CandidateSpec[] = [
    { name: 'hello', env: {} },
    {
      name: 'plugin',
      algorithm: 'sliding-log',
      env: {
        REDIS_URL: s.redisUrl,
        LIMIT: String(unreachable),
        WINDOW_MS: '1000',
        KEY_PREFIX: `bench:${s.runId}:half`,
      },
    },
    {
      name: 'rate-limiter-flexible',
      env: {
        REDIS_URL: s.redisUrl,
        LIMIT: String(unreachable),
        WINDOW_MS: '1000',
        KEY_PREFIX: `bench:${s.runId}:half-rlf`,
      },
    },
  ]
  const runs = new Map<string, LoadRun>()
  for (const spec of specs) {
    const instances = await startInstances(spec, 1, s.logDir)
    try {
      for (const generator of chosen) {
        s.log(`latency at ${rate}/s (${generator}): ${label(spec)} …`)
        const run = await runAtRate({ s, spec, urls: instances.urls, rate, generator })
        s.log(`latency at ${rate}/s (${generator}): ${label(spec)}: p99 ${run.p99Ms?.toFixed(2)} ms`)
        runs.set(`${generator} ${spec.name}`, run)
      }
    } finally {
      await instances.stop()
    }
  }
  return chosen.map((generator) => {
    const hello = runs.get(`${generator} hello`) as LoadRun
    const plugin = runs.get(`${generator} plugin`) as LoadRun
    const peer = runs.get(`${generator} rate-limiter-flexible`) as LoadRun
    const added = (run: LoadRun) =>
      hello.p99Ms !== null && run.p99Ms !== null ? run.p99Ms - hello.p99Ms : null
    return { generator, rate, hello, plugin, addedP99Ms: added(plugin), peer, peerAddedP99Ms: added(peer) }
  })
}
