/**
 * Accuracy with 4 instances sharing one Redis: one key, LIMIT per WINDOW_MS, under the bursts
 * shape of loadtests/ratelimiter/bench.js (a trickle plus bursts of 1.5× the limit that drift
 * across window edges), spread round robin over the instances. Each instance notes when its
 * handler admitted a request; the merged timestamps give the most admitted in any window of the
 * rule's length (a sliding window, not the limiter's own buckets — a fixed window's edge burst
 * shows here).
 */
import { maxInAnyWindow } from '@faultline/ratelimit'
import {
  type CandidateSpec,
  collectAdmitted,
  degradedCount,
  fileLabel,
  label,
  runLoad,
  startInstances,
} from './runs.ts'
import { algorithms, type RunSettings } from './throughput-run.ts'

export interface Accuracy {
  candidate: string
  instances: number
  offeredPerS: number
  admitted: number
  maxInWindow: number
  /** maxInWindow / limit: 1.00 is exact; a fixed window can reach 2. */
  ratio: number
  /** Our plugin's decisions its failure policy answered during the run; null for the peers. */
  degraded: number | null
}

export async function measureAccuracy(
  s: RunSettings & { limit: number; windowMs: number; accuracyS: number; accuracyDeadlineMs: number },
): Promise<Accuracy[]> {
  const limiterEnv = (prefix: string, deadlineMs = s.accuracyDeadlineMs) => ({
    REDIS_URL: s.redisUrl,
    LIMIT: String(s.limit),
    WINDOW_MS: String(s.windowMs),
    KEY_PREFIX: `bench:${s.runId}:acc:${prefix}`,
    RECORD_ADMITTED: '1',
    DEADLINE_MS: String(deadlineMs),
  })
  const specs: CandidateSpec[] = [
    ...algorithms.map(
      (algorithm): CandidateSpec => ({ name: 'plugin', algorithm, env: limiterEnv(algorithm) }),
    ),
    // The same exact algorithm with the outage runs' deadline: under a burst on a busy machine some
    // decisions pass it and fail open — what fail-open costs in accuracy.
    {
      name: 'plugin',
      algorithm: 'sliding-log',
      env: limiterEnv('sl-short', s.deadlineMs),
      tag: `deadline ${s.deadlineMs} ms`,
    },
    { name: 'fastify-rate-limit', env: limiterEnv('frl') },
    { name: 'rate-limiter-flexible', env: limiterEnv('rlf') },
  ]
  const burstSize = Math.round(s.limit * 1.5)
  const trickleRate = Math.max(1, Math.round((s.limit * 200) / s.windowMs))
  const burstEveryMs = Math.round(s.windowMs * 0.73)
  const offeredPerS = Math.round(trickleRate + (burstSize * 1000) / burstEveryMs)
  const results: Accuracy[] = []
  for (const spec of specs) {
    const instances = await startInstances(spec, 4, s.logDir)
    try {
      s.log(
        `accuracy: ${label(spec)} × 4, bursts of ${burstSize} every ${burstEveryMs} ms + ${trickleRate}/s …`,
      )
      await collectAdmitted(instances.urls) // drop anything noted before the measured run
      const degradedBefore = await degradedCount(instances.urls)
      await runLoad({
        urls: instances.urls,
        mode: 'get',
        scenario: 'bursts',
        env: {
          BURST_SIZE: String(burstSize),
          BURST_EVERY_MS: String(burstEveryMs),
          TRICKLE_RATE: String(trickleRate),
        },
        durationS: s.accuracyS,
        warmupS: 1,
        vus: 32,
        keys: 1,
        keyPrefix: `${s.runId}-hot`,
        logDir: s.logDir,
        name: `accuracy-${fileLabel(spec)}`,
      })
      const admitted = await collectAdmitted(instances.urls)
      const maxInWindow = maxInAnyWindow(admitted, s.windowMs)
      const degradedAfter = await degradedCount(instances.urls)
      const degraded = degradedAfter === null ? null : degradedAfter - (degradedBefore ?? 0)
      const row = {
        candidate: label(spec),
        instances: 4,
        offeredPerS,
        admitted: admitted.length,
        maxInWindow,
        ratio: maxInWindow / s.limit,
        degraded,
      }
      s.log(
        `accuracy: ${row.candidate}: max ${maxInWindow} in any ${s.windowMs} ms → ${row.ratio.toFixed(2)}×`,
      )
      results.push(row)
    } finally {
      await instances.stop()
    }
  }
  return results
}
