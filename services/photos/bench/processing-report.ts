/** bench/processing.ts's markdown: the target, the runs and what each costs per image. */
import { markdownTable, num } from '@faultline/bench'
import type { RunResult } from './processing-runs.ts'

export interface ProcessingReport {
  finishedAt: string
  command: string
  image: { name: string; width: number; height: number; bytes: number }
  count: number
  concurrency: number
  rawBefore: RunResult
  processor: RunResult
  worker: RunResult & { byStatus: Record<string, number> }
  rawAfter: RunResult
  ceilingPerSecond: number | null
  ratio: number | null
  target: number
}

const pct = (v: number | null) => (v === null ? '-' : `${Math.round(v * 100)} %`)

export function renderProcessingReport(r: ProcessingReport, machine: string): string {
  const row = (name: string, run: RunResult, note: string) => [
    name,
    `${run.images}${run.failed > 0 ? ` (${run.failed} failed)` : ''}`,
    `${num(run.perSecond, 2)}/s`,
    `${num(run.windowSeconds, 1)} s`,
    `${num(run.wallSeconds, 1)} s`,
    num(run.cpuSecondsPerImage === null ? null : run.cpuSecondsPerImage * 1000),
    pct(run.hostBusy),
    note,
  ]
  const met = r.ratio !== null && r.ratio >= r.target
  return `# Photos: processed images/s vs raw sharp (${r.finishedAt})

- Command: \`${r.command}\`
- Machine: ${machine}
- Image: ${r.image.name}, ${r.image.width}×${r.image.height}, ${num(r.image.bytes / 1e6, 2)} MB; ${r.count} per run, ${r.concurrency} in flight (the worker's WORKER_CONCURRENCY_NEW); each → 4 variants (thumb 256 / preview 1280 px, WebP + JPEG q80) + a thumbhash placeholder

${markdownTable(
  ['measure', 'target', 'measured', ''],
  [
    [
      'processed images/s through the real worker vs raw sharp, same derivatives, same run',
      `≥ ${r.target}×`,
      `**${num(r.ratio, 2)}×** (${num(r.worker.perSecond, 2)} vs ${num(r.ceilingPerSecond, 2)} images/s)`,
      met ? 'met' : 'NOT met',
    ],
  ],
)}

The ceiling is the mean of the two raw sharp runs around the others (drift on a shared machine
shows as their difference). Rates are over the middle 80 % of each run's completions.

${markdownTable(
  ['run', 'images', 'rate', 'window', 'wall', 'CPU ms/image', 'machine busy', 'what'],
  [
    row('raw sharp (before)', r.rawBefore, 'sharp only, in the bench process'),
    row('processor', r.processor, 'processImage in a SandboxPool in the bench process'),
    row(
      'worker',
      r.worker,
      `worker process: BullMQ + S3 + sandbox + Postgres; final ${JSON.stringify(r.worker.byStatus)}`,
    ),
    row('raw sharp (after)', r.rawAfter, 'sharp only, in the bench process'),
  ],
)}

Where the machine's CPU went, ms per image by process (\`other\` is everything this benchmark did
not start: other work on a shared machine):

${markdownTable(
  ['run', 'CPU ms per image by process'],
  (
    [
      ['raw sharp (before)', r.rawBefore],
      ['processor', r.processor],
      ['worker', r.worker],
      ['raw sharp (after)', r.rawAfter],
    ] as const
  ).map(([name, run]) => [
    name,
    Object.entries(run.cpuMsPerImageByGroup)
      .map(([group, ms]) => `${group} ${ms}`)
      .join(', '),
  ]),
)}
`
}
