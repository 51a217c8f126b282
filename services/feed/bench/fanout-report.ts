/** The fan-out benchmark's markdown report: the three targets of issue 11, met or not, and the runs behind them. */
import { markdownTable, num } from '@faultline/bench'
import type { AtRateResult, BurstResult, CeilingResult } from './fanout-runs.ts'
import type { ReadLatencyResult } from './read-latency.ts'

export interface FanoutReportInput {
  settings: {
    authors: number
    followers: number
    pool: number
    posts: number
    pipeline: number
    rateSeconds: number
  }
  external: boolean
  ceiling: CeilingResult
  burst: BurstResult
  maxPostingRate: number
  atHalf: AtRateResult
  reads: ReadLatencyResult | undefined
}

const targets = { ratio: 0.5, deliveredP99S: 2, readP99Ms: 10 }

const verdict = (ok: boolean | null) => (ok === null ? 'not measured' : ok ? 'met' : 'NOT met')
const fixed = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits)

export function renderFanoutReport(r: FanoutReportInput, machine: string, args: string): string {
  const ratio = r.burst.deliveriesPerSec / r.ceiling.deliveriesPerSec
  const p99 = r.atHalf.p99Seconds
  const readP99 = r.reads?.p99Ms ?? null
  const s = r.settings
  const rows = [
    [
      'fan-out deliveries/s vs Redis ceiling',
      `≥ ${targets.ratio}×`,
      `${fixed(ratio, 2)}× (${num(r.burst.deliveriesPerSec)} vs ${num(r.ceiling.deliveriesPerSec)}/s)`,
      verdict(Number.isFinite(ratio) ? ratio >= targets.ratio : null),
    ],
    [
      `post → delivered p99, ${s.followers} followers, at ${fixed(r.atHalf.ratePerSec, 1)} posts/s (half max)`,
      `≤ ${targets.deliveredP99S} s`,
      `${fixed(p99, 3)} s (p50 ${fixed(r.atHalf.p50Seconds, 3)} s, ${r.atHalf.delivered} posts)`,
      verdict(p99 === null ? null : p99 <= targets.deliveredP99S),
    ],
    [
      r.reads
        ? `timeline read p99 at ${r.reads.ratePerSec}/s (half of ${num(r.reads.kneePerSec)}/s, ${r.reads.kneeSource})`
        : 'timeline read p99 at half the read knee',
      `≤ ${targets.readP99Ms} ms`,
      r.reads
        ? `${fixed(readP99, 2)} ms (p50 ${fixed(r.reads.p50Ms, 2)} ms, errors ${fixed(r.reads.failedRate * 100, 2)} %, dropped ${r.reads.dropped})`
        : '-',
      verdict(readP99 === null ? null : readP99 <= targets.readP99Ms),
    ],
  ]
  return `# Feed fan-out benchmark

- Command: \`node services/feed/bench/fanout.ts ${args}\`
- Machine: ${machine}
- System: ${r.external ? 'a running one (--api-url)' : 'started by the benchmark (API, relay, worker; direct connections)'}
- Graph: ${s.authors} authors × ${s.followers} followers (${s.pool} distinct followers), every timeline active; FANOUT_PIPELINE ${s.pipeline}

${markdownTable(['measure', 'target', 'measured', 'verdict'], rows)}

## Runs

${markdownTable(
  ['run', 'posts', 'deliveries', 'seconds', 'deliveries/s', 'posts/s'],
  [
    [
      'ceiling: TimelineStore.pushToActive alone',
      String(r.ceiling.posts),
      String(r.ceiling.deliveries),
      fixed(r.ceiling.seconds, 2),
      num(r.ceiling.deliveriesPerSec),
      fixed(r.ceiling.posts / r.ceiling.seconds, 1),
    ],
    [
      'burst: API → outbox → relay → Kafka → worker',
      `${r.burst.accepted} of ${r.burst.posts}`,
      `${r.burst.deliveries} of ${r.burst.expectedDeliveries}`,
      fixed(r.burst.endToEndSeconds, 2),
      `${num(r.burst.deliveriesPerSec)} (middle 80 %)`,
      `API ${fixed(r.burst.apiPostsPerSec, 1)}, fan-out ${fixed(r.burst.fanoutPostsPerSec, 1)}`,
    ],
    [
      'at half the max posting rate',
      `${r.atHalf.accepted} of ${r.atHalf.sent}`,
      '-',
      String(r.atHalf.seconds),
      '-',
      fixed(r.atHalf.ratePerSec, 1),
    ],
  ],
)}

The max posting rate (${fixed(r.maxPostingRate, 1)} posts/s) is the lower of the API's accepted posts/s and the posts/s whose fan-out completed in the burst. Post → delivered is the worker's histogram (post id's millisecond → its fan-out done), interpolated within its buckets. The ceiling and the burst start from the same empty, active timelines.
`
}
