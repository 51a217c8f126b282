/**
 * pm07 — workers return to a backlog with a job timeout shorter than the queue wait (Discord,
 * 2017: message-processing workers back after an outage timed their jobs from when they were
 * queued, so every job of the backlog was "late" before it began, was dropped and re-queued, and
 * the backlog never drained).
 *
 * k6 uploads JPEGs at a steady rate (each by a fresh owner: one processing job per 201) while the
 * worker is stopped (SIGTERM) for a few seconds, so the jobs acknowledged meanwhile wait longer
 * than JOB_TIMEOUT_MS (2.5 s here, the worker's time limit per job) before the restarted worker
 * takes them. Processing one of these photos takes tens of milliseconds, far inside the limit.
 *
 * Naive (timeoutFromStart off): the worker counts the limit from the job's enqueue time
 * (worker/process-job.ts), so every job of the backlog is already over it when it starts; it
 * throws "job expired", BullMQ retries it — and it is late again, on every attempt, by more each
 * time. With deadLetter on (this experiment leaves it at its default) it ends dead-lettered and the
 * photo failed after JOB_ATTEMPTS; without it, it would be retried for ever. Either way the
 * backlog never turns into processed photos. Hardened: the clock starts when the worker starts the
 * job, and the backlog drains: every acknowledged upload is ready.
 *
 * JOB_BACKOFF_MS is 250 (instead of 1 000) so the naive jobs spend their attempts within the
 * run; it changes how soon, not whether, they fail.
 *
 * Measured on this 2-core machine (2026-12-06): CI variant (10 s at 4 uploads/s, the worker away
 * from 1 s to 6 s and back in about a second), 3 runs of 3 — naive, 24–26 of 41 acknowledged
 * uploads ready, 14–15 failed "job expired" on every attempt and 0–2 cut off by the processor's
 * deadline (counted from the same enqueue); hardened, 41 of 41 ready. 32–33 s of wall time for
 * both modes.
 */
import { defineExperiment, errorRateBelow, invariant, type RunContext, service, stop } from '@faultline/lab'
import { PhotosFixture } from '@faultline/photos/fixture'
import photos from '@faultline/photos/system'
import { noneProcessing, resetWorld } from './lib/world.ts'

const fixture = new PhotosFixture({ name: 'pm07' })
const ownerPrefix = 'pm07-'
const jobTimeoutMs = 2500
/**
 * Late by the enqueue clock: expired before it began, or (begun just inside the limit) cut off by
 * the processor's deadline, which counts from the same instant.
 */
const expired = /job expired|processing took longer than/

async function backlogDrained(ctx: RunContext) {
  const acked = ctx.ledger.select({ op: 'upload' }).okCount
  const all = await fixture.photos(ctx.pg, ownerPrefix)
  const c = await fixture.statusCounts(ctx.pg, ownerPrefix)
  // The reasons without the run's seconds ("enqueued 7 s ago"), so alike failures count together.
  const reasons = new Map<string, number>()
  for (const p of all.filter((p) => p.status === 'failed')) {
    const reason = (p.reason ?? '').replace(/\d+ s ago/, 'N s ago')
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
  }
  const why = [...reasons].map(([r, n]) => `${n}× "${r}"`).join(', ')
  return {
    holds: acked > 0 && c.total === acked && c.ready === acked,
    observed: `${c.ready} of ${acked} acknowledged uploads ready; ${c.failed} failed${why ? ` (${why})` : ''}, ${c.processing} still processing`,
  }
}

async function noneExpiredBeforeStart(ctx: RunContext) {
  const failed = (await fixture.photos(ctx.pg, ownerPrefix)).filter((p) => p.status === 'failed')
  const late = failed.filter((p) => expired.test(p.reason ?? ''))
  return {
    holds: late.length === 0,
    observed:
      late.length === 0
        ? 'no job ran out of time'
        : `${late.length} jobs late by the time they ran, e.g. "${late[0]?.reason}"`,
  }
}

function describe(loadS: number, rate: number, downS: number): string {
  return (
    `${rate} uploads/s for ${loadS} s; the worker is stopped for ${downS} s of them and restarted with JOB_TIMEOUT_MS ${jobTimeoutMs} ms, below the backlog's queue wait. ` +
    'Naive (timeoutFromStart off) times jobs from enqueue: the backlog is late before it starts, expires on every attempt and ends dead-lettered, never processed. ' +
    'Hardened times them from start: the backlog drains, every acknowledged upload is ready.'
  )
}

export default defineExperiment({
  id: 'pm07',
  slug: 'backlog-timeout',
  system: photos,
  title: 'Workers back to a backlog: every job late before it starts, or timed from its start',
  description: describe(40, 4, 20),
  services: { api: { instances: 1 }, worker: { instances: 1 } },
  env: { ...fixture.env, JOB_TIMEOUT_MS: String(jobTimeoutMs), JOB_BACKOFF_MS: '250' },
  mitigations: { timeoutFromStart: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'redis-queue', 's3', 'k6'],
  reset: (ctx) => resetWorld(fixture, ctx),
  load: {
    script: 'chaos/photos/load/uploads.js',
    durationS: 40,
    env: { RATE: '4', OWNER_PREFIX: ownerPrefix },
  },
  timeline: [
    { at: 5, until: 25, action: stop(service('worker', 0)), label: 'worker stopped: a backlog builds' },
  ],
  settleS: 30,
  // Every photo terminal: the naive backlog ends failed (dead-lettered), the hardened one ready.
  settleUntil: (ctx) => noneProcessing(fixture, ctx, ownerPrefix),
  invariants: [
    invariant('the backlog drains', 'every acknowledged upload ready', backlogDrained, {
      metric: 'photos_jobs_total',
    }),
    invariant(
      'no job late before it starts',
      `no photo failed for its time limit (JOB_TIMEOUT_MS ${jobTimeoutMs} ms, counted from the job's start)`,
      noneExpiredBeforeStart,
    ),
    errorRateBelow(0.01, {
      op: 'upload',
      window: 'all',
      expect: 'always',
      name: 'uploads acknowledged while the worker is away (k6)',
    }),
  ],
  ci: {
    description: describe(10, 4, 5),
    load: { durationS: 10, env: { RATE: '4' } },
    timeline: [
      { at: 1, until: 6, action: stop(service('worker', 0)), label: 'worker stopped: a backlog builds' },
    ],
    settleS: 20,
  },
})
