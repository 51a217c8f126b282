/**
 * The outbox relay process: publishes committed outbox rows to POSTS_TOPIC (keyed by author) and
 * deletes them once Kafka acknowledged them (see @faultline/kit/outbox-relay).
 *   node services/feed/src/relay.ts      (pnpm --filter @faultline/feed relay)
 * Run several: one leads (a Postgres advisory lock), the others stand by and take over within a
 * second of the leader's death. It runs on the kit's worker runtime: /healthz, /readyz, /metrics
 * and /admin/mitigations on PORT; on SIGTERM the batch in flight finishes (published and deleted,
 * or left in the outbox), the lock is released, then the producer and Postgres close, under
 * SHUTDOWN_DEADLINE_MS.
 */
import {
  createKafka,
  createPgPool,
  disconnectProducers,
  ensureTopic,
  getProducer,
} from '@faultline/kit/clients'
import { ConfigError } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { OutboxRelay } from '@faultline/kit/outbox-relay'
import { runWorker } from '@faultline/kit/worker'
import { retry } from '@faultline/resilience'
import pg from 'pg'
import { type Config, loadConfig } from './config.ts'
import { runMigrations } from './migrate.ts'
import { createMitigationState } from './mitigations.ts'
import { createRelayMetrics } from './outbox/metrics.ts'

/** Idempotent producer: its own retries cannot duplicate or reorder a batch inside Kafka. */
const producerConfig = { idempotent: true, maxInFlightRequests: 1 }

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'feed-relay', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  // Migrations and the backlog gauge; the relay's own session is a separate client (the lock).
  const pool = createPgPool(config.databaseUrl, {
    max: 2,
    searchPath: config.dbSchema,
    statementTimeoutMs: Math.max(config.dbStatementTimeoutMs, 5000),
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `feed-relay-${config.instanceId}`,
    log,
  })
  const kitMetrics = createMetrics({ defaultLabels: { service: 'feed-relay', instance: config.instanceId } })
  kitMetrics.observePgPool(pool, 'primary')

  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    clientId: `${config.kafkaClientId}-relay-${config.instanceId}`,
    log,
  })
  const relay = new OutboxRelay({
    connect: () => connectRelaySession(config),
    publish: async (messages) => {
      // Idempotent producer: its own retries cannot duplicate or reorder a batch inside Kafka.
      const producer = await getProducer(kafka, producerConfig)
      await producer.send({ topic: config.postsTopic, acks: -1, messages })
    },
    lockName: `feed-outbox-relay:${config.dbSchema}`,
    batchMax: config.relayBatchMax,
    pollMs: config.relayPollMs,
    metrics: createRelayMetrics(kitMetrics, pool),
    log,
  })

  const stopping = new AbortController()
  let running: Promise<void> = Promise.resolve()
  await runWorker({
    name: 'feed-relay',
    log,
    host: config.host,
    port: config.port,
    metrics: kitMetrics,
    switches: { state: createMitigationState(config.mitigations), adminToken: config.adminToken },
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    start: async (signal) => {
      await prepare(signal)
      running = relay.run(stopping.signal)
      log.info({ topic: config.postsTopic, schema: config.dbSchema }, 'outbox relay running')
    },
    // The batch in flight finishes; the session ends, which releases the lock for a standby.
    stop: async () => {
      stopping.abort()
      await running
    },
    closers: [
      { name: 'kafka', close: () => disconnectProducers() },
      { name: 'postgres', close: () => pool.end() },
    ],
  })

  // Started while Postgres or Kafka is down (compose starting everything at once): wait for them
  // instead of exiting; the outbox keeps every row meanwhile.
  async function prepare(signal: AbortSignal): Promise<void> {
    await retry(
      async () => {
        if (config.migrateOnStart) await runMigrations({ pool, schema: config.dbSchema, log })
        await ensureTopic(kafka, config.postsTopic, config.postsTopicPartitions)
        // Connected before the relay leads: the idempotent producer's first connect (metadata,
        // InitProducerId) takes seconds, and would otherwise delay the first posts after a start.
        await getProducer(kafka, producerConfig)
      },
      {
        maxAttempts: Number.POSITIVE_INFINITY,
        baseMs: 500,
        capMs: 10_000,
        signal,
        onAttempt: ({ outcome, error, delayMs }) => {
          if (outcome === 'failure' && delayMs !== undefined)
            log.warn({ err: error, retryInMs: Math.round(delayMs) }, 'Postgres or Kafka not reachable yet')
        },
      },
    )
  }
}

/** The relay's dedicated session: it holds the advisory lock, reads and deletes the outbox. */
export async function connectRelaySession(
  config: Pick<
    Config,
    'databaseUrl' | 'dbSchema' | 'dbConnectTimeoutMs' | 'dbStatementTimeoutMs' | 'instanceId'
  >,
): Promise<pg.Client> {
  const statementTimeoutMs = Math.max(config.dbStatementTimeoutMs, 5000)
  const client = new pg.Client({
    connectionString: config.databaseUrl,
    options: `-c search_path=${config.dbSchema}`,
    application_name: `feed-relay-${config.instanceId}`,
    connectionTimeoutMillis: config.dbConnectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    // A network that hangs (a Toxiproxy timeout) never answers: fail the query and start over.
    query_timeout: statementTimeoutMs + 1000,
    keepAlive: true,
  })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (err) {
    await client.end().catch(() => {})
    throw err
  }
  return client
}

if (import.meta.main) {
  try {
    await main(loadConfig())
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err)
    process.exit(1)
  }
}
