/**
 * pm14 — reads served from a lagging replica (GitHub, 2018-10-21: after a failover, reads went to
 * replicas that did not have recent writes, and users saw stale data).
 *
 * The feed reads a user's timeline from Redis (what the fan-out delivered) plus, for RYW_WINDOW_S
 * after the user's own write, their own newest posts from Postgres — the replica, since reads go
 * there. The fan-out is asynchronous (outbox → relay → Kafka → worker → Redis, tens of ms at
 * best), so on the read right after a post only that Postgres query can show the post. Mid-run
 * the replica stops applying WAL (`pg_wal_replay_pause()` on the timeline; always resumed when the
 * fault ends, at the end of the load, or on an error): it keeps answering, with a state that falls
 * further behind every commit.
 *
 * The load is users' sessions (load/pm14-post-then-read.js): publish a post on one API instance,
 * read the home timeline at once on the other, read it again 300 ms later, open the post. Naive
 * (`readYourWrites` off) the own-posts query goes to the paused replica, which has not seen the
 * post, and the fan-out has not delivered it yet: the user does not see what they just posted.
 * Hardened, the API records the primary's WAL position at each commit (per user, in Redis, shared
 * by both instances) and sends the user's own-posts query to the primary until the replica has
 * replayed that position — during the pause, every time (`feed_ryw_route_total{target=primary}`,
 * the chart). When replay resumes, the hardened reads move back to the replica only once it has the
 * user's writes: every session also checks that a post once shown is never missing from a later
 * read (`lost`), which must hold in both modes.
 *
 * Invariants (catalog): a user always sees their own post (reproduces); reads never go backwards
 * (always: naive's two sources, Redis and one replica, each only move forward, so it holds there
 * too — the hardened switch back from the primary to the replica is what it guards). Sanity
 * (always): the replica really was paused and behind, sessions ran during the pause, and requests
 * were answered. Measured (CI variant, 2026-12-05): naive missed the post on the read right after
 * it in 197 of 200 sessions of the pause (the re-read 300 ms later always had it: the fan-out
 * delivers within that, so nothing slows it here); hardened 0 of 200, with 404 own-post reads
 * sent to the primary.
 *
 * The full run pauses replay for 60 s (the catalog's) of an 80 s load; the CI variant for 20 s of
 * 30 s, at the same rate: 10 sessions/s over 40 users, each following 4 others.
 */

import { fixture } from '@faultline/feed/fixture'
import feed from '@faultline/feed/system'
import {
  defineExperiment,
  errorRateBelow,
  type Fault,
  type HookContext,
  invariant,
  type RunContext,
} from '@faultline/lab'
import {
  createSessionUsers,
  ensureReplayRunning,
  handlePrefix,
  pauseReplicaReplay,
  pauseWindow,
  pm14UsersFile,
  sessions,
} from './lib/pm14-sessions.ts'

const users = 40
const followsPerUser = 4
const sessionsPerS = 10
/** Timeline index of the pause. */
const pauseFault = 0

async function reset(ctx: HookContext): Promise<void> {
  await ensureReplayRunning(ctx)
  const removed = await fixture.reset(ctx, { handlePrefix })
  ctx.log(
    `reset: ${removed.users} users, ${removed.posts} posts, ${removed.keys} keys of earlier runs removed`,
  )
}

async function setup(ctx: HookContext): Promise<void> {
  await createSessionUsers(ctx, users, followsPerUser)
}

const pause = (at: number, until: number): Fault => ({
  at,
  until,
  action: pauseReplicaReplay(),
  label: `replica replay paused (${until - at} s)`,
})

/** Sessions whose reads missed the user's own post: immediate read, re-read. */
function ownPostSeen(ctx: RunContext) {
  const all = sessions(ctx)
  const { fromS, toS } = pauseWindow(ctx, pauseFault)
  const during = sessions(ctx, fromS, toS)
  if (during.length === 0) return { holds: false, observed: 'no session while replay was paused' }
  const missed = (list: typeof all) =>
    list.filter((s) => s.ownRead === 'missing' || s.ownReread === 'missing')
  const missedRead = all.filter((s) => s.ownRead === 'missing').length
  const missedReread = all.filter((s) => s.ownReread === 'missing').length
  return {
    holds: missed(all).length === 0,
    observed: `${missed(all).length} of ${all.length} sessions missed it (${missed(during).length} of ${during.length} while replay was paused)`,
    detail: `the read right after the post missed it ${missedRead} times, the re-read 300 ms later ${missedReread} times`,
  }
}

function neverBackwards(ctx: RunContext) {
  const all = sessions(ctx)
  const lost = all.reduce((sum, s) => sum + s.lost, 0)
  const sessionsLosing = all.filter((s) => s.lost > 0).length
  return {
    holds: all.length > 0 && lost === 0,
    observed:
      lost === 0
        ? `never (${all.length} sessions)`
        : `${lost} ids shown before went missing, in ${sessionsLosing} of ${all.length} sessions`,
  }
}

function replicaWasBehind(ctx: RunContext) {
  const { fromS, toS, paused, resumed } = pauseWindow(ctx, pauseFault)
  const during = sessions(ctx, fromS, toS).length
  const behindKB = Number(/, (\d+) kB of WAL behind/.exec(resumed ?? '')?.[1] ?? 0)
  return {
    holds: paused === 'replay paused' && behindKB > 0 && during >= 10,
    observed: `${paused ?? 'never paused'}; ${resumed ?? 'never resumed'}; ${during} sessions in the pause`,
  }
}

function describe(pauseS: number, loadS: number): string {
  return (
    `${sessionsPerS} sessions/s over ${users} users (each follows ${followsPerUser}): post on one API instance, read the timeline at once on the other, ` +
    `re-read 300 ms later, open the post. The replica's WAL replay is paused for ${pauseS} s of ${loadS} s. ` +
    "Naive, the user's own-posts query goes to the paused replica and the asynchronous fan-out has not delivered the post yet: the user does not see it. " +
    'Hardened, reads of a user with a write the replica has not replayed go to the primary.'
  )
}

export default defineExperiment({
  id: 'pm14',
  slug: 'replica-lag',
  system: feed,
  title: 'Replica lag: a user reads their timeline from a replica that has not seen their post',
  description: describe(60, 80),
  services: { api: { instances: 2 }, relay: { instances: 1 }, worker: { instances: 1 } },
  mitigations: { readYourWrites: true },
  infra: ['toxiproxy', 'postgres', 'postgres-replica', 'redis-cache', 'kafka', 'k6'],
  reset,
  setup,
  load: {
    script: 'chaos/feed/load/pm14-post-then-read.js',
    durationS: 80,
    env: { USERS_FILE: pm14UsersFile, RATE: String(sessionsPerS), REREAD_MS: '300', TIMEOUT: '2s' },
  },
  timeline: [pause(10, 70)],
  settleS: 1,
  invariants: [
    invariant('a user sees their own post at once', '0 sessions miss it', ownPostSeen, {
      // The chart draws own-post reads sent to the primary: only hardened, only while the replica lags.
      metric: { name: 'feed_ryw_route_total', labels: { target: 'primary' } },
    }),
    invariant(
      'reads never go backwards',
      'a post once shown is in every later read of its range',
      neverBackwards,
      {
        expect: 'always',
      },
    ),
    invariant(
      'the replica was paused and behind',
      'replay paused, WAL behind at the resume, ≥ 10 sessions in the pause',
      replicaWasBehind,
      { expect: 'always' },
    ),
    errorRateBelow(0.001, { window: 'all', expect: 'always', name: 'requests answered' }),
  ],
  ci: {
    description: describe(20, 30),
    load: { durationS: 30 },
    timeline: [pause(5, 25)],
    settleS: 1,
  },
})
