/**
 * The router's object graph, built from the Config and the clients the process (or a test) made:
 * router.ts runs it on the kit's worker runtime, tests run the same graph in-process.
 */
import { createGroupConsumer, kafkaConsumerReadinessCheck, startGroupConsumer } from '@faultline/kit/clients'
import type { Metrics } from '@faultline/kit/metrics'
import type { ReadinessCheck } from '@faultline/kit/service'
import type { Redis } from 'ioredis'
import type { Consumer, Kafka } from 'kafkajs'
import type pg from 'pg'
import type { Config } from '../config.ts'
import { NotificationKeys } from '../keys.ts'
import { createMitigationState, type MitigationState } from '../mitigations.ts'
import { type ChannelQueues, channelQueues } from '../queue/queues.ts'
import { DeliveryRepository } from '../repositories/deliveries.ts'
import { RecipientRepository } from '../repositories/recipients.ts'
import { TemplateRepository } from '../repositories/templates.ts'
import { QueueBackpressure } from './backpressure.ts'
import { createRouterBatchHandler, type RouterLog } from './consumer.ts'
import { createRouterMetrics, type RouterMetrics } from './metrics.ts'
import { RecipientRateLimit } from './rate-limit.ts'
import { EventRouter } from './route.ts'

/** Events routed and committed together: one insert and one addBulk per channel per chunk. */
export const routerChunkSize = 200

export interface RouterDeps {
  /** The primary, search_path on the service's schema. */
  pool: pg.Pool
  /** The cache Redis (rate limits). */
  redis: Redis
  /** The queue Redis, made for BullMQ (`maxRetriesPerRequest: null`). */
  queueRedis: Redis
  kafka: Kafka
  metrics: Metrics
  log: RouterLog
  /** The live switches (the router's /admin/mitigations); made from config.mitigations when absent. */
  switches?: MitigationState
  /** The clock of the decisions (tests). @default Date.now */
  now?: () => number
}

export interface Router {
  consumer: Consumer
  /** "The consumer joined its group": the router's readiness. */
  consumerReady: ReadinessCheck
  switches: MitigationState
  metrics: RouterMetrics
  queues: ChannelQueues
  router: EventRouter
  /** Waits for Kafka, joins the group, consumes; resolves once consuming. */
  start(signal?: AbortSignal): Promise<void>
  /** Finishes the chunk in flight, commits what was routed, leaves the group, closes the queues. */
  stop(): Promise<void>
}

export function createRouter(config: Config, deps: RouterDeps): Router {
  const switches = deps.switches ?? createMitigationState(config.mitigations)
  const metrics = createRouterMetrics(deps.metrics)
  const keys = new NotificationKeys(config.redisKeyPrefix)
  const queues = channelQueues(deps.queueRedis, config.queuePrefix)
  const router = new EventRouter({
    db: deps.pool,
    deliveries: new DeliveryRepository(deps.pool),
    recipients: new RecipientRepository(deps.pool),
    templates: new TemplateRepository(deps.pool),
    rateLimit: new RecipientRateLimit({
      redis: deps.redis,
      keys,
      limit: config.rateLimit.limit,
      windowMs: config.rateLimit.windowMs,
      onRedisError: () => metrics.rateLimitErrors.inc(),
      log: deps.log,
    }),
    queues,
    switches,
    jobAttempts: config.jobAttempts,
    metrics,
    ...(deps.now ? { now: deps.now } : {}),
  })
  const consumer = createGroupConsumer(
    deps.kafka,
    {
      groupId: config.routerGroupId,
      sessionTimeoutMs: config.kafkaSessionTimeoutMs,
      heartbeatIntervalMs: config.kafkaHeartbeatIntervalMs,
      name: 'router',
    },
    deps.log,
  )
  // Attached before connect() so the join is not missed.
  const consumerReady = kafkaConsumerReadinessCheck(consumer)
  const backpressure = new QueueBackpressure({
    depth: () => queueDepth(queues),
    highWater: config.routerQueueHighWater,
    onWait: (depth) => {
      metrics.backpressureWaits.inc()
      deps.log.warn(
        { depth, highWater: config.routerQueueHighWater },
        'channel queues over their high-water mark: routing paused, the backlog stays in Kafka',
      )
    },
  })
  const handler = createRouterBatchHandler({
    router,
    chunkSize: routerChunkSize,
    metrics,
    log: deps.log,
    backpressure,
  })
  return {
    consumer,
    consumerReady,
    switches,
    metrics,
    queues,
    router,
    start: (signal) =>
      startGroupConsumer({
        kafka: deps.kafka,
        consumer,
        topic: config.topic,
        partitions: config.topicPartitions,
        eachBatch: handler,
        log: deps.log,
        ...(signal ? { signal } : {}),
      }),
    stop: async () => {
      await consumer.disconnect()
      await queues.close()
    },
  }
}

/** Jobs the channel queues hold: waiting, prioritized, delayed (held for quiet hours) and active. */
async function queueDepth(queues: ChannelQueues): Promise<number> {
  const counts = await Promise.all(
    Object.values(queues.channel).map((q) =>
      q.getJobCountByTypes('waiting', 'prioritized', 'delayed', 'active'),
    ),
  )
  return counts.reduce((a, b) => a + b, 0)
}
