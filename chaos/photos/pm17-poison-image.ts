/**
 * pm17 — a poison job among good uploads (PagerDuty, 2023-01-06: a message that always throws
 * stalled the pipeline; the photo system's form of it is immich#26702, a file that fails its
 * processor every time it is tried).
 *
 * What "always throws" means here. The hostile corpus (pixel floods, bombs, truncated and corrupt
 * files) is not a poison for this service: the processor refuses each of them as the image's
 * fault (a ProcessingError) and the photo is `failed` with its reason at once, without a retry, in
 * both modes — those uploads are here too, as the balance's "failed with a reason" term. The
 * poison is a job that fails with an error that is *not* the image's fault, which the worker must
 * retry because it could be an outage: a photo whose original can never be read (accepted with a
 * 201, then its object removed from S3 behind the service's back — what a lost write or a wrong
 * lifecycle rule leaves). Every attempt throws `no object at incoming/…`.
 *
 * The poison and the hostile files are uploaded through the API in setup while the worker is held
 * (SIGSTOP), and the poison's original removed before it resumes, so its first attempt already
 * finds nothing (uploaded while the worker runs, it could be processed before the removal). Then
 * k6 uploads good JPEGs at a steady rate, each by a fresh owner.
 *
 * Naive (`deadLetter` off): the job's attempts are unbounded (MAX_SAFE_INTEGER when enqueued),
 * so it is retried with exponential backoff for ever — still `processing` at the end, its owner
 * never told, and no end in sight. With backoff, a retry holds a worker
 * slot only while it runs: the good uploads are still processed (measured), so the harm here is the
 * job that never ends, not a blocked lane. Hardened: after JOB_ATTEMPTS (3) it goes to the
 * dead-letter queue with its reason and the photo is `failed` with the same reason, so
 * accepted = ready + failed-with-reason (the dead-lettered among the failed) holds.
 *
 * JOB_BACKOFF_MS is 250 instead of 1 000 so the hardened poison reaches its third attempt within
 * two seconds and the naive one is tried several times within the short run; it changes how often,
 * not whether, the naive job is retried.
 *
 * Measured on this 2-core machine (2026-12-06): CI variant (20 s at 3 uploads/s), 2 runs of 2
 * reproduced — naive, the poison still processing after 8 attempts, accepted 64 = 61 ready + 2
 * failed + 1 processing; hardened, dead-lettered after 3 with its reason, 64 = 61 + 3 (1 dead-
 * lettered) + 0; 53–63 s of wall time for both modes. Full variant once: 9 attempts naive, 164
 * accepted. The good uploads were all ready in both modes.
 */
import {
  action,
  defineExperiment,
  errorRateBelow,
  type FaultContext,
  type HookContext,
  invariant,
  type Mode,
  type RunContext,
} from '@faultline/lab'
import { PhotosFixture } from '@faultline/photos/fixture'
import photos from '@faultline/photos/system'
import { hostileUploads, uploadPhoto } from './lib/uploads.ts'
import { resetWorld } from './lib/world.ts'

const fixture = new PhotosFixture({ name: 'pm17' })
const attempts = 3
const goodPrefix = 'good-'
const poisonOwner = 'poison-owner'
/** The poison's photo id, per mode (set by the setup fault). */
const poisonIds = new Map<Mode, string>()

/** Held worker → the poison and the hostile files uploaded → the poison's original removed → worker resumed. */
const poisonAmongUploads = action(
  'with the worker held: a poison upload (its original then removed from S3) and two hostile files',
  async (ctx: FaultContext) => {
    const worker = ctx.fleet.instance('worker', 0)
    const api = ctx.url('api', 0)
    ctx.fleet.signal(worker, 'SIGSTOP')
    try {
      const poison = await uploadPhoto(api, poisonOwner, await hostileUploads.plainJpeg(), 'poison.jpg')
      const removedKey = await fixture.removeOriginal(ctx, poison.id)
      poisonIds.set(ctx.mode, poison.id)
      for (const h of hostileUploads.files()) await uploadPhoto(api, h.owner, h.bytes, h.filename)
      return {
        note: `poison photo ${poison.id}: ${removedKey} removed; ${hostileUploads.files().length} hostile files uploaded`,
      }
    } finally {
      ctx.fleet.signal(worker, 'SIGCONT')
    }
  },
)

async function setup(ctx: HookContext): Promise<void> {
  poisonIds.delete(ctx.mode)
  await ctx.inject(poisonAmongUploads, 'a poison upload among good ones (whole mode)')
}

async function settled(ctx: HookContext): Promise<boolean> {
  const rest = (await fixture.photos(ctx.pg, '')).filter((p) => p.ownerId !== poisonOwner)
  if (rest.some((p) => p.status === 'processing')) return false
  const id = poisonIds.get(ctx.mode)
  if (id === undefined) return true
  const [poison] = await fixture.photos(ctx.pg, poisonOwner)
  // Terminal, or retried well past the hardened limit: waiting longer would not end it.
  return (
    poison?.status !== 'processing' || ((await fixture.jobAttempts(ctx.queueRedis, id)) ?? 0) >= attempts + 2
  )
}

async function balance(ctx: RunContext) {
  const c = await fixture.statusCounts(ctx.pg, '')
  const dead = await fixture.deadLetters(ctx.queueRedis)
  return {
    holds: c.total > 0 && c.processing === 0 && c.failedWithoutReason === 0 && c.total === c.ready + c.failed,
    observed: `${c.total} accepted = ${c.ready} ready + ${c.failed} failed with a reason (${dead.length} of them dead-lettered) + ${c.processing} still processing`,
    detail: c.failedWithoutReason > 0 ? `${c.failedWithoutReason} failed without a reason` : undefined,
  }
}

async function poisonDeadLettered(ctx: RunContext) {
  const id = poisonIds.get(ctx.mode)
  if (id === undefined) return { holds: false, observed: 'the poison was not uploaded' }
  const [poison] = await fixture.photos(ctx.pg, poisonOwner)
  const tried = await fixture.jobAttempts(ctx.queueRedis, id)
  const letter = (await fixture.deadLetters(ctx.queueRedis)).find((d) => d.photoId === id)
  const reasoned = poison?.status === 'failed' && /^processing failed \d+ times: /.test(poison.reason ?? '')
  return {
    holds: reasoned && letter !== undefined && letter.reason === poison?.reason && tried === attempts,
    observed:
      poison?.status === 'failed'
        ? `failed after ${tried ?? '?'} attempts: "${poison.reason}"${letter ? ', in the dead-letter queue' : ', NOT dead-lettered'}`
        : `still ${poison?.status ?? 'missing'} after ${tried ?? '?'} attempts (limit ${attempts})`,
  }
}

async function goodProcessed(ctx: RunContext) {
  const accepted = ctx.ledger.select({ op: 'upload' }).okCount
  const good = await fixture.photos(ctx.pg, goodPrefix)
  const ready = good.filter((p) => p.status === 'ready' && p.variants === 4).length
  return {
    holds: accepted > 0 && good.length === accepted && ready === accepted,
    observed: `${ready} of ${accepted} acknowledged uploads ready with 4 variants (${good.length} photos)`,
  }
}

async function hostileFailedWithReason(ctx: RunContext) {
  const files = hostileUploads.files()
  const found = await Promise.all(files.map(async (f) => (await fixture.photos(ctx.pg, f.owner))[0]))
  const right = files.filter((f, i) => found[i]?.status === 'failed' && found[i]?.reason === f.reason)
  return {
    holds: right.length === files.length,
    observed: found.map((p) => `${p?.status ?? 'missing'}: ${p?.reason ?? '-'}`).join('; '),
  }
}

function describe(loadS: number, rate: number): string {
  return (
    `A photo whose original was removed from S3 after its 201 (every attempt throws, not the image's fault) and two hostile files, uploaded with the worker held; then ${rate} good uploads/s for ${loadS} s. ` +
    `Naive (deadLetter off) retries the poison without end: it is still processing at the end. Hardened dead-letters it after ${attempts} attempts with its reason: accepted = ready + failed-with-reason.`
  )
}

export default defineExperiment({
  id: 'pm17',
  slug: 'poison-image',
  system: photos,
  title: 'A poison job among good uploads: retried for ever, or dead-lettered with its reason',
  description: describe(40, 4),
  services: { api: { instances: 1 }, worker: { instances: 1 } },
  env: { ...fixture.env, JOB_ATTEMPTS: String(attempts), JOB_BACKOFF_MS: '250' },
  mitigations: { deadLetter: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'redis-queue', 's3', 'k6'],
  reset: (ctx) => resetWorld(fixture, ctx),
  setup,
  load: {
    script: 'chaos/photos/load/uploads.js',
    durationS: 40,
    env: { RATE: '4', OWNER_PREFIX: goodPrefix },
  },
  timeline: [],
  settleS: 20,
  settleUntil: settled,
  invariants: [
    invariant(
      'every accepted upload reached a terminal state',
      'accepted = ready + failed with a reason (dead-lettered among them); none still processing',
      balance,
      { metric: 'photos_jobs_total' },
    ),
    invariant(
      'the poison dead-lettered with its reason',
      `failed after ${attempts} attempts, the same reason on the photo and in photos-dead`,
      poisonDeadLettered,
    ),
    invariant('every good upload processed', 'every 201 ready with its 4 variants', goodProcessed, {
      expect: 'always',
    }),
    invariant(
      'hostile files failed with their reason',
      'each failed at once with its reason',
      hostileFailedWithReason,
      {
        expect: 'always',
      },
    ),
    errorRateBelow(0.01, {
      op: 'upload',
      window: 'all',
      expect: 'always',
      name: 'uploads acknowledged (k6)',
    }),
  ],
  ci: {
    description: describe(20, 3),
    load: { durationS: 20, env: { RATE: '3' } },
  },
})
