/**
 * The API process: config → Postgres pools (primary and replica, both on DB_SCHEMA) → migrations
 * → Redis → buildApp → listen → graceful shutdown.
 *   node services/feed/src/server.ts      (pnpm --filter @faultline/feed start)
 * On SIGTERM/SIGINT (kit's installGracefulShutdown): probes fail and new requests get 503,
 * in-flight requests finish, then Redis and both pools close — all under SHUTDOWN_DEADLINE_MS,
 * after which the process exits 1. The API never talks to Kafka: the relay publishes the outbox.
 */
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { installGracefulShutdown } from '@faultline/kit/shutdown'
import { buildApp } from './app.ts'
import { createFeed } from './components.ts'
import { type Config, loadConfig } from './config.ts'
import { runMigrations } from './migrate.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'feed-api', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const pool = (url: string, role: 'primary' | 'replica', max: number) =>
    createPgPool(url, {
      max,
      searchPath: config.dbSchema,
      statementTimeoutMs: config.dbStatementTimeoutMs,
      connectionTimeoutMs: config.dbConnectTimeoutMs,
      applicationName: `feed-api-${role}-${config.instanceId}`,
      log,
    })
  const primary = pool(config.databaseUrl, 'primary', config.dbPoolMax)
  const replica = pool(config.replicaUrl, 'replica', config.replicaPoolMax)
  if (config.migrateOnStart) {
    // Safe with many instances starting at once: the advisory lock lets one apply, the others wait.
    await runMigrations({ pool: primary, schema: config.dbSchema, log })
  }
  const redis = createRedis(config.redisUrl, {
    name: `feed-api-${config.instanceId}`,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    log,
  })

  const feed = createFeed(config, { primary, replica, redis, log })
  const app = await buildApp({ ...feed.appDeps, logger: log })

  installGracefulShutdown({
    app,
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    log,
    closers: [
      { name: 'redis', close: () => redis.disconnect() },
      { name: 'postgres', close: () => Promise.all([primary.end(), replica.end()]) },
    ],
  })
  await app.listen({ host: config.host, port: config.port })
  log.info({ mitigations: feed.mitigations.snapshot() }, 'feed api ready')
}

await runMain(loadConfig, main)
