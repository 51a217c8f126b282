#!/usr/bin/env node
/**
 * The photo worker's resident memory across the hostile corpus (issue 13): every file uploaded
 * through the API and processed by a real worker process, its RSS sampled from /proc every 50 ms;
 * each file must be refused or fail with a reason a user can read, and the worker must never
 * crash. Peak RSS is compared with a stated cap: 1 GiB by default, the worker's `mem_limit` in
 * services/photos/compose.yaml (past it the container is OOM-killed). A measurement, not a test:
 * it prints what happened and never fails on it.
 *
 * The corpus is test/corpus's (the processor tests' table of hostile files and their reasons), a
 * JPEG+ZIP polyglot (a valid JPEG: processed, the ZIP tail dropped by the re-encode), and controls
 * that must be processed: a 12 MP photo, two HEICs (a 12 MP one and a small one with GPS: decoded
 * in WebAssembly, whose memory stays with its thread) and the largest PNG the pixel limit lets in,
 * all zeros (a bomb under the limit: 40 MP decoded in full, PNG has no shrink-on-load). Round 1
 * uploads the files one at a time and waits for each (a peak per file); later rounds upload the
 * whole corpus at once (the worker's slots all busy with hostile files).
 *
 *   flock /tmp/faultline-infra.lock node services/photos/bench/hostile-rss.ts
 *   flock /tmp/faultline-infra.lock node services/photos/bench/hostile-rss.ts --rounds 5 --cap-mb 512
 *
 * Writes results/photos/hostile-rss/<timestamp>/{hostile-rss.json,hostile-rss.md}. Own world
 * (lab_benchhostile, lab-benchhostile), direct connections, emptied at the start and the end.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  linkLatest,
  machineLine,
  markdownTable,
  num,
  parseBenchCli,
  processRssBytes,
  writeJson,
} from '@faultline/bench'
import { startPhotos } from '../src/bench-target.ts'
import { formatMegapixels } from '../src/processor/limits.ts'
import * as corpus from '../test/corpus/corpus.ts'
import { hostileCases } from '../test/corpus/hostile-cases.ts'
import { beginRun, openWorld } from './processing-system.ts'

const usage = `Usage: node services/photos/bench/hostile-rss.ts [options]

The worker process's RSS across the hostile corpus uploaded through the API, each file's outcome
and reason, whether the worker survived, peak RSS vs a cap. Needs the native infra; run it under
the infra lock. About a minute with the defaults.

  --rounds N        round 1 one file at a time, then N-1 rounds of the whole corpus at once (default 3)
  --cap-mb N        the stated RSS cap in MiB (default 1024: the worker's compose mem_limit)
  --timeout-s N     longest wait for one round to settle (default 120)
  --port N          the API's port (default 3363)
  --out DIR         results root (default <repo>/results)
  -h, --help`

// An unknown or malformed flag: one line naming it and the usage, exit 2 (not a stack trace).
const { values, positive } = parseBenchCli(
  {
    rounds: { type: 'string', default: '3' },
    'cap-mb': { type: 'string', default: '1024' },
    'timeout-s': { type: 'string', default: '120' },
    port: { type: 'string', default: '3363' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  usage,
)
const rounds = positive('rounds')
const capBytes = positive('cap-mb') * 2 ** 20
const timeoutMs = positive('timeout-s') * 1000
const port = positive('port')
const MiB = 2 ** 20

interface CorpusFile {
  name: string
  bytes: Buffer
  /** The reason the photo must fail with; undefined: it must be processed (`ready`). */
  reason: string | undefined
}

interface Outcome {
  round: number
  file: string
  /** 201 → the photo's final status; otherwise the upload's own refusal. */
  status: string
  reason: string
  expected: string
  asExpected: boolean
  /** Round 1 only: the worker's peak RSS while this file was uploaded and processed. */
  peakRssBytes: number | null
}

const { out, log, machine, command } = await beginRun('hostile-rss', values.out)

const plain = await corpus.plainJpeg()
const world = await openWorld('benchhostile')
const underLimitSide = Math.floor(Math.sqrt(world.config.limits.maxPixels))
const files: CorpusFile[] = [
  ...hostileCases(() => plain).map((c) => ({ name: c.name, bytes: c.bytes(), reason: c.reason })),
  { name: 'polyglot: a JPEG with a ZIP appended', bytes: corpus.jpegZipPolyglot(plain), reason: undefined },
  { name: 'control: a 12 MP photo', bytes: await corpus.jpeg12Megapixels(), reason: undefined },
  // HEIC is decoded in WebAssembly, whose memory grows to the image and stays with its thread.
  { name: 'control: a 12 MP iPhone-size HEIC', bytes: await corpus.heic12Megapixels(), reason: undefined },
  { name: 'control: a HEIC with EXIF GPS', bytes: await corpus.heicWithExif(), reason: undefined },
  {
    name: `bomb under the limit: a ${underLimitSide} × ${underLimitSide} PNG of zeros (${formatMegapixels(underLimitSide ** 2)})`,
    bytes: corpus.zeroPng(underLimitSide),
    reason: undefined,
  },
]
await world.reset()
const sys = await startPhotos({ port, logDir: out, worker: true }, world.env)
const worker = sys.worker
if (worker === undefined) throw new Error('the worker did not start')
const workerPid = worker.pid

/** RSS samples of the worker; `peakSince(mark)` is the peak after a sample index. */
const samples: { tMs: number; rss: number }[] = []
const sampler = setInterval(() => {
  const rss = processRssBytes(worker.pid)
  if (rss !== undefined) samples.push({ tMs: Date.now(), rss })
}, 50)
const peakSince = (mark: number) => Math.max(0, ...samples.slice(mark).map((s) => s.rss))

async function upload(owner: string, file: CorpusFile): Promise<{ id?: string; refusal?: string }> {
  const form = new FormData()
  form.append('file', new Blob([new Uint8Array(file.bytes)]), 'upload.bin')
  const res = await fetch(`${sys.baseUrl}/api/photos`, {
    method: 'POST',
    body: form,
    headers: { 'x-user-id': owner },
  })
  const text = await res.text()
  let body: { id?: string; code?: string; message?: string; field?: string } = {}
  try {
    body = JSON.parse(text) as typeof body
  } catch {
    return { refusal: `${res.status} (not JSON: ${text.slice(0, 80)})` }
  }
  if (res.status === 201 && body.id) return { id: body.id }
  return { refusal: `${res.status} ${body.code ?? ''} ${body.field ?? ''} ${body.message ?? ''}`.trim() }
}

/** Polls the photo until it leaves `processing`; its status and reason (or a timeout). */
async function settle(
  owner: string,
  id: string,
  deadline: number,
): Promise<{ status: string; reason: string }> {
  while (Date.now() < deadline) {
    const res = await fetch(`${sys.baseUrl}/api/photos/${id}`, { headers: { 'x-user-id': owner } })
    const body = (await res.json().catch(() => ({}))) as { status?: string; reason?: string }
    if (body.status !== 'processing')
      return { status: body.status ?? `HTTP ${res.status}`, reason: body.reason ?? '' }
    await sleep(100)
  }
  return { status: 'still processing (timed out)', reason: '' }
}

function outcome(
  round: number,
  file: CorpusFile,
  status: string,
  reason: string,
  peak: number | null,
): Outcome {
  const expected = file.reason === undefined ? 'ready' : `failed: ${file.reason}`
  // A hostile file may also be refused by the API itself: a 4xx whose body names the field.
  const refusedWithReason = status === 'refused at upload' && /^4\d\d \S+ \S+/.test(reason)
  const asExpected =
    file.reason === undefined
      ? status === 'ready'
      : (status === 'failed' && reason === file.reason) || refusedWithReason
  return { round, file: file.name, status, reason, expected, asExpected, peakRssBytes: peak }
}

async function runFile(round: number, i: number, file: CorpusFile, deadline: number): Promise<Outcome> {
  const mark = samples.length
  const owner = `hostile-${round}-${i}`
  const sent = await upload(owner, file)
  const settled = sent.id
    ? await settle(owner, sent.id, deadline)
    : { status: 'refused at upload', reason: sent.refusal ?? '' }
  return outcome(round, file, settled.status, settled.reason, round === 1 ? peakSince(mark) : null)
}

const outcomes: Outcome[] = []
let roundPeaks: number[] = []
let baseline = 0
let exit: number | null | undefined
let finalRss: number | null = null
try {
  await sleep(1000) // the worker's idle RSS, after start
  baseline = peakSince(0)
  log(`worker pid ${worker.pid}, idle RSS ${num(baseline / MiB)} MiB; cap ${num(capBytes / MiB)} MiB`)
  roundPeaks = []
  for (let round = 1; round <= rounds; round++) {
    const mark = samples.length
    const deadline = Date.now() + timeoutMs
    if (round === 1) {
      for (const [i, file] of files.entries()) outcomes.push(await runFile(round, i, file, deadline))
    } else {
      outcomes.push(...(await Promise.all(files.map((file, i) => runFile(round, i, file, deadline)))))
    }
    roundPeaks.push(peakSince(mark))
    const exit = worker.exitCode()
    log(
      `round ${round} (${round === 1 ? 'one at a time' : 'all at once'}): peak RSS ${num(peakSince(mark) / MiB)} MiB; worker ${exit === undefined ? 'alive' : `EXITED (${exit})`}`,
    )
  }
} finally {
  clearInterval(sampler)
  // Read before stopping: whether the worker is still the process it started as, and its RSS now.
  exit = worker.exitCode()
  finalRss = processRssBytes(worker.pid) ?? null
  await sys.stop()
  await world.reset()
  await world.close()
}

const peak = Math.max(0, ...samples.map((s) => s.rss))
const result = {
  schema: 'faultline.photos-hostile-rss/1',
  finishedAt: new Date().toISOString(),
  machine,
  command,
  limits: world.config.limits,
  capBytes,
  baselineRssBytes: baseline,
  peakRssBytes: peak,
  finalRssBytes: finalRss,
  roundPeakRssBytes: roundPeaks,
  workerSurvived: exit === undefined,
  workerExitCode: exit ?? null,
  samples: samples.length,
  allAsExpected: outcomes.every((o) => o.asExpected),
  outcomes,
}
writeJson(join(out, 'hostile-rss.json'), result)
const md = render()
writeFileSync(join(out, 'hostile-rss.md'), md)
linkLatest(out)
process.stdout.write(`\n${md}\nResults: ${out}\n`)

function render(): string {
  const mib = (b: number | null) => (b === null ? '-' : `${num(b / MiB)} MiB`)
  const first = outcomes.filter((o) => o.round === 1)
  const unexpected = outcomes.filter((o) => !o.asExpected)
  return `# Photos: worker RSS across the hostile corpus (${result.finishedAt})

- Command: \`${result.command}\`
- Machine: ${machineLine(machine)}
- Limits: ${formatMegapixels(result.limits.maxPixels)}, ${result.limits.maxFrames} frames, ${num(result.limits.maxBytes / MiB)} MiB, ${num(result.limits.maxTimeMs / 1000)} s; worker defaults (2 + 1 slots, sandbox threads with a 64 MB heap)

${markdownTable(
  ['measure', 'cap / expectation', 'measured', ''],
  [
    [
      'worker peak RSS (sampled every 50 ms)',
      mib(capBytes),
      `**${mib(peak)}** (idle ${mib(baseline)}, rounds ${roundPeaks.map((p) => num(p / MiB)).join(' / ')} MiB, at the end ${mib(finalRss)})`,
      peak <= capBytes ? 'under the cap' : 'OVER the cap',
    ],
    [
      'the worker never crashed',
      'same process throughout',
      exit === undefined ? `alive (pid ${workerPid})` : `exited with ${exit}`,
      exit === undefined ? 'yes' : 'NO',
    ],
    [
      'each file refused or failed with its reason (controls processed)',
      `${outcomes.length} uploads`,
      `${outcomes.length - unexpected.length} as expected`,
      unexpected.length === 0
        ? 'yes'
        : `NO: ${unexpected.map((o) => `${o.file} (round ${o.round}): ${o.status} ${o.reason}`).join('; ')}`,
    ],
  ],
)}

Round 1, one file at a time:

${markdownTable(
  ['file', 'bytes', 'outcome', 'reason', 'worker peak RSS'],
  first.map((o) => [
    o.file,
    String(files.find((f) => f.name === o.file)?.bytes.length ?? '-'),
    o.asExpected ? o.status : `**${o.status}** (expected ${o.expected})`,
    o.reason || '-',
    mib(o.peakRssBytes),
  ]),
)}
`
}
