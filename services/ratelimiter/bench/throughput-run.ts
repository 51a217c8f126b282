/** Throughput (closed model) of every candidate, one instance each. */
import { join } from 'node:path'
import { repoRoot } from '@faultline/infra'
import {
  type CandidateSpec,
  degradedCount,
  fileLabel,
  type LoadRun,
  label,
  runLoad,
  startInstances,
} from './runs.ts'

export interface RunSettings {
  logDir: string
  log: (line: string) => void
  redisUrl: string
  runId: string
  durationS: number
  warmupS: number
  vus: number
  deadlineMs: number
  /** Only these throughput candidates, by label (`hello`, `plugin sliding-log` …); default all. */
  candidates?: string[]
}

export const algorithms = ['fixed-window', 'sliding-log', 'sliding-window', 'token-bucket', 'gcra'] as const

/**
 * A limit no run reaches over 1 000 keys (10 000 per key per second; the sliding log caps its limit
 * at 10 000): every request is admitted, so each one costs a full decision.
 */
export const unreachable = 10_000

/** Rules for the decision service: domain `bench`, key `api_key`, one limit per value. */
export const benchRulesFile = join(repoRoot, 'services', 'ratelimiter', 'bench', 'rules-bench.yaml')

export function throughputCandidates(s: RunSettings): CandidateSpec[] {
  const limiterEnv = (prefix: string) => ({
    REDIS_URL: s.redisUrl,
    LIMIT: String(unreachable),
    WINDOW_MS: '1000',
    KEY_PREFIX: `bench:${s.runId}:${prefix}`,
  })
  return [
    { name: 'hello', env: {} },
    ...algorithms.map(
      (algorithm): CandidateSpec => ({ name: 'plugin', algorithm, env: limiterEnv(algorithm) }),
    ),
    { name: 'fastify-rate-limit', env: limiterEnv('frl') },
    { name: 'rate-limiter-flexible', env: limiterEnv('rlf') },
    // The decision service's in-between ceilings (decide-floor.ts): the request's shape alone, and
    // with the one Redis decision it needs.
    { name: 'decide-echo', env: {} },
    { name: 'decide-floor', env: limiterEnv('floor') },
    {
      name: 'decision-service',
      env: {
        REDIS_URL: s.redisUrl,
        RULES_FILE: benchRulesFile,
        REDIS_KEY_PREFIX: `bench:${s.runId}:svc`,
      },
    },
  ]
}

/** The candidates answering POST /v1/decide (the load sends the decision service's request). */
function decides(spec: CandidateSpec): boolean {
  return spec.name === 'decision-service' || spec.name === 'decide-echo' || spec.name === 'decide-floor'
}

export interface ThroughputRow extends LoadRun {
  candidate: string
  ratioToHello: number | null
  /** Our plugin's decisions answered by the failure policy (warm-up included); null for others. */
  degraded: number | null
}
export interface Throughput {
  rows: ThroughputRow[]
}

export async function measureThroughput(s: RunSettings): Promise<Throughput> {
  const rows: ThroughputRow[] = []
  const all = throughputCandidates(s)
  const unknown = (s.candidates ?? []).filter((name) => !all.some((spec) => label(spec) === name))
  if (unknown.length > 0) {
    throw new Error(`unknown candidate(s) ${unknown.join(', ')}; known: ${all.map(label).join(', ')}`)
  }
  const chosen = all.filter((spec) => !s.candidates || s.candidates.includes(label(spec)))
  for (const spec of chosen) {
    const instances = await startInstances(spec, 1, s.logDir)
    try {
      s.log(`throughput: ${label(spec)} …`)
      const run = await runLoad({
        urls: instances.urls,
        mode: decides(spec) ? 'decide' : 'get',
        scenario: 'max',
        durationS: s.durationS,
        warmupS: s.warmupS,
        vus: s.vus,
        keys: 1000,
        keyPrefix: `${s.runId}-k`,
        logDir: s.logDir,
        name: `throughput-${fileLabel(spec)}`,
      })
      const degraded = await degradedCount(instances.urls)
      s.log(
        `throughput: ${label(spec)}: ${run.rps.toFixed(0)} req/s, p99 ${run.p99Ms?.toFixed(2)} ms${degraded ? `, ${degraded} degraded` : ''}`,
      )
      rows.push({ candidate: label(spec), ...run, ratioToHello: null, degraded })
    } finally {
      await instances.stop()
    }
  }
  const hello = rows.find((r) => r.candidate === 'hello')?.rps
  for (const row of rows) row.ratioToHello = hello ? row.rps / hello : null
  return { rows }
}
