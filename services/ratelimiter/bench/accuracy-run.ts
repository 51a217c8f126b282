/**
 * Accuracy with 4 instances sharing one Redis: one key, LIMIT per WINDOW_MS, under the bursts
 * shape of loadtests/ratelimiter/bench.js (a trickle plus bursts of 1.5× the limit that drift
 * across window edges), spread round robin over the instances. Each candidate server notes when
 * its handler admitted a request; for the real decision service and gateway (sliding log, the
 * default) the admissions are read from their logs in Redis (sliding-log-recorder.ts). The merged
 * timestamps give the most admitted in any window of the rule's length (a sliding window, not the
 * limiter's own buckets — a fixed window's edge burst shows here).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { maxInAnyWindow } from '@faultline/ratelimit'
import {
  type CandidateSpec,
  collectAdmitted,
  degradedCount,
  fileLabel,
  isOurService,
  label,
  runLoad,
  startInstances,
} from './runs.ts'
import { SlidingLogRecorder } from './sliding-log-recorder.ts'
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
    ...ourServices(s),
  ]
  const burstSize = Math.round(s.limit * 1.5)
  const trickleRate = Math.max(1, Math.round((s.limit * 200) / s.windowMs))
  const burstEveryMs = Math.round(s.windowMs * 0.73)
  const offeredPerS = Math.round(trickleRate + (burstSize * 1000) / burstEveryMs)
  const results: Accuracy[] = []
  for (const spec of specs) {
    const instances = await startInstances(spec, 4, s.logDir)
    const ours = isOurService(spec.name)
    const recorder = ours
      ? new SlidingLogRecorder(s.redisUrl, spec.env.REDIS_KEY_PREFIX as string)
      : undefined
    try {
      s.log(
        `accuracy: ${label(spec)} × 4, bursts of ${burstSize} every ${burstEveryMs} ms + ${trickleRate}/s …`,
      )
      if (!ours) await collectAdmitted(instances.urls) // drop anything noted before the measured run
      const degradedBefore = ours ? null : await degradedCount(instances.urls)
      recorder?.start()
      await runLoad({
        urls: instances.urls,
        mode: spec.name === 'decision-service' ? 'decide' : 'get',
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
      const admitted = recorder ? await recorder.stop() : await collectAdmitted(instances.urls)
      const maxInWindow = maxInAnyWindow(admitted, s.windowMs)
      const degradedAfter = ours ? null : await degradedCount(instances.urls)
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
      if (recorder) await recorder.stop().catch(() => [])
      await instances.stop()
    }
  }
  return results
}

/**
 * The decision service (a rules file of one limit per API key in the load's domain) and the demo
 * gateway (GATEWAY_* env), both on their default exact algorithm, the sliding log, whose logs in
 * Redis give their admissions. The rules file's units are whole seconds and up: with a window that
 * is not one, the decision service is left out.
 */
function ourServices(s: RunSettings & { limit: number; windowMs: number }): CandidateSpec[] {
  const prefix = (name: string) => `bench:${s.runId}:acc:${name}:`
  const specs: CandidateSpec[] = []
  const unit = ({ 1000: 'second', 60000: 'minute', 3600000: 'hour' } as Record<number, string>)[s.windowMs]
  if (unit) {
    const rulesFile = join(s.logDir, 'accuracy-rules.yaml')
    writeFileSync(
      rulesFile,
      [
        '# The accuracy run of services/ratelimiter/bench: one limit per API key, the exact default algorithm.',
        'version: 1',
        'domains:',
        '  - domain: bench',
        '    descriptors:',
        '      - key: api_key',
        '        rate_limit:',
        '          name: bench-accuracy',
        `          requests_per_unit: ${s.limit}`,
        `          unit: ${unit}`,
        '          algorithm: sliding-log',
        '',
      ].join('\n'),
    )
    specs.push({
      name: 'decision-service',
      env: { REDIS_URL: s.redisUrl, RULES_FILE: rulesFile, REDIS_KEY_PREFIX: prefix('svc') },
    })
  } else {
    s.log(
      `accuracy: the decision service is left out (a window of ${s.windowMs} ms is not a rules-file unit)`,
    )
  }
  specs.push({
    name: 'gateway',
    env: {
      REDIS_URL: s.redisUrl,
      REDIS_KEY_PREFIX: prefix('gw'),
      GATEWAY_LIMIT: String(s.limit),
      GATEWAY_WINDOW_MS: String(s.windowMs),
      GATEWAY_ALGORITHM: 'sliding-log',
    },
  })
  return specs
}
