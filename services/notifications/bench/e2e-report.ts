/** bench/e2e.ts's markdown: the targets, the three runs, the saturation attribution and the CPU split. */
import { markdownTable, ms, num } from '@faultline/bench'
import type { AtRateResult, BurstResult, DrainResult, RunRate } from './e2e-runs.ts'
import type { SaturationReport } from './saturation-watch.ts'

export interface E2eReportInput {
  finishedAt: string
  command: string
  args: { channels: readonly string[]; concurrency: number; workerConcurrency: number; notifications: number }
  ceiling: RunRate
  /** Jobs that only make the provider request (noop-worker.ts with NOOP_PROVIDERS_URL). */
  sendFloor: RunRate
  drain: DrainResult
  burst: Omit<BurstResult, 'ids'> & { ids?: unknown }
  ratio: number | null
  sendFloorRatio: number | null
  maxNotificationsPerSecond: number
  saturation: SaturationReport
  atHalf: AtRateResult
}

const met = (ok: boolean) => (ok ? 'met' : 'NOT met')

export function renderE2eReport(r: E2eReportInput, machine: string): string {
  const sat = r.saturation.attribution
  const named = sat.saturated
    ? `**${sat.saturated.component}** (\`${sat.saturated.id}\`, peak ${num(sat.saturated.peakInWindow, 2)} ${sat.saturated.unit}, threshold ${sat.saturated.threshold})`
    : `none crossed its threshold; nearest: ${sat.nearest ? `${sat.nearest.component} (${num((sat.nearest.peakRatio ?? 0) * 100)} % of its threshold)` : '-'}`
  const cores = Object.entries(r.saturation.meanCores)
    .sort((a, b) => b[1] - a[1])
    .map(([group, c]) => [group, num(c, 2)])
  const lat = r.atHalf.latency
  return `# Notifications end to end (${r.finishedAt})

- Command: \`${r.command}\`
- Machine: ${machine}
- Channels per notification: ${r.args.channels.join(', ')}; WORKER_CONCURRENCY ${r.args.workerConcurrency}; ${r.args.concurrency} API requests in flight in the max run

${markdownTable(
  ['measure', 'target', 'measured', ''],
  [
    [
      'deliveries/s end to end vs no-op BullMQ worker',
      '≥ 0.5×',
      `**${num(r.ratio, 2)}×** (${num(r.drain.deliveries.perSecond)} vs ${num(r.ceiling.perSecond)} jobs/s)`,
      met((r.ratio ?? 0) >= 0.5),
    ],
    [
      'ceiling: jobs that only make the provider request vs no-op BullMQ worker',
      '–',
      `${num(r.sendFloorRatio, 2)}× (${num(r.sendFloor.perSecond)} jobs/s); end to end ÷ send floor ${num(r.sendFloor.perSecond ? (r.drain.deliveries.perSecond ?? 0) / r.sendFloor.perSecond : null, 2)}×`,
      'ceiling',
    ],
    [
      `accepted → sent p99 at half the max (${r.atHalf.ratePerSecond}/s)`,
      '≤ 1 s',
      `**${ms(lat.p99Ms)}** (p50 ${ms(lat.p50Ms)}, max ${ms(lat.maxMs)}, ${lat.count} deliveries)`,
      met(lat.p99Ms <= 1000),
    ],
  ],
)}

## Runs

${markdownTable(
  ['run', 'count', 'rate', 'window', 'wall', 'notes'],
  [
    [
      'ceiling: no-op BullMQ worker',
      `${r.ceiling.count} jobs`,
      `${num(r.ceiling.perSecond)} jobs/s`,
      `${num(r.ceiling.seconds, 1)} s`,
      `${num(r.ceiling.wallSeconds, 1)} s`,
      'addBulk by 500 while a separate process completes them',
    ],
    [
      'send floor: each job POSTs to its provider, nothing else',
      `${r.sendFloor.count} jobs`,
      `${num(r.sendFloor.perSecond)} jobs/s`,
      `${num(r.sendFloor.seconds, 1)} s`,
      `${num(r.sendFloor.wallSeconds, 1)} s`,
      "the same jobs; the service's ProviderClient to the fake providers (email, sms-a, push)",
    ],
    [
      'drain: accepted backlog → provider 2xx',
      `${r.drain.accepted} of ${r.drain.notifications} accepted`,
      `${num(r.drain.deliveries.perSecond)} deliveries/s; API ${num(r.drain.acceptPerSecond)} accepts/s (relay stopped)`,
      `${num(r.drain.deliveries.seconds, 1)} s`,
      `${num(r.drain.deliveries.wallSeconds, 1)} s`,
      `final states ${JSON.stringify(r.drain.byStatus)}${r.drain.drained ? '' : ' — NOT drained'}`,
    ],
    [
      'with the API: posted while everything runs',
      `${r.burst.accepted} of ${r.burst.notifications} accepted`,
      `${num(r.burst.deliveries.perSecond)} deliveries/s; API ${num(r.burst.acceptPerSecond)} accepts/s`,
      `${num(r.burst.deliveries.seconds, 1)} s`,
      `${num(r.burst.deliveries.wallSeconds, 1)} s`,
      `final states ${JSON.stringify(r.burst.byStatus)}${r.burst.drained ? '' : ' — NOT drained'}`,
    ],
    [
      'at half the max',
      `${r.atHalf.accepted} accepted`,
      `${r.atHalf.ratePerSecond} notifications/s`,
      `${r.atHalf.seconds} s`,
      '-',
      `final states ${JSON.stringify(r.atHalf.byStatus)}${r.atHalf.drained ? '' : ' — NOT drained'}; ${r.atHalf.lateStarts} requests started late`,
    ],
  ],
)}

Max notification rate = min(API accepts/s, deliveries/s ÷ channels) of the run with the API = ${num(r.maxNotificationsPerSecond, 1)}/s.

## What saturated in the drain (the pipeline at its maximum)

${named}. Largest backlogs: outbox ${num(r.saturation.maxOutboxBacklog)} rows, channel queues ${num(r.saturation.maxQueueWaiting)} jobs not yet run.

Mean CPU per group over the run (cores; the machine has 2):

${markdownTable(['group', 'cores'], cores)}
`
}
