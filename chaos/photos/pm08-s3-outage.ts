/**
 * pm08 — S3 stopped during uploads (the AWS S3 us-east-1 outage of 2017-02-28: four hours of
 * failed PUTs and GETs; an upload service either refuses honestly or acknowledges what it cannot
 * keep).
 *
 * The outage: the s3 Toxiproxy proxy is disabled (connections refused, open ones dropped) while
 * k6 uploads JPEGs at a steady rate, each by a fresh owner. Just before it, the worker is held
 * (SIGSTOP) for a few seconds, so a backlog of acknowledged uploads is waiting when S3 goes and
 * the worker resumes into the outage: the hardened promise is that those are processed too.
 * Mid-outage one more upload is tried from here, to see what a client is told.
 *
 * Naive (durableAck and s3Breaker off): the API spools the bytes to a local file and answers 201;
 * the S3 write afterwards fails (spool.ts: nothing retries it) — every upload acknowledged during
 * the outage has no original in S3, and its job then fails "no object" until it is dead-lettered.
 * The worker, without the breaker, spends the backlog's attempts on the outage and dead-letters
 * them too, though their bytes are safe. Hardened: the upload streams to S3 and the 201 waits for
 * it, so during the outage the API answers 503 + Retry-After (fast, once the breaker is open; k6
 * counts them as refused — the client keeps its file and retries, nothing was acknowledged); the
 * worker's jobs that meet the open breaker wait for S3 without spending their attempts
 * (LaneWorkers' deferFor), and every acknowledged upload is ready after S3 returns.
 *
 * Both invariants that must fail naive are read from the stores, not from metrics: every photo
 * row (a photo row exists only for an acknowledged upload) has its original in S3, listed from
 * S3 itself; every one of them is `ready`.
 *
 * JOB_BACKOFF_MS is 250 (instead of 1 000) so the naive jobs spend their 3 attempts within the
 * run and settle as failed instead of waiting minutes; it changes when, not whether, they fail.
 *
 * Measured on this 2-core machine (2026-12-06): CI variant (10 s at 4 uploads/s, S3 gone 5 s),
 * 2 runs of 2 with the same counts — naive, 41 of 41 uploads answered 201 and 21 of the 42
 * acknowledged photos (the mid-outage one included) without an original in S3, 17 ready, 25
 * failed; hardened, 23 uploads refused with 503 + Retry-After (12–15 ms once the breaker is open),
 * 18 acknowledged, all 18 with their original and ready. 33–34 s of wall time for both modes.
 * With the worker's deferral removed (a trial), hardened 8 of 18 ended dead-lettered.
 */
import {
  action,
  defineExperiment,
  disconnect,
  type FaultContext,
  type HookContext,
  invariant,
  type Mode,
  pause,
  type RunContext,
  service,
} from '@faultline/lab'
import { PhotosFixture } from '@faultline/photos/fixture'
import photos from '@faultline/photos/system'
import { hostileUploads, tryUpload, type UploadAnswer } from './lib/uploads.ts'
import { noneProcessing, resetWorld } from './lib/world.ts'

const fixture = new PhotosFixture({ name: 'pm08' })
const ownerPrefix = 'pm08-'
const probeOwner = 'probe-outage'
/** What the upload tried mid-outage was answered, per mode. */
const probes = new Map<Mode, UploadAnswer>()

async function reset(ctx: HookContext): Promise<void> {
  probes.delete(ctx.mode)
  await resetWorld(fixture, ctx)
}

const uploadDuringOutage = action('one upload tried while S3 is gone', async (ctx: FaultContext) => {
  const answer = await tryUpload(ctx.url('api', 0), probeOwner, await hostileUploads.plainJpeg())
  probes.set(ctx.mode, answer)
  return {
    note: `HTTP ${answer.status || 'none'} in ${answer.ms} ms, Retry-After: ${answer.retryAfter ?? 'absent'}`,
  }
})

/** Every photo terminal (ready or failed): what the naive run lost is simply never ready. */
async function settled(ctx: HookContext): Promise<boolean> {
  return noneProcessing(fixture, ctx)
}

async function originalsDurable(ctx: RunContext) {
  const all = await fixture.photos(ctx.pg, '')
  const missing = await fixture.originalsMissing(ctx, '')
  return {
    holds: all.length > 0 && missing.length === 0,
    observed: `${missing.length} of ${all.length} acknowledged uploads have no original in S3`,
  }
}

async function acknowledgedProcessed(ctx: RunContext) {
  const acked = ctx.ledger.select({ op: 'upload' }).okCount
  const c = await fixture.statusCounts(ctx.pg, ownerPrefix)
  const probe = await fixture.statusCounts(ctx.pg, probeOwner)
  const total = c.total + probe.total
  const ready = c.ready + probe.ready
  return {
    holds: acked > 0 && c.total === acked && ready === total,
    observed: `${ready} of ${total} acknowledged uploads ready (${acked} 201s to k6, ${probe.total} to the mid-outage upload); ${c.failed + probe.failed} failed, ${c.processing + probe.processing} processing`,
  }
}

async function refusedDuringOutage(ctx: RunContext) {
  const probe = probes.get(ctx.mode)
  if (probe === undefined) return { holds: false, observed: 'the mid-outage upload was not tried' }
  return {
    holds: probe.status === 503 && probe.retryAfter !== undefined,
    observed: `HTTP ${probe.status || 'no answer'} after ${probe.ms} ms, Retry-After: ${probe.retryAfter ?? 'absent'}`,
  }
}

function answeredEveryUpload(ctx: RunContext) {
  const uploads = ctx.ledger.select({ op: 'upload' })
  const statuses = uploads.statusCounts()
  const other = Object.entries(statuses).filter(([s]) => s !== '201' && s !== '503')
  return {
    holds: uploads.count > 0 && other.length === 0,
    observed: `${uploads.count} uploads: ${Object.entries(statuses)
      .map(([s, n]) => `${n}× ${s === '0' ? 'no answer' : s}`)
      .join(', ')}`,
  }
}

function timeline(holdAt: number, outageAt: number, outageUntil: number) {
  return [
    { at: holdAt, until: outageAt + 2, action: pause(service('worker', 0)), label: 'worker held: a backlog' },
    { at: outageAt, until: outageUntil, action: disconnect('s3'), label: 'S3 down (proxy disabled)' },
    { at: outageAt + 3, action: uploadDuringOutage, label: 'an upload mid-outage' },
  ]
}

function describe(loadS: number, rate: number, outageS: number): string {
  return (
    `${rate} uploads/s for ${loadS} s, S3 unreachable for ${outageS} s of them, the worker held just before it so a backlog meets the outage. ` +
    'Naive (durableAck, s3Breaker off) answers 201 from a local spool whose S3 write then fails: acknowledged uploads without an original, never processed. ' +
    'Hardened answers 503 + Retry-After while S3 is gone, jobs wait behind the breaker, and every 201 has its original and is ready after S3 returns.'
  )
}

export default defineExperiment({
  id: 'pm08',
  slug: 's3-outage',
  system: photos,
  title: 'S3 stopped during uploads: acknowledged and lost, or refused and kept',
  description: describe(40, 4, 20),
  services: { api: { instances: 1 }, worker: { instances: 1 } },
  env: { ...fixture.env, JOB_BACKOFF_MS: '250' },
  mitigations: { durableAck: true, s3Breaker: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'redis-queue', 's3', 'k6'],
  reset,
  load: {
    script: 'chaos/photos/load/uploads.js',
    durationS: 40,
    env: { RATE: '4', OWNER_PREFIX: ownerPrefix },
  },
  timeline: timeline(6, 10, 30),
  settleS: 30,
  settleUntil: settled,
  invariants: [
    invariant(
      'no 201 without a durable object',
      "every acknowledged upload's original is in S3 (listed from S3 after it returned)",
      originalsDurable,
    ),
    invariant(
      'every acknowledged upload processed after S3 returns',
      'every photo ready',
      acknowledgedProcessed,
      { metric: 'photos_jobs_total' },
    ),
    invariant(
      'an upload during the outage is refused, not acknowledged',
      '503 with Retry-After',
      refusedDuringOutage,
    ),
    invariant(
      'every upload answered',
      'each 201 or 503 (none timed out or failed otherwise)',
      answeredEveryUpload,
      {
        expect: 'always',
      },
    ),
  ],
  ci: {
    description: describe(10, 4, 5),
    load: { durationS: 10, env: { RATE: '4' } },
    timeline: timeline(1, 2, 7),
    settleS: 20,
  },
})
