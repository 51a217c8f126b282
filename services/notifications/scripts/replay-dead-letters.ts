/**
 * Replays the notification service's dead-letter queue (`ntf-dead`): each dead letter's delivery
 * goes back to `queued` with a new channel job, and the letter is removed. Idempotent: running it
 * twice (or again after it was killed half-way) re-queues each delivery once (src/sender/replay.ts).
 *
 *   node services/notifications/scripts/replay-dead-letters.ts [--kind poison|exhausted] [--limit N]
 *
 * Reads the service's environment (DATABASE_URL, DB_SCHEMA, QUEUE_REDIS_URL, QUEUE_PREFIX,
 * JOB_ATTEMPTS); prints a JSON report {requeued, resumed, stale, kept}.
 */
import { parseArgs } from 'node:util'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { ConfigError } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { loadConfig } from '../src/config.ts'
import { channelQueues } from '../src/queue/queues.ts'
import { DeliveryRepository } from '../src/repositories/deliveries.ts'
import { notificationPriority, replayDeadLetters } from '../src/sender/replay.ts'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { kind: { type: 'string' }, limit: { type: 'string' } },
    strict: true,
  })
  if (values.kind !== undefined && values.kind !== 'poison' && values.kind !== 'exhausted') {
    throw new Error('--kind must be poison or exhausted')
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit)
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new Error('--limit must be a positive integer')
  }
  const config = loadConfig()
  const log = createLogger({ name: 'notifications-replay', level: config.logLevel })
  const pool = createPgPool(config.databaseUrl, { max: 2, searchPath: config.dbSchema, log })
  const redis = createRedis(config.queueRedisUrl, {
    name: 'notifications-replay',
    log,
    maxRetriesPerRequest: null,
  })
  const queues = channelQueues(redis, config.queuePrefix)
  try {
    const report = await replayDeadLetters({
      queues,
      deliveries: new DeliveryRepository(pool),
      priorityOf: notificationPriority(pool),
      attempts: config.jobAttempts,
      ...(values.kind ? { kinds: [values.kind] } : {}),
      ...(limit ? { limit } : {}),
    })
    console.log(JSON.stringify(report))
  } finally {
    await queues.close()
    redis.disconnect()
    await pool.end()
  }
}

if (import.meta.main) {
  try {
    await main()
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err instanceof Error ? err.message : err)
    process.exit(1)
  }
}
