/**
 * The API process: config → Postgres pool → migrations → S3 (bucket created if missing) → a
 * Redis subscriber for SSE → buildApp → listen → graceful shutdown.
 *   node services/photos/src/server.ts      (pnpm --filter @faultline/photos start)
 * On SIGTERM/SIGINT (kit's installGracefulShutdown): probes fail and new requests get 503,
 * in-flight uploads finish (or reach their deadline), then the queues, Redis, S3 and Postgres
 * clients close — all under SHUTDOWN_DEADLINE_MS, after which the process exits 1.
 */
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { installGracefulShutdown } from '@faultline/kit/shutdown'
import { buildApp } from './app.ts'
import { ensureBucket } from './bucket.ts'
import { createPhotosApi } from './components.ts'
import { type Config, loadConfig } from './config.ts'
import { runMigrations } from './migrate.ts'
import { createS3, s3ClientOptionsOf } from './storage/s3-client.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'photos-api', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const pool = createPgPool(config.databaseUrl, {
    max: config.dbPoolMax,
    searchPath: config.dbSchema,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `photos-api-${config.instanceId}`,
    log,
  })
  if (config.migrateOnStart) await runMigrations({ pool, schema: config.dbSchema, log })
  const s3 = createS3(s3ClientOptionsOf(config.s3))
  await ensureBucket(s3, config.s3.bucket)
  // Subscribe mode only (SSE); no command timeout: a subscriber waits for messages by design.
  const subscriber = createRedis(config.redisUrl, { name: `photos-api-sub-${config.instanceId}`, log })
  const api = createPhotosApi(config, { pool, subscriber, s3, log })
  const app = await buildApp({ ...api.appDeps, logger: log })

  installGracefulShutdown({
    app,
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    log,
    closers: [
      { name: 'queues', close: () => api.queues.close() },
      { name: 'redis', close: () => subscriber.disconnect() },
      { name: 's3', close: () => s3.destroy() },
      { name: 'postgres', close: () => pool.end() },
    ],
  })
  await app.listen({ host: config.host, port: config.port })
  log.info({ mitigations: api.mitigations.snapshot() }, 'photos api ready')
}

await runMain(loadConfig, main)
