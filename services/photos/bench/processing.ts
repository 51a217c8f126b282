#!/usr/bin/env node
/**
 * Processed images/s through the photo system's real worker vs raw sharp doing the same
 * derivatives, in one run on one machine (issue 13: target ≥ 0.8×). A measurement, not a test: it
 * prints whether the target was met and never fails on it. Runs, in order (processing-runs.ts):
 * raw sharp, processImage in a thread pool, the worker process draining uploads, raw sharp again.
 *
 *   flock /tmp/faultline-infra.lock node services/photos/bench/processing.ts
 *   flock /tmp/faultline-infra.lock node services/photos/bench/processing.ts --count 60 --image 800x600
 *
 * Writes results/photos/processing/<timestamp>/{processing.json,processing.md}. The system runs in
 * its own world (schema lab_benchprocessing, prefixes and bucket lab-benchprocessing; direct
 * connections), emptied at the start and the end.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { linkLatest, machineLine, parseBenchCli, writeJson } from '@faultline/bench'
import sharp from 'sharp'
import { startPhotos } from '../src/bench-target.ts'
import * as corpus from '../test/corpus/corpus.ts'
import { renderProcessingReport } from './processing-report.ts'
import { measureProcessor, measureRawSharp, measureWorker } from './processing-runs.ts'
import { beginRun, openWorld } from './processing-system.ts'

const usage = `Usage: node services/photos/bench/processing.ts [options]

Processed images/s through the real worker (BullMQ lane worker, sandbox pool, S3, Postgres) vs raw
sharp making the same derivatives, in the same run. Needs the native infra; run it under the infra
lock. About a minute with the defaults.

  --count N         images per run (default 40)
  --concurrency N   images in flight: the worker's WORKER_CONCURRENCY_NEW and raw sharp's (default 2,
                    the service's default)
  --image NAME      12mp (a 4000×3000 photo-like JPEG, default) or 800x600 (a small JPEG)
  --timeout-s N     longest wait for the worker to drain (default 300)
  --port N          the API's port (default 3361)
  --profile         write CPU profiles of the worker process and its threads (node --cpu-prof)
                    to the results folder
  --out DIR         results root (default <repo>/results)
  -h, --help`

// An unknown or malformed flag: one line naming it and the usage, exit 2 (not a stack trace).
const { values, positive, fail } = parseBenchCli(
  {
    count: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '2' },
    image: { type: 'string', default: '12mp' },
    'timeout-s': { type: 'string', default: '300' },
    port: { type: 'string', default: '3361' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  usage,
)
const images: Record<string, () => Promise<Buffer>> = {
  '12mp': corpus.jpeg12Megapixels,
  '800x600': corpus.plainJpeg,
}
const makeImage =
  images[values.image as string] ??
  fail(`--image must be one of ${Object.keys(images).join(', ')}, got ${values.image}`)
const count = positive('count')
const concurrency = positive('concurrency')
const timeoutMs = positive('timeout-s') * 1000
const port = positive('port')
const target = 0.8

const { out, log, machine, command } = await beginRun('processing', values.out)

const bytes = await makeImage()
const meta = await sharp(bytes).metadata()
const image = { name: values.image as string, width: meta.width, height: meta.height, bytes: bytes.length }
const world = await openWorld('benchprocessing')
await world.reset()
const sys = await startPhotos({ port, logDir: out, worker: false }, world.env)
const known = new Map([
  [process.pid, 'bench'],
  [sys.api?.pid ?? 0, 'api'],
])
try {
  log(`warm-up: raw sharp, ${concurrency} images`)
  await measureRawSharp(bytes, concurrency, concurrency, known)
  log(`raw sharp: ${count} images, ${concurrency} in flight`)
  const rawBefore = await measureRawSharp(bytes, count, concurrency, known)
  log(`raw sharp: ${rawBefore.perSecond?.toFixed(2) ?? '-'} images/s`)
  const processor = await measureProcessor(bytes, world.config.limits, count, concurrency, known)
  log(`processor (sandbox pool in process): ${processor.perSecond?.toFixed(2) ?? '-'} images/s`)
  const worker = await measureWorker({
    world,
    system: sys,
    bytes,
    count,
    concurrency,
    timeoutMs,
    known,
    log,
    ...(values.profile ? { workerEnv: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${out}` } } : {}),
  })
  log(`worker: ${worker.perSecond?.toFixed(2) ?? '-'} images/s, final ${JSON.stringify(worker.byStatus)}`)
  const rawAfter = await measureRawSharp(bytes, count, concurrency, known)
  log(`raw sharp again: ${rawAfter.perSecond?.toFixed(2) ?? '-'} images/s`)

  const ceilings = [rawBefore.perSecond, rawAfter.perSecond].filter((v): v is number => v !== null)
  const ceilingPerSecond = ceilings.length > 0 ? ceilings.reduce((a, b) => a + b, 0) / ceilings.length : null
  const result = {
    schema: 'faultline.photos-processing/1',
    finishedAt: new Date().toISOString(),
    machine,
    command,
    image,
    count,
    concurrency,
    rawBefore,
    processor,
    worker,
    rawAfter,
    ceilingPerSecond,
    ratio: ceilingPerSecond && worker.perSecond !== null ? worker.perSecond / ceilingPerSecond : null,
    target,
  }
  writeJson(join(out, 'processing.json'), result)
  const md = renderProcessingReport(result, machineLine(machine))
  writeFileSync(join(out, 'processing.md'), md)
  linkLatest(out)
  process.stdout.write(`\n${md}\nResults: ${out}\n`)
} finally {
  await sys.stop()
  await world.reset()
  await world.close()
}
