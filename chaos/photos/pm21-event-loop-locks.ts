/**
 * pm21 — image work on the event loop under a burst lets job locks expire (Immich, PR #27742:
 * thumbnail generation at concurrency 20 on 2 cores blocked the Node event loop, BullMQ could not
 * renew its 30 s job locks, the jobs were declared stalled and run again, and the queue froze).
 *
 * The work that blocks the loop here is real: iPhone photos are HEIC, which sharp's prebuilt
 * binaries cannot decode, so the processor decodes them with libheif compiled to WebAssembly
 * (services/photos/src/processor/heic.ts) — synchronous, ≈ 0.6 s of one core for a 12-megapixel
 * photo. k6 uploads a batch of 12-megapixel HEICs (each by a fresh owner: one job per 201) while
 * the worker is away (Immich's repro: upload a large batch); it comes back to the backlog taking
 * WORKER_CONCURRENCY_NEW jobs at once.
 *
 * Naive (`sandboxedProcessing` off): the decodes run on the worker's own event loop, and several
 * land back to back. BullMQ's renewal timer cannot run; the locks lapse, the stalled check puts
 * the jobs back and they run again (a job that stalls twice fails "job stalled more than allowable
 * limit" and is dead-lettered), while the first runs finish too and find their locks gone.
 * Hardened: the decodes run in the worker's processor threads, the loop stays free to renew every
 * lock, and every job runs once.
 *
 * Scaled down together with Immich's numbers: its lock was BullMQ's default 30 s against tens of
 * seconds of blocking; here JOB_LOCK_MS is 1 s (renewed every 0.5 s, the stalled check every
 * second) against 0.6 s decodes that chain. With a 3 s lock the naive run held: reading each
 * original from S3 spreads the decodes, so the renewal gets a turn between most of them
 * (docs/photos.md, pm21). The hardened run has the same lock.
 *
 * Measured on this 2-core machine (2026-12-06), CI variant (5 uploads/s for 6 s, the worker away
 * for the first 5), 5 runs of 5 and the CI's: naive 46–62 processing runs for 30–31 uploads
 * (21 of them again after a lapsed lock, the one run that counted those), 43–58 lapsed locks,
 * 16–26 ready and 5–9 failed as stalled; hardened 31 runs for 31, none again, all ready.
 * 70–79 s of wall time for both modes.
 */
import { defineExperiment, errorRateBelow, invariant, type RunContext, service, stop } from '@faultline/lab'
import { PhotosFixture } from '@faultline/photos/fixture'
import photos from '@faultline/photos/system'
import { noneProcessing, resetWorld } from './lib/world.ts'

const fixture = new PhotosFixture({ name: 'pm21' })
const ownerPrefix = 'heic-'
const concurrency = 8
const lockMs = 1000

async function eachJobOnce(ctx: RunContext) {
  const acked = ctx.ledger.select({ op: 'upload' }).okCount
  const runs = ctx.metrics.delta('photos_job_runs_total', { lane: 'new' })
  // Runs of jobs whose lock lapsed at least once (BullMQ's stalledCounter) — not every run, so a
  // retry after an ordinary failure of a job that never stalled (S3 away, say) does not count.
  // Nothing else retries a job in this experiment.
  const reruns = ctx.metrics.delta('photos_job_reruns_after_stall_total', { lane: 'new' })
  const stalled = ctx.metrics.delta('photos_jobs_stalled_total', { lane: 'new' })
  return {
    holds: acked > 0 && reruns === 0 && stalled === 0,
    observed: `${runs} processing runs for ${acked} acknowledged uploads, ${reruns} of them again after a lapsed lock; ${stalled} lapsed job locks found`,
  }
}

async function burstProcessed(ctx: RunContext) {
  const acked = ctx.ledger.select({ op: 'upload' }).okCount
  const c = await fixture.statusCounts(ctx.pg, ownerPrefix)
  const failed = (await fixture.photos(ctx.pg, ownerPrefix)).filter((p) => p.status === 'failed')
  const example = failed[0]?.reason
  return {
    holds: acked > 0 && c.total === acked && c.ready === acked,
    observed: `${c.ready} of ${acked} acknowledged uploads ready; ${c.failed} failed${example ? ` (e.g. "${example}")` : ''}, ${c.processing} still processing`,
  }
}

function describe(loadS: number, rate: number): string {
  return (
    `A batch of 12-megapixel HEICs (${rate} uploads/s for ${loadS} s) uploaded while the worker is away; it comes back at concurrency ${concurrency} with a job lock of ${lockMs / 1000} s (Immich's: 30 s, against longer stalls). ` +
    "Naive (sandboxedProcessing off) decodes them on the worker's event loop (WebAssembly, ≈ 0.6 s each, several back to back): lock renewal cannot run, locks lapse, jobs run twice or fail as stalled. " +
    'Hardened decodes them in processor threads: every job runs once and the burst is processed.'
  )
}

export default defineExperiment({
  id: 'pm21',
  slug: 'event-loop-locks',
  system: photos,
  title: 'Image work on the event loop: job locks lapse and jobs run twice, or threads keep the loop free',
  description: describe(10, 6),
  services: { api: { instances: 1 }, worker: { instances: 1 } },
  env: {
    ...fixture.env,
    WORKER_CONCURRENCY_NEW: String(concurrency),
    JOB_LOCK_MS: String(lockMs),
    JOB_STALLED_CHECK_MS: '1000',
  },
  mitigations: { sandboxedProcessing: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'redis-queue', 's3', 'k6'],
  reset: (ctx) => resetWorld(fixture, ctx),
  load: {
    script: 'chaos/photos/load/uploads.js',
    durationS: 10,
    env: {
      RATE: '6',
      OWNER_PREFIX: ownerPrefix,
      IMAGE: '../../../loadtests/photos/fixtures/photo-12mp.heic',
      IMAGE_NAME: 'IMG_0001.HEIC',
      IMAGE_TYPE: 'image/heic',
      TIMEOUT: '15s',
    },
  },
  timeline: [
    {
      at: 0,
      until: 12,
      action: stop(service('worker', 0)),
      label: 'worker away while the batch is uploaded',
    },
  ],
  settleS: 60,
  // Every photo of the batch terminal: ready, or failed after stalling too often.
  settleUntil: (ctx) => noneProcessing(fixture, ctx, ownerPrefix),
  invariants: [
    invariant(
      'each job runs once',
      'no job run again after its lock lapsed; none found with a lapsed lock',
      eachJobOnce,
      { metric: 'photos_job_reruns_after_stall_total' },
    ),
    invariant('the burst is processed', 'every acknowledged upload ready', burstProcessed, {
      metric: 'photos_jobs_total',
    }),
    errorRateBelow(0.01, {
      op: 'upload',
      window: 'all',
      expect: 'always',
      name: 'uploads acknowledged during the burst (k6)',
    }),
  ],
  ci: {
    description: describe(6, 5),
    load: { durationS: 6, env: { RATE: '5' } },
    timeline: [
      {
        at: 0,
        until: 5,
        action: stop(service('worker', 0)),
        label: 'worker away while the batch is uploaded',
      },
    ],
    // Hardened ends its settle as soon as every photo is terminal (≈ 15 s after the load on a quiet
    // machine); with a busy loop taking one of the two cores, 30 photos took it past 40 s.
    settleS: 55,
  },
})
