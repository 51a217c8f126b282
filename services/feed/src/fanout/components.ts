/**
 * The fan-out worker's object graph, built from the Config and the clients the process (or a
 * test) made: worker.ts runs it on the kit's worker runtime, tests run the same graph in-process.
 */
import { createGroupConsumer, kafkaConsumerReadinessCheck, startGroupConsumer } from '@faultline/kit/clients'
import type { Metrics } from '@faultline/kit/metrics'
import type { ReadinessCheck } from '@faultline/kit/service'
import type { Redis } from 'ioredis'
import type { Consumer, Kafka } from 'kafkajs'
import type pg from 'pg'
import type { Config } from '../config.ts'
import { Keys } from '../keys.ts'
import { createMitigationState, type MitigationState } from '../mitigations.ts'
import { TimelineStore } from '../timeline-store.ts'
import { FanoutApplier } from './apply.ts'
import { createFanoutBatchHandler, type FanoutLog } from './consumer.ts'
import { FollowerSource } from './followers.ts'
import { createFanoutMetrics, type FanoutMetrics } from './metrics.ts'
import { PulledAuthors } from './pulled-authors.ts'

export interface FanoutDeps {
  /** The primary, search_path on the feed's schema. */
  pool: pg.Pool
  redis: Redis
  kafka: Kafka
  metrics: Metrics
  log: FanoutLog
  /** The live switches (the worker's /admin/mitigations); made from config.mitigations when absent. */
  switches?: MitigationState
}

export interface Fanout {
  consumer: Consumer
  /** "The consumer joined its group": the worker's readiness. */
  consumerReady: ReadinessCheck
  switches: MitigationState
  metrics: FanoutMetrics
  store: TimelineStore
  /** Waits for Kafka, joins the group, consumes; resolves once consuming. */
  start(signal?: AbortSignal): Promise<void>
  /** Finishes the event in flight, commits what was applied, leaves the group. */
  stop(): Promise<void>
}

export function createFanout(config: Config, deps: FanoutDeps): Fanout {
  const switches = deps.switches ?? createMitigationState(config.mitigations)
  const metrics = createFanoutMetrics(deps.metrics)
  const keys = new Keys(config.redisKeyPrefix)
  const store = new TimelineStore(deps.redis, {
    keys,
    timelineCap: config.timelineCap,
    authorRecentCap: config.authorRecentCap,
    activeWindowMs: config.activeWindowMs,
  })
  const applier = new FanoutApplier({
    store,
    followers: new FollowerSource(deps.pool),
    pulledAuthors: new PulledAuthors(deps.pool, deps.redis, keys),
    switches,
    celebrityThreshold: config.celebrityThreshold,
    pipeline: config.fanoutPipeline,
    metrics,
  })
  // A 10 s session (kafkajs' default is 30 s) moves a killed worker's partitions to the survivors
  // sooner; the fan-out heartbeats between follower pages, so a long celebrity push does not overrun it.
  const consumer = createGroupConsumer(
    deps.kafka,
    { groupId: config.fanoutGroupId, name: 'fan-out' },
    deps.log,
  )
  // Attached before connect() so the join is not missed.
  const consumerReady = kafkaConsumerReadinessCheck(consumer)
  const handler = createFanoutBatchHandler({
    applier,
    switches,
    commitEvery: config.fanoutBatchMax,
    metrics,
    log: deps.log,
  })
  return {
    consumer,
    consumerReady,
    switches,
    metrics,
    store,
    start: (signal) =>
      startGroupConsumer({
        kafka: deps.kafka,
        consumer,
        topic: config.postsTopic,
        partitions: config.postsTopicPartitions,
        eachBatch: handler,
        log: deps.log,
        ...(signal ? { signal } : {}),
      }),
    stop: () => consumer.disconnect(),
  }
}
