/**
 * The outbox relay as a process: the same for every system with a transactional outbox (the feed's
 * posts, the notification service's notifications), so a system's `src/relay.ts` is its config and
 * its migrations, then `runOutboxRelayProcess(...)`.
 *
 * Run several: one leads (a Postgres advisory lock per system and schema), the others stand by and
 * take over within a second of the leader's death. It runs on the kit's worker runtime: /healthz,
 * /readyz, /metrics and /admin/mitigations on PORT; on SIGTERM the batch in flight finishes
 * (published and deleted, or left in the outbox), the lock is released, then the producer and
 * Postgres close, under SHUTDOWN_DEADLINE_MS. Started while Postgres or Kafka is down, it waits for
 * them instead of exiting: the outbox keeps every row meanwhile.
 *
 * Series (prefix = the system's name): `<p>_outbox_published_total` (rows Kafka acknowledged, then
 * deleted), `<p>_outbox_publish_errors_total` (failed sends, each retried), `<p>_relay_leader` (1
 * while holding the lock), `<p>_outbox_backlog` and `<p>_outbox_oldest_age_seconds` (read from
 * Postgres at scrape time, so standbys report them too; the table needs a `created_at` column).
 */
import type { Kafka, Message } from 'kafkajs'
import pg from 'pg'
import { createKafka, createPgPool, disconnectProducers, ensureTopic, getProducer } from './clients.ts'
import { createLogger, type Logger } from './logging.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { type OutboxMessage, OutboxRelay, type RelayMetricsSink } from './outbox-relay.ts'
import { whenReachable } from './reachable.ts'
import type { Closer } from './shutdown.ts'
import type { SwitchesPluginOptions } from './switches.ts'
import { runWorker } from './worker.ts'

/** What the relay process reads from a system's config (every system's Config has these). */
export interface RelayProcessConfig {
  host: string
  port: number
  logLevel: string
  instanceId: string
  adminToken: string | undefined
  shutdownDeadlineMs: number
  shutdownDrainMs: number
  databaseUrl: string
  dbSchema: string
  dbConnectTimeoutMs: number
  dbStatementTimeoutMs: number
  migrateOnStart: boolean
  kafkaBrokers: string[]
  kafkaClientId: string
  relayBatchMax: number
  relayPollMs: number
}

/** Publishes one batch; resolves once Kafka acknowledged all of it (acks = -1). */
export type Publish = (messages: OutboxMessage[]) => Promise<void>

export interface RelayProcessOptions<N extends string = string> {
  /** The system (`feed`): the process is `<system>-relay`, its series `<system>_…`. */
  system: string
  config: RelayProcessConfig
  topic: string
  partitions: number
  /** Applies the system's migrations (when MIGRATE_ON_START). */
  migrate(pool: pg.Pool, log: Logger): Promise<unknown>
  switches: SwitchesPluginOptions<N>
  /** The outbox table. @default 'outbox' */
  table?: string
  /**
   * Replaces the shared idempotent producer's send, e.g. a naive variant an experiment switches
   * on; it gets the default publish to fall back to.
   */
  publish?: (context: { kafka: Kafka; topic: string; log: Logger; shared: Publish }) => Publish
  /** More things to close after the relay stopped, before Kafka and Postgres. */
  closers?: Closer[]
}

/** Idempotent producer: its own retries cannot duplicate or reorder a batch inside Kafka. */
export const relayProducerConfig = { idempotent: true, maxInFlightRequests: 1 }

/** One leading relay per system and schema: relays of different schemas never wait for each other. */
export function outboxRelayLockName(system: string, schema: string): string {
  return `${system}-outbox-relay:${schema}`
}

export async function runOutboxRelayProcess<N extends string>(o: RelayProcessOptions<N>): Promise<void> {
  const { config, system } = o
  const name = `${system}-relay`
  const log = createLogger({ name, level: config.logLevel }).child({ instance: config.instanceId })
  // Migrations and the backlog gauges; the relay's own session is a separate client (the lock).
  const pool = createPgPool(config.databaseUrl, {
    max: 2,
    searchPath: config.dbSchema,
    statementTimeoutMs: Math.max(config.dbStatementTimeoutMs, 5000),
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `${name}-${config.instanceId}`,
    log,
  })
  const kitMetrics = createMetrics({ defaultLabels: { service: name, instance: config.instanceId } })
  kitMetrics.observePgPool(pool, 'primary')

  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    clientId: `${config.kafkaClientId}-relay-${config.instanceId}`,
    log,
  })
  const shared: Publish = async (messages) => {
    const producer = await getProducer(kafka, relayProducerConfig)
    await producer.send({ topic: o.topic, acks: -1, messages: messages as Message[] })
  }
  const publish = o.publish ? o.publish({ kafka, topic: o.topic, log, shared }) : shared
  const table = o.table ?? 'outbox'
  const relay = new OutboxRelay({
    connect: () => connectRelaySession(config, `${name}-${config.instanceId}`),
    publish,
    lockName: outboxRelayLockName(system, config.dbSchema),
    table,
    batchMax: config.relayBatchMax,
    pollMs: config.relayPollMs,
    metrics: createRelayMetrics(kitMetrics, pool, { prefix: system, table }),
    log,
  })

  const stopping = new AbortController()
  let running: Promise<void> = Promise.resolve()
  await runWorker({
    name,
    log,
    host: config.host,
    port: config.port,
    metrics: kitMetrics,
    switches: o.switches,
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    start: async (signal) => {
      await prepare(signal)
      running = relay.run(stopping.signal)
      log.info({ topic: o.topic, schema: config.dbSchema }, 'outbox relay running')
    },
    // The batch in flight finishes; the session ends, which releases the lock for a standby.
    stop: async () => {
      stopping.abort()
      await running
    },
    closers: [
      ...(o.closers ?? []),
      { name: 'kafka', close: () => disconnectProducers() },
      { name: 'postgres', close: () => pool.end() },
    ],
  })

  async function prepare(signal: AbortSignal): Promise<void> {
    await whenReachable(
      'Postgres or Kafka',
      async () => {
        if (config.migrateOnStart) await o.migrate(pool, log)
        await ensureTopic(kafka, o.topic, o.partitions)
        // Connected before leading: the idempotent producer's first connect (metadata,
        // InitProducerId) takes seconds, and would otherwise delay the first rows after a start.
        await getProducer(kafka, relayProducerConfig)
      },
      { log, signal },
    )
  }
}

/** The relay's dedicated session: it holds the advisory lock, reads and deletes the outbox. */
export async function connectRelaySession(
  config: Pick<
    RelayProcessConfig,
    'databaseUrl' | 'dbSchema' | 'dbConnectTimeoutMs' | 'dbStatementTimeoutMs'
  >,
  applicationName: string,
): Promise<pg.Client> {
  const statementTimeoutMs = Math.max(config.dbStatementTimeoutMs, 5000)
  const client = new pg.Client({
    connectionString: config.databaseUrl,
    options: `-c search_path=${config.dbSchema}`,
    application_name: applicationName,
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

/** The relay's series on the process registry (see the header). */
export function createRelayMetrics(
  metrics: Metrics,
  pool: Pick<pg.Pool, 'query'>,
  o: { prefix: string; table?: string },
): RelayMetricsSink {
  const p = o.prefix
  const table = o.table ?? 'outbox'
  const published = metrics.counter({
    name: `${p}_outbox_published_total`,
    help: 'outbox rows published to Kafka (acks = all) and deleted',
  })
  const publishErrors = metrics.counter({
    name: `${p}_outbox_publish_errors_total`,
    help: 'failed sends of an outbox batch (retried until Kafka acknowledges)',
  })
  const leader = metrics.gauge({
    name: `${p}_relay_leader`,
    help: '1 while this relay holds the outbox lock, 0 while it stands by',
  })
  leader.set(0)
  // One query serves both gauges; a scrape during a Postgres outage keeps the last values.
  let pending: Promise<{ rows: number; ageS: number } | undefined> | undefined
  const readBacklog = () => {
    pending ??= pool
      .query<{ rows: string; age_s: number | null }>(
        `SELECT count(*) AS rows, extract(epoch FROM now() - min(created_at))::float8 AS age_s FROM ${table}`,
      )
      .then(
        (r) => ({ rows: Number(r.rows[0]?.rows ?? 0), ageS: r.rows[0]?.age_s ?? 0 }),
        () => undefined,
      )
      .finally(() => {
        pending = undefined
      })
    return pending
  }
  metrics.gauge({
    name: `${p}_outbox_backlog`,
    help: 'outbox rows not yet published (read at scrape time)',
    async collect() {
      const backlog = await readBacklog()
      if (backlog) this.set(backlog.rows)
    },
  })
  metrics.gauge({
    name: `${p}_outbox_oldest_age_seconds`,
    help: 'age of the oldest unpublished outbox row, 0 when empty (read at scrape time)',
    async collect() {
      const backlog = await readBacklog()
      if (backlog) this.set(Math.max(0, backlog.ageS))
    },
  })
  return {
    published: (count) => published.inc(count),
    publishFailed: () => publishErrors.inc(),
    leader: (isLeader) => leader.set(isLeader ? 1 : 0),
  }
}
