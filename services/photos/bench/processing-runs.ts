/**
 * The three runs of bench/processing.ts, each over the same image `count` times with `concurrency`
 * images in flight:
 *
 *   rawSharp    the ceiling: sharp called directly in this process — decode once to the preview
 *               size, WebP + JPEG, shrink to the thumbnail, WebP + JPEG, the 100 px placeholder —
 *               the same derivatives as the processor, with none of its checks, no thread hop,
 *               no queue, no S3, no Postgres;
 *   processor   the service's processImage in a SandboxPool in this process (type sniff, header
 *               checks, hashes, the thread hop): what the pipeline adds before any I/O;
 *   worker      the real path: the originals uploaded through the API while no worker runs, then
 *               a worker process started (BullMQ lane worker → S3 GET → sandbox pool → four S3
 *               PUTs → Postgres `ready` → SSE announcement), completions from `processed_at`.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuSecondsByGroup, processCpuSeconds } from '@faultline/bench'
import sharp from 'sharp'
import { rgbaToThumbHash } from 'thumbhash'
import type { PhotoProcesses } from '../src/bench-target.ts'
import type { ProcessingLimits } from '../src/processor/limits.ts'
import { SandboxPool } from '../src/processor/sandbox.ts'
import { jpegBackground, placeholderMaxSidePx, variantTable } from '../src/processor/variants.ts'
import { type BenchWorld, cpuMsPerImage, hostBusy, middleRate } from './processing-system.ts'

export interface RunResult {
  images: number
  /** Images/s over the middle 80 % (see middleRate); null when too few completed. */
  perSecond: number | null
  windowSeconds: number | null
  wallSeconds: number
  /** The machine's busy share of both cores over the run. */
  hostBusy: number | null
  /** CPU seconds per image of the process that did the work (this one, or the worker). */
  cpuSecondsPerImage: number | null
  /** Where the machine's CPU went during the run, ms per image by process group (cpuSecondsByGroup). */
  cpuMsPerImageByGroup: Record<string, number>
  failed: number
}

const sizeOf = (name: string) => variantTable.find((v) => v.name === name)?.maxSidePx ?? 0

/** The derivatives with sharp and nothing else (the same table, quality and order as the processor). */
export async function rawDerivatives(bytes: Buffer): Promise<number> {
  const fit = { fit: 'inside', withoutEnlargement: true } as const
  let written = 0
  let raw = await sharp(bytes, { sequentialRead: true, autoOrient: true, pages: 1 })
    .resize(sizeOf('preview'), sizeOf('preview'), fit)
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true })
  for (const size of ['preview', 'thumb']) {
    if (size === 'thumb') {
      raw = await sharp(raw.data, { raw: raw.info })
        .resize(sizeOf('thumb'), sizeOf('thumb'), fit)
        .raw()
        .toBuffer({ resolveWithObject: true })
    }
    const quality = variantTable.find((v) => v.name === size)?.quality ?? 80
    written += (await sharp(raw.data, { raw: raw.info }).webp({ quality }).toBuffer()).length
    written += (
      await sharp(raw.data, { raw: raw.info })
        .flatten({ background: jpegBackground })
        .jpeg({ quality })
        .toBuffer()
    ).length
  }
  const small = await sharp(raw.data, { raw: raw.info })
    .resize(placeholderMaxSidePx, placeholderMaxSidePx, fit)
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  return written + rgbaToThumbHash(small.info.width, small.info.height, small.data).length
}

/** `count` calls of `work` with `concurrency` in flight; completion times and failures. */
async function inFlight(
  count: number,
  concurrency: number,
  work: () => Promise<unknown>,
): Promise<{ doneAtMs: number[]; failed: number }> {
  const doneAtMs: number[] = []
  let next = 0
  let failed = 0
  const lane = async () => {
    while (next < count) {
      next += 1
      try {
        await work()
        doneAtMs.push(Date.now())
      } catch {
        failed += 1
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return { doneAtMs, failed }
}

async function inThisProcess(
  count: number,
  concurrency: number,
  known: ReadonlyMap<number, string>,
  work: () => Promise<unknown>,
): Promise<RunResult> {
  const groupsBefore = cpuSecondsByGroup(known)
  const busy = hostBusy()
  const cpuBefore = process.cpuUsage()
  const started = Date.now()
  const { doneAtMs, failed } = await inFlight(count, concurrency, work)
  const cpu = process.cpuUsage(cpuBefore)
  const rate = middleRate(doneAtMs)
  return {
    images: doneAtMs.length,
    perSecond: rate?.perSecond ?? null,
    windowSeconds: rate?.seconds ?? null,
    wallSeconds: (Date.now() - started) / 1000,
    hostBusy: busy() ?? null,
    cpuSecondsPerImage: doneAtMs.length > 0 ? (cpu.user + cpu.system) / 1e6 / doneAtMs.length : null,
    cpuMsPerImageByGroup: cpuMsPerImage(groupsBefore, cpuSecondsByGroup(known), doneAtMs.length),
    failed,
  }
}

export function measureRawSharp(
  bytes: Buffer,
  count: number,
  concurrency: number,
  known: ReadonlyMap<number, string>,
): Promise<RunResult> {
  return inThisProcess(count, concurrency, known, () => rawDerivatives(bytes))
}

/** processImage in a pool of `concurrency` threads (warmed first: thread start is not processing). */
export async function measureProcessor(
  bytes: Buffer,
  limits: ProcessingLimits,
  count: number,
  concurrency: number,
  known: ReadonlyMap<number, string>,
): Promise<RunResult> {
  const pool = new SandboxPool({ size: concurrency })
  try {
    await Promise.all(Array.from({ length: concurrency }, () => pool.run(bytes, limits)))
    return await inThisProcess(count, concurrency, known, () => pool.run(bytes, limits))
  } finally {
    await pool.close()
  }
}

/** `POST /api/photos` of `bytes` as `owner`; the photo id (201 expected). */
export async function uploadPhoto(
  baseUrl: string,
  owner: string,
  bytes: Buffer,
  filename: string,
): Promise<string> {
  const form = new FormData()
  form.append('file', new Blob([new Uint8Array(bytes)]), filename)
  const res = await fetch(`${baseUrl}/api/photos`, {
    method: 'POST',
    body: form,
    headers: { 'x-user-id': owner },
  })
  const body = (await res.json()) as { id?: string; code?: string }
  if (res.status !== 201 || body.id === undefined)
    throw new Error(`upload as ${owner}: ${res.status} ${JSON.stringify(body)}`)
  return body.id
}

export interface WorkerRunOptions {
  world: BenchWorld
  /** The system in the world, started without its worker: this run starts and stops it. */
  system: PhotoProcesses
  bytes: Buffer
  count: number
  concurrency: number
  timeoutMs: number
  /** pid → name of the processes already running (the bench, the API). */
  known: ReadonlyMap<number, string>
  /** Extra env of the worker process (e.g. NODE_OPTIONS for a CPU profile). */
  workerEnv?: Record<string, string>
  log: (line: string) => void
}

/**
 * The real path. Each copy is uploaded by an owner of its own (the same bytes from one owner
 * would be one photo), all before the worker starts, so the run measures processing alone; then
 * a worker process drains the new lane, and each photo's `processed_at` (stamped by Postgres in
 * the transaction that makes it `ready`) is its completion time.
 */
export async function measureWorker(
  o: WorkerRunOptions,
): Promise<RunResult & { byStatus: Record<string, number> }> {
  const ownerPrefix = `bench-${Date.now().toString(36)}-`
  let owners = 0
  const uploaded = await inFlight(o.count, 4, () => {
    owners += 1
    return uploadPhoto(o.system.baseUrl, `${ownerPrefix}${owners}`, o.bytes, 'bench.jpg')
  })
  if (uploaded.failed > 0) o.log(`worker run: ${uploaded.failed} uploads failed`)
  o.log(`worker run: ${uploaded.doneAtMs.length} photos waiting in the new lane; starting the worker`)
  const groupsBefore = cpuSecondsByGroup(o.known)
  const busy = hostBusy()
  const started = Date.now()
  const worker = await o.system.startWorker({
    WORKER_CONCURRENCY_NEW: String(o.concurrency),
    ...o.workerEnv,
  })
  const schema = o.world.fixture.schema
  try {
    const deadline = Date.now() + o.timeoutMs
    let byStatus: Record<string, number> = {}
    while (Date.now() < deadline) {
      const { rows } = await o.world.pg.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM ${schema}.photos WHERE starts_with(owner_id, $1) GROUP BY status`,
        [ownerPrefix],
      )
      byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]))
      if ((byStatus.processing ?? 0) === 0) break
      await sleep(200)
    }
    const wallSeconds = (Date.now() - started) / 1000
    const cpu = processCpuSeconds(worker.pid)
    const groupsAfter = cpuSecondsByGroup(new Map([...o.known, [worker.pid, 'worker']]))
    const { rows } = await o.world.pg.query<{ at: number }>(
      `SELECT extract(epoch FROM processed_at) * 1000 AS at FROM ${schema}.photos
        WHERE starts_with(owner_id, $1) AND status = 'ready'`,
      [ownerPrefix],
    )
    const rate = middleRate(rows.map((r) => Number(r.at)))
    return {
      images: rows.length,
      perSecond: rate?.perSecond ?? null,
      windowSeconds: rate?.seconds ?? null,
      wallSeconds,
      hostBusy: busy() ?? null,
      // Includes the worker's start (≈ 1 s of loading modules): a slight overstatement.
      cpuSecondsPerImage: cpu !== undefined && rows.length > 0 ? cpu / rows.length : null,
      cpuMsPerImageByGroup: cpuMsPerImage(groupsBefore, groupsAfter, rows.length),
      failed: (byStatus.failed ?? 0) + uploaded.failed,
      byStatus,
    }
  } finally {
    await o.system.stopWorker()
  }
}
