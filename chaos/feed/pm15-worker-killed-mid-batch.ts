/**
 * pm15 — a fan-out worker stopped and then killed in the middle of a batch while its consumer
 * group rebalances (GitHub availability report, August 2023: a consumer group stuck rebalancing
 * under CPU starvation). KafkaJS has no static membership; the defence is the order of commit and
 * apply, plus a session short enough (10 s) that the group takes the dead member's partitions soon.
 *
 * Two fan-out workers share the posts topic's six partitions; k6 posts through the API at a
 * steady rate as regular authors (30 followers each) all along. The fault action makes a burst
 * of posts by 40 "wide" authors, each followed by the whole pool of readers (2 000 timeline inserts
 * per post), holding the relay meanwhile so the burst reaches Kafka in one send and each
 * partition's batch carries several of them (lib/pm15-stop.ts); it waits until worker-1's metrics
 * show it has applied one — it is then in the middle of a batch with more of the burst to apply —
 * and stops it (SIGSTOP). Six seconds later
 * it is killed (SIGKILL); the group notices the silent member when its session expires and gives
 * its partitions to worker-0, which resumes from the group's committed offsets; later worker-1
 * is started again and the group rebalances once more.
 *
 * Naive (`commitAfterFanout` off), a worker commits a batch's offsets as it arrives, before it
 * applies any of it — what a consumer with auto-commit on poll does. The stopped worker's batch
 * was committed; what it had not applied yet is never read again: those deliveries are lost.
 * Hardened, offsets are committed only after their events are applied, so the next owner applies
 * the unfinished rest again; the writes are idempotent (a capped add of an id already there adds
 * nothing), so the replay of what had been applied duplicates nothing.
 *
 * Invariant (catalog): after the pipeline has drained (every committed post relayed to Kafka,
 * every message committed by the group), every reader's and author's home timeline, read through
 * the API, against the one Postgres implies (the fixture's checker): missing = 0 and duplicated =
 * 0. In both modes: the pipeline drained, posts accepted, the stop landed mid-burst. Measured on
 * this 2-core machine (CI variant, 2026-12-05, 4 runs): naive lost 8 000–16 030 deliveries (the 4
 * to 8 burst posts left in worker-1's committed batch, 2 000 readers each) of ~108 000 expected;
 * hardened lost none and duplicated none.
 */
import feed from '@faultline/feed/system'
import {
  defineExperiment,
  errorRateBelow,
  type HookContext,
  invariant,
  type Mode,
  type RunContext,
} from '@faultline/lab'
import { burstStopThenKill, startRecording, stopsOf } from './lib/pm15-stop.ts'
import { type Pm15World, type Pm15WorldSpec, seedPm15World } from './lib/pm15-world.ts'
import {
  drained,
  isolatedFeed,
  pipelineBacklog,
  resetFeed,
  waitForGroup,
  writeAuthorsFile,
} from './lib/pm18-pm15-pipeline.ts'

const world = isolatedFeed('pm15')
const graph: Pm15WorldSpec = { readers: 2000, regularAuthors: 60, followersEach: 30, wideAuthors: 40 }
/**
 * Worker-1 has just applied a burst post when its deliveries jump by this much between two readings
 * 10 ms apart: a burst post is 2 000 inserts counted at once, a steady post ~30.
 */
const burstPostJump = 1500
const seededWorlds = new Map<Mode, Pm15World>()
/** Seconds between the stop and the kill: worker-1 is silent for that long before it dies. */
const killAfterS = 6

async function reset(ctx: HookContext): Promise<void> {
  await resetFeed(ctx, world)
}

async function setup(ctx: HookContext): Promise<void> {
  const seeded = await seedPm15World(ctx, world, graph)
  writeAuthorsFile(world, seeded.regularAuthors)
  await waitForGroup(ctx, world, 2)
  seededWorlds.set(ctx.mode, seeded)
  startRecording(ctx.mode)
}

async function everyDeliveryOnce(ctx: RunContext) {
  const seeded = seededWorlds.get(ctx.mode)
  if (!seeded) return { holds: false, observed: 'setup did not run' }
  const report = await world.fixture.checkTimelines(ctx.pg, [ctx.url('api', 0)], {
    handlePrefix: world.handlePrefix,
  })
  const first = report.failures[0]
  const others = `out of order ${report.outOfOrder}, deleted visible ${report.deletedVisible}, extra ${report.extra}`
  return {
    // Every seeded user's timeline was read: a check that skipped some could not see their losses.
    holds: report.users === seeded.userIds.length && report.missing === 0 && report.duplicated === 0,
    observed: `missing ${report.missing}, duplicated ${report.duplicated} (of ${report.expectedItems} expected in ${report.users} timelines)`,
    detail:
      `${others}; ${report.servedItems} items served` +
      (first
        ? `; e.g. user ${first.userId}: missing ${first.missing} (${first.examples.missing?.join(', ') ?? '-'})`
        : ''),
  }
}

async function pipelineDrained(ctx: RunContext) {
  const { unpublished, unconsumed } = await pipelineBacklog(ctx, world)
  return {
    holds: unpublished === 0 && unconsumed === 0,
    observed: `${unpublished} posts not relayed, ${unconsumed} messages not committed`,
  }
}

function stoppedMidBurst(ctx: RunContext) {
  const stops = stopsOf(ctx.mode)
  const planned = ctx.faults[0]?.firesS.length ?? 0
  const good = stops.filter(
    (s) => s.burstPosts === graph.wideAuthors && s.deliveriesAtStop > s.deliveriesBefore && s.killed,
  )
  const first = stops[0]
  return {
    holds: planned > 0 && good.length === planned,
    observed:
      `${good.length} of ${planned} bursts with worker-1 stopped after applying part of it, then killed` +
      (first
        ? ` (stopped ${first.stoppedAfterS.toFixed(2)} s after the burst began, ${first.deliveriesAtStop - first.deliveriesBefore} deliveries into it)`
        : ''),
  }
}

function describe(loadS: number, burstS: number, restartS: number): string {
  return (
    `Two fan-out workers, k6 posting at 30/s for ${loadS} s. At ${burstS} s a burst of ${graph.wideAuthors} posts by authors followed by all ${graph.readers} readers; ` +
    `worker-1 is SIGSTOPped as soon as it has applied one and SIGKILLed ${killAfterS} s later (its partitions move to worker-0 when its 10 s session expires), restarted at ${restartS} s. ` +
    'Naive (commit on arrival) loses the rest of its batch; hardened (commit after fan-out) replays it: every delivery present exactly once.'
  )
}

function timeline(burstS: number, restartS: number) {
  return [
    {
      at: burstS,
      until: restartS,
      action: burstStopThenKill((mode) => seededWorlds.get(mode)?.wideAuthors ?? [], {
        minJump: burstPostJump,
        killAfterS,
      }),
      label: `burst of wide posts; SIGSTOP worker-1 mid-batch, SIGKILL ${killAfterS} s later; restart`,
    },
  ]
}

export default defineExperiment({
  id: 'pm15',
  slug: 'worker-killed-mid-batch',
  system: feed,
  title: 'Fan-out worker stopped and killed mid-batch while the group rebalances',
  description: describe(60, 15, 45),
  services: { api: { instances: 1 }, relay: { instances: 1 }, worker: { instances: 2 } },
  env: { ...world.env, FANOUT_CELEBRITY_THRESHOLD: '10000' },
  mitigations: { commitAfterFanout: true },
  infra: ['toxiproxy', 'postgres', 'postgres-replica', 'redis-cache', 'kafka', 'k6'],
  reset,
  setup,
  load: {
    script: 'chaos/feed/load/pm18-pm15-steady-posts.js',
    durationS: 60,
    env: { AUTHORS_FILE: world.authorsFile, RATE: '30', TIMEOUT: '2s' },
  },
  timeline: timeline(15, 45),
  // Up to 90 s: the drain takes seconds, but a worker that keeps retrying a fan-out whose heartbeat
  // failed because the group is rebalancing does not rejoin, and the group then waits for kafkajs'
  // 60 s rebalance timeout before it moves on without it.
  settleS: 90,
  settleUntil: drained(world),
  invariants: [
    invariant(
      'every delivery present exactly once after the drain',
      'missing = 0 and duplicated = 0 (every timeline read through the API vs Postgres)',
      everyDeliveryOnce,
      // The chart draws timeline inserts per second: the burst, the stall, the replay.
      { metric: 'feed_fanout_deliveries_total' },
    ),
    invariant('the pipeline drained', 'nothing left to relay or to consume', pipelineDrained, {
      expect: 'always',
    }),
    errorRateBelow(0.01, { op: 'post', window: 'all', expect: 'always', name: 'posts accepted (k6)' }),
    invariant(
      'worker-1 stopped mid-burst, then killed',
      'every burst: worker-1 stopped after applying part of it, then killed',
      stoppedMidBurst,
      { expect: 'always' },
    ),
  ],
  ci: {
    description: describe(30, 6, 22),
    load: { durationS: 30 },
    timeline: timeline(6, 22),
  },
})
