/**
 * The API process: config → clients → buildApp → listen → graceful shutdown.
 *   node services/shortener/src/server.ts      (pnpm --filter @faultline/shortener start)
 * On SIGTERM/SIGINT (kit's installGracefulShutdown): probes fail and new requests get 503,
 * in-flight requests finish, then the click spool is flushed to Kafka, then the Kafka producer,
 * Redis and Postgres close — all under SHUTDOWN_DEADLINE_MS, after which the process exits 1.
 */
import {
  createKafka,
  createPgPool,
  createRedis,
  disconnectProducers,
  ensureTopic,
  getProducer,
} from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { installGracefulShutdown } from '@faultline/kit/shutdown'
import { buildApp } from './app.ts'
import { encodeClickBatch, toClickBatch } from './clicks/batch.ts'
import { createShortener } from './components.ts'
import { type Config, loadConfig } from './config.ts'
import { migrationOptions, runMigrations } from './migrate.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'shortener', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const pool = createPgPool(config.databaseUrl, {
    max: config.dbPoolMax,
    searchPath: config.dbSchema,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `shortener-${config.instanceId}`,
    log,
  })
  if (config.migrateOnStart) {
    // Safe with many instances starting at once: the advisory lock lets one apply, the others wait.
    await runMigrations({ pool, ...migrationOptions(config), log })
  }
  const redis = createRedis(config.redisUrl, {
    name: `shortener-cache-${config.instanceId}`,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    // A redirect must not wait for Redis to come back: while disconnected, a command fails at once
    // and the lookup goes to Postgres.
    enableOfflineQueue: false,
    log,
  })
  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    clientId: `${config.kafkaClientId}-${config.instanceId}`,
    log,
  })
  // Best effort and not awaited: the API serves redirects whether or not Kafka is up (pm04).
  ensureTopic(kafka, config.clicksTopic, config.clicksTopicPartitions).catch((err: unknown) =>
    log.warn(
      { err, topic: config.clicksTopic },
      'could not ensure the clicks topic; relying on auto-creation',
    ),
  )

  const shortener = createShortener(config, {
    pool,
    redis,
    log,
    // The process's one producer, connected on first use and again after a failure.
    sendClicks: async (events) => {
      const producer = await getProducer(kafka)
      await producer.send({
        topic: config.clicksTopic,
        messages: [encodeClickBatch(toClickBatch(events))],
        acks: -1,
      })
    },
  })
  const app = await buildApp({ ...shortener.appDeps, logger: log })
  shortener.recorder.start()

  installGracefulShutdown({
    app,
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    log,
    closers: [
      // Bounded (the lab SIGKILLs after 5 s): what cannot be published by then is counted as dropped.
      { name: 'click-spool', close: () => shortener.recorder.stop(config.clickShutdownFlushMs) },
      { name: 'kafka', close: () => disconnectProducers() },
      { name: 'redis', close: () => redis.disconnect() },
      { name: 'postgres', close: () => pool.end() },
    ],
  })
  await app.listen({ host: config.host, port: config.port })
  log.info(
    { mitigations: shortener.mitigations.snapshot(), redirectStatus: config.redirectStatus },
    'shortener ready',
  )
}

await runMain(loadConfig, main)
