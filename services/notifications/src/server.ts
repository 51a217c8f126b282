/**
 * The API process: config → Postgres pool → migrations (MIGRATE_ON_START) → cache Redis →
 * buildApp → listen on PORT → graceful shutdown.
 *   node services/notifications/src/server.ts      (pnpm --filter @faultline/notifications start)
 * On SIGTERM/SIGINT (kit's installGracefulShutdown): probes fail and new requests get 503,
 * in-flight requests finish, then Redis and Postgres close — all under SHUTDOWN_DEADLINE_MS,
 * after which the process exits 1. The API never talks to Kafka: the relay publishes the outbox.
 */
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { installGracefulShutdown } from '@faultline/kit/shutdown'
import { buildApp } from './app.ts'
import { createNotificationsApi } from './components.ts'
import { type Config, loadConfig } from './config.ts'
import { runMigrations } from './migrate.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'notifications-api', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const pool = createPgPool(config.databaseUrl, {
    max: config.dbPoolMax,
    searchPath: config.dbSchema,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `notifications-api-${config.instanceId}`,
    log,
  })
  // Safe with many instances starting at once: the advisory lock lets one apply, the others wait.
  if (config.migrateOnStart) await runMigrations({ pool, schema: config.dbSchema, log })
  const redis = createRedis(config.redisUrl, {
    name: `notifications-api-${config.instanceId}`,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    log,
  })
  const api = createNotificationsApi(config, { pool, redis })
  const app = await buildApp({ ...api.appDeps, logger: log })

  installGracefulShutdown({
    app,
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    log,
    closers: [
      { name: 'redis', close: () => redis.disconnect() },
      { name: 'postgres', close: () => pool.end() },
    ],
  })
  await app.listen({ host: config.host, port: config.port })
  log.info({ mitigations: api.mitigations.snapshot() }, 'notifications api ready')
}

await runMain(loadConfig, main)
