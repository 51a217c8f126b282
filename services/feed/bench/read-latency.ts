/**
 * Timeline read p99 at half the read knee, with the bench's own script
 * (loadtests/feed/knee-throughput.js: SCENARIO=rate is a constant arrival rate after a warm-up,
 * SCENARIO=max a closed model), over the fan-out benchmark's followers — whose timelines the
 * previous runs filled with posts. The knee is the knee finder's (`--read-knee N` from
 * `node packages/bench/src/knee.ts --system feed`); without it the closed-model maximum of a short
 * run stands in for it (a maximum is at or past the knee: half of it is an upper bound on half the
 * knee, so the p99 there is a pessimistic figure).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { warmPaths } from '@faultline/bench'
import { repoRoot } from '@faultline/infra'
import { type K6Summary, runK6 } from '@faultline/measure'

const script = join(repoRoot, 'loadtests', 'feed', 'knee-throughput.js')

export interface ReadLatencyResult {
  /** The knee the rate is half of, and where it came from. */
  kneePerSec: number
  kneeSource: 'knee finder (--read-knee)' | 'closed-model maximum (stand-in)'
  ratePerSec: number
  achievedPerSec: number
  p50Ms: number | null
  p99Ms: number | null
  failedRate: number
  dropped: number
}

function measureScenario(summary: K6Summary | undefined) {
  const s = summary?.scenarios.measure
  const reqs = summary?.metrics['http_reqs{scenario:measure}']?.values.count ?? s?.reqs ?? 0
  return {
    reqs,
    p50Ms: s?.durationMs?.med ?? null,
    p99Ms: s?.durationMs?.p99 ?? null,
    failedRate: s?.failedRate ?? 0,
    dropped: summary?.metrics['dropped_iterations{scenario:measure}']?.values.count ?? 0,
  }
}

export async function measureReadAtHalfKnee(options: {
  apiUrl: string
  users: readonly string[]
  readKnee: number | undefined
  durationS: number
  dir: string
  log: (line: string) => void
}): Promise<ReadLatencyResult> {
  const { apiUrl, users, dir, log, durationS } = options
  const codesFile = join(dir, 'readers.json')
  writeFileSync(codesFile, JSON.stringify(users))
  log(
    `warming ${users.length} timelines: ${JSON.stringify(
      await warmPaths(
        apiUrl,
        users.map((u) => `/api/users/${u}/timeline?limit=20`),
      ),
    )}`,
  )
  const run = (label: string, env: Record<string, string>) =>
    runK6({
      script,
      cwd: repoRoot,
      env: { BASE_URL: apiUrl, CODES_FILE: codesFile, DURATION: `${durationS}s`, WARMUP: '3s', ...env },
      summaryPath: join(dir, `k6-${label}.json`),
      logFile: join(dir, `k6-${label}.log`),
      gogc: 400,
      timeoutMs: (durationS + 60) * 1000,
    })
  let kneePerSec = options.readKnee
  let kneeSource: ReadLatencyResult['kneeSource'] = 'knee finder (--read-knee)'
  if (kneePerSec === undefined) {
    log('no --read-knee: measuring the closed-model maximum as a stand-in')
    const max = measureScenario((await run('read-max', { SCENARIO: 'max', VUS: '32' })).summary)
    kneePerSec = max.reqs / durationS
    kneeSource = 'closed-model maximum (stand-in)'
  }
  const ratePerSec = Math.max(1, Math.round(kneePerSec / 2))
  // Enough VUs for every request to take the 10 ms objective, as the bench sizes its open model.
  const vus = Math.max(8, Math.ceil((ratePerSec * 10) / 1000) * 2)
  log(`reading at ${ratePerSec}/s (half of ${Math.round(kneePerSec)}/s) for ${durationS} s`)
  const atHalf = measureScenario(
    (
      await run('read-half', {
        SCENARIO: 'rate',
        RATE: String(ratePerSec),
        VUS: String(vus),
        MAX_VUS: String(vus * 4),
      })
    ).summary,
  )
  return {
    kneePerSec,
    kneeSource,
    ratePerSec,
    achievedPerSec: atHalf.reqs / durationS,
    p50Ms: atHalf.p50Ms,
    p99Ms: atHalf.p99Ms,
    failedRate: atHalf.failedRate,
    dropped: atHalf.dropped,
  }
}
