/** The threshold benchmark's markdown: the graph and the post mix, then one row per threshold. */
import { markdownTable } from '@faultline/bench'
import type { ThresholdRow } from './threshold-run.ts'

export interface ThresholdReportInput {
  command: string
  machine: string
  graph: { users: number; follows: number; maxFollowers: number; decades: Record<string, number> }
  mix: string
  postsByDecade: Record<string, number>
  postRate: number
  readers: number
  rows: readonly ThresholdRow[]
}

const fixed = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits)

const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1)

function row(r: ThresholdRow): string[] {
  return [
    r.label,
    String(r.authorsPulled),
    fixed(r.deliveriesPerPost, 1),
    fixed(r.workerCpuMsPerPost, 2),
    `${fixed(r.deliveredP50S === null ? null : r.deliveredP50S * 1000, 0)} / ${fixed(r.deliveredP99S === null ? null : r.deliveredP99S * 1000, 0)}`,
    `${fixed(r.reads.p50Ms, 2)} / ${fixed(r.reads.p99Ms, 2)}`,
    fixed(r.reads.apiCpuUsPerRead, 0),
    fixed(r.celebritiesMergedPerRead, 2),
    `${mb(r.timelineBytes)} (+${mb(r.timelineBytes - r.emptyTimelineBytes)})`,
  ]
}

export const thresholdHeaders = [
  'threshold',
  'authors pulled',
  'deliveries / post',
  'worker CPU ms / post',
  'post → delivered p50 / p99 (ms)',
  'read p50 / p99 (ms)',
  'API CPU µs / read',
  'celebrities merged / read',
  'timeline memory MB (+ posts)',
]

export function renderThresholdTable(rows: readonly ThresholdRow[]): string {
  return markdownTable(thresholdHeaders, rows.map(row))
}

export function renderThresholdReport(r: ThresholdReportInput): string {
  const decades = (d: Record<string, number>) =>
    Object.entries(d)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')
  const first = r.rows[0]
  return `# Feed fan-out: push vs pull vs hybrid, by celebrity threshold

- Command: \`${r.command}\`
- Machine: ${r.machine}
- Graph: ${r.graph.users} users, ${r.graph.follows} follows, largest follower count ${r.graph.maxFollowers}; authors by followers (${decades(r.graph.decades)}); every user active
- Posts per threshold: ${first ? first.posts.sent : 0} at ${r.postRate}/s, the same authors in the same order, mix \`${r.mix}\` (${decades(r.postsByDecade)})
- Reads: ${r.readers} users' first page (limit 20), ${first ? first.reads.ratePerSec : '-'}/s (k6 open model)

${renderThresholdTable(r.rows)}

Deliveries per post if every author with a follower posted equally often (from the graph, not measured): ${r.rows.map((x) => `${x.label} ${fixed(x.uniformMixDeliveriesPerPost, 1)}`).join(', ')}.

Authors with at least the threshold's followers are pulled: the worker writes only their recent set and their own timeline (1 delivery), readers merge that set. Deliveries per post count every timeline insert the worker made, the author's own included. Worker CPU per post is process_cpu_seconds_total over the posting window with the idle worker's rate (measured for 2 s before the posts) taken off. Post → delivered covers every post: a pulled post counts as delivered once its recent set has it. API CPU per read includes the warm-up reads; celebrities merged per read is the mean, over the readers, of the followed authors at or above the threshold (from Postgres). Timeline memory is MEMORY USAGE summed over every home timeline after the posts (in brackets, the growth over the empty built timelines). One run on a shared machine: compare the rows, not the absolute numbers.
`
}
