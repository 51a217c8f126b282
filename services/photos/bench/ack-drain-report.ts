/**
 * ack-during-drain.ts's figures and report: a probe phase's result, the drain's trace, the mean CPU
 * per group in a phase's window (from the bench Sampler's samples), and the markdown.
 */
import { type MachineInfo, machineLine, markdownTable, ms, num, type ResourceSample } from '@faultline/bench'
import type { LatencySummary } from '@faultline/measure'

export interface ProbeResult {
  sent: number
  acked: number
  failed: number
  /** Probes not sent because too many were still in flight (the API stalled). */
  skipped: number
  latency: LatencySummary
  seconds: number
}

export interface DrainTrace {
  /** [seconds since the drain began, jobs still queued on the new lane]. */
  points: [number, number][]
  drainedAtS: number | null
  left: number
}

export interface Window {
  startMs: number
  endMs: number
}

/**
 * Mean cores per CPU group (api, worker, postgres, redis, s3, other …) and of the API's event loop
 * over a window, and the machine's busy share.
 */
export function cpuInWindow(samples: readonly ResourceSample[], w: Window): Record<string, number> {
  const inside = samples.filter((s) => s.tMs > w.startMs && s.tMs <= w.endMs)
  const sums: Record<string, number> = {}
  const add = (key: string, v: number | null) => {
    if (v !== null && Number.isFinite(v)) sums[key] = (sums[key] ?? 0) + v
  }
  for (const s of inside) {
    for (const [group, cores] of Object.entries(s.cpuByGroup)) add(group, cores)
    add('api event loop', s.serviceCpu)
    add('machine busy', s.hostCpu)
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(1, inside.length)]))
}

const cpuColumns = [
  'api',
  'api event loop',
  'worker',
  'postgres',
  'redis',
  's3',
  'bench',
  'other',
  'machine busy',
]

export function renderMarkdown(
  r: {
    command: string
    args: { backlog: number }
    idle: ProbeResult
    backlog: { seconds: number; failed: number; queued: number }
    drain: ProbeResult
    trace: DrainTrace
    cpu: { idle: Record<string, number>; drain: Record<string, number> }
    extraEnv: Record<string, string>
    drainJobsPerSecond: number | null
    ratio: number
    target: string
    met: boolean
  },
  machine: MachineInfo,
): string {
  const row = (name: string, p: ProbeResult) => [
    name,
    `${p.sent} in ${num(p.seconds)} s`,
    String(p.acked),
    String(p.failed + p.skipped),
    ms(p.latency.p50Ms),
    ms(p.latency.p90Ms),
    ms(p.latency.p99Ms),
    ms(p.latency.maxMs),
  ]
  const drained =
    r.trace.drainedAtS === null
      ? `not drained: ${r.trace.left} jobs left after ${num(r.drain.seconds)} s (--max-drain-seconds)`
      : `drained in ${num(r.trace.drainedAtS)} s (${num(r.drainJobsPerSecond, 1)} jobs/s, probes' jobs included)`
  return `# Photos: upload ack p99 while a backlog drains (${machine.date})

- Command: \`${r.command}\`
- Machine: ${machineLine(machine)}
- Backlog: ${r.backlog.queued} jobs on the new lane, built by ${r.args.backlog} uploads through the API with the worker stopped (${num(r.backlog.seconds, 1)} s, ${r.backlog.failed} failed); ${drained}
- Extra env: ${
    Object.keys(r.extraEnv).length === 0
      ? 'none (the defaults)'
      : Object.entries(r.extraEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')
  }
- **Ratio drain p99 ÷ idle p99: ${num(r.ratio, 2)}× (target ${r.target}: ${r.met ? 'met' : 'NOT met'})**

${markdownTable(
  ['phase', 'probes', '201', 'failed/skipped', 'p50', 'p90', 'p99', 'max'],
  [row('idle (worker running, nothing queued)', r.idle), row('drain (worker through the backlog)', r.drain)],
)}

Mean CPU per phase, in cores (\`api\` is the whole API process, \`api event loop\` its main thread;
\`s3\` the S3 server, versitygw; \`other\` every process outside this run; \`machine busy\` the
share of all cores):

${markdownTable(
  ['phase', ...cpuColumns],
  (['idle', 'drain'] as const).map((phase) => [
    phase,
    ...cpuColumns.map((c) =>
      c === 'machine busy' ? `${num((r.cpu[phase][c] ?? 0) * 100)} %` : num(r.cpu[phase][c], 2),
    ),
  ]),
)}
`
}
