/**
 * pm14's moving parts: the users whose sessions the load plays (made through the API, each
 * following a few of the others so timelines also carry posts the fan-out delivers), the paused
 * replica as a fault, and what each session's last request says its user saw (see the k6 script,
 * load/pm14-post-then-read.js: the verdicts ride on GET /api/posts/:id as tags).
 */
import { fixture } from '@faultline/feed/fixture'
import { type Action, action, type HookContext, type LedgerEntry, type RunContext } from '@faultline/lab'
import { usersFile, writeUsersFile } from './pm14-users-file.ts'

/** Every pm14 user's handle starts with it; the fixture's reset removes them by it. */
export const handlePrefix = 'pm14_'
export const pm14UsersFile = usersFile('pm14')

/** Base URLs of the mode's API instances, in instance order. */
export function apiUrls(ctx: Pick<HookContext, 'services'>): string[] {
  return ctx.services.flatMap((s) => (s.service === 'api' && s.url ? [s.url] : []))
}

/**
 * Users `pm14_<mode>_<i>` through the API (which builds each one's empty timeline: they are
 * active from the start), user i following the next `follows` users on a ring, and the users file
 * for k6. Follows go 8 at a time.
 */
export async function createSessionUsers(
  ctx: HookContext,
  count: number,
  follows: number,
): Promise<string[]> {
  const urls = apiUrls(ctx)
  const handles = Array.from({ length: count }, (_, i) => `${handlePrefix}${ctx.mode}_${i}`)
  const ids = (await fixture.createUsers(urls, handles)).map((u) => u.id)
  const pairs = ids.flatMap((id, i) =>
    Array.from({ length: follows }, (_, k) => [id, ids[(i + k + 1) % count] as string] as const),
  )
  for (let i = 0; i < pairs.length; i += 8) {
    await Promise.all(
      pairs
        .slice(i, i + 8)
        .map(([user, target], j) => fixture.follow(urls[(i + j) % urls.length] as string, user, target)),
    )
  }
  writeUsersFile(pm14UsersFile, ids)
  ctx.log(`${count} users, each following ${follows} others; ids in ${pm14UsersFile}`)
  return ids
}

/**
 * The replica stops applying WAL (`pg_wal_replay_pause()`): it keeps answering, from a state that
 * falls further behind the primary with every commit. Healed by `pg_wal_replay_resume()` — always,
 * whatever else fails — with the WAL the replica was behind in the heal's note.
 */
export function pauseReplicaReplay(): Action {
  return action('pause WAL replay on the replica (pg_wal_replay_pause)', async (ctx) => {
    await fixture.pauseReplay(ctx.pgReplica)
    const paused = await fixture.replayPaused(ctx.pgReplica)
    const pausedAtMs = Date.now()
    return {
      note: paused ? 'replay paused' : 'replay NOT paused',
      heal: async () => {
        let behind = 'unknown'
        try {
          behind = `${((await fixture.replicaLagBytes(ctx.pg, ctx.pgReplica)) / 1024).toFixed(0)} kB`
        } finally {
          await fixture.resumeReplay(ctx.pgReplica)
        }
        return `replay resumed after ${((Date.now() - pausedAtMs) / 1000).toFixed(0)} s, ${behind} of WAL behind`
      },
    }
  })
}

/** Resumes replay if an earlier run died with it paused (reset: every mode starts from a live replica). */
export async function ensureReplayRunning(ctx: HookContext): Promise<void> {
  if (await fixture.replayPaused(ctx.pgReplica)) {
    await fixture.resumeReplay(ctx.pgReplica)
    ctx.log('replica replay was paused (left by an earlier run): resumed')
  }
}

/** One session as its last request reports it. */
export interface Session {
  /** When the session ended (its GET /api/posts/:id answered), seconds since the load start. */
  endS: number
  ownRead: string
  ownReread: string
  lost: number
}

/** The sessions that ran to their end in [fromS, toS). */
export function sessions(ctx: Pick<RunContext, 'ledger'>, fromS?: number, toS?: number): Session[] {
  return ctx.ledger.select({ op: 'open-post', fromS, toS }).entries.map((e: LedgerEntry) => ({
    endS: e.endMs / 1000,
    ownRead: e.tags.own_read ?? 'unknown',
    ownReread: e.tags.own_reread ?? 'unknown',
    lost: Number(e.tags.lost ?? 0),
  }))
}

/** The replica's pause as it fired: [fromS, toS) and the notes of its inject and heal. */
export function pauseWindow(ctx: Pick<RunContext, 'faults' | 'events'>, fault: number) {
  const window = ctx.faults[fault]
  if (!window) throw new Error('no replica pause on the timeline')
  const note = (phase: 'inject' | 'heal') =>
    ctx.events.find((e) => e.fault === fault && e.phase === phase && e.status === 'ok')?.note
  return { fromS: window.fromS, toS: window.toS, paused: note('inject'), resumed: note('heal') }
}
