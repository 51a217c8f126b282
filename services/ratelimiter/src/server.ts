/**
 * The decision service process: config → rules → limiter client → buildApp → listen → graceful
 * shutdown.
 *   node services/ratelimiter/src/server.ts      (pnpm --filter @faultline/ratelimiter start)
 * SIGHUP re-reads RULES_FILE (a bad file is logged with every reason and the rules in force stay).
 * On SIGTERM/SIGINT (the kit's installGracefulShutdown): probes fail and new requests get 503,
 * in-flight decisions finish, then the listeners and the Redis client close, all under
 * SHUTDOWN_DEADLINE_MS, after which the process exits 1.
 */
import { ConfigError } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { type Closer, installGracefulShutdown } from '@faultline/kit/shutdown'
import {
  closeLimiterRedis,
  createLimiterCluster,
  createLimiterRedis,
  waitForRedisReady,
} from '@faultline/ratelimit'
import type { Cluster, Redis } from 'ioredis'
import { buildApp } from './app.ts'
import { createRatelimiter } from './components.ts'
import { type Config, loadConfig } from './config.ts'
import { startRlsServer } from './grpc/rls-server.ts'
import { SwitchState, switches } from './mitigations.ts'
import { RulesFileError } from './rules/file-source.ts'
import { RulesStoreKeys } from './rules/store/keys.ts'
import { RedisRulesSource } from './rules/store/redis-rules-source.ts'

/** How long in-flight gRPC calls may take to finish at shutdown before they are cancelled. */
const grpcCloseGraceMs = 2_000
/** How long the boot waits for the store before listening anyway (decisions then degrade). */
const storeReadyTimeoutMs = 5_000

function createStore(config: Config, onError: (err: Error) => void): Redis | Cluster {
  const connectionName = `ratelimiter-${config.instanceId}`
  // Fail-fast clients: a command issued while Redis is gone fails at once, so the decision
  // deadline, never a reconnect loop, bounds what a caller waits.
  return config.store === 'cluster'
    ? createLimiterCluster({ nodes: config.redisClusterNodes, connectionName, onError })
    : createLimiterRedis({ url: config.redisUrl, connectionName, onError })
}

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'ratelimiter', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  let lastStoreErrorMs = 0
  const redis = createStore(config, (err) => {
    // One line per 5 s: a reconnect loop emits an error per attempt.
    if (Date.now() - lastStoreErrorMs < 5_000) return
    lastStoreErrorMs = Date.now()
    log.warn({ err, store: config.store }, 'rate limit store connection error')
  })
  await waitForRedisReady(redis, storeReadyTimeoutMs).catch((err: unknown) =>
    log.warn({ err, store: config.store }, 'rate limit store not ready; decisions degrade until it is'),
  )

  // Rules reach every instance through Redis (rules/store, pm07): this instance applies its file
  // there, then decides with the applied ruleset it reads (every RULES_POLL_MS), so all instances
  // decide with the same rules. A bad rules file at boot stops the process with every reason.
  const mitigations = new SwitchState(switches, config.mitigations)
  const rules = await RedisRulesSource.open(config.rulesFile, {
    redis,
    keys: new RulesStoreKeys(config.redisKeyPrefix),
    switches: mitigations,
    settings: config.rulesStore,
    log,
  })
  const ratelimiter = createRatelimiter(config, { redis, rules, log, mitigations })
  const app = await buildApp({ ...ratelimiter.appDeps, logger: log })

  process.on('SIGHUP', () => {
    ratelimiter.rulesAdmin.reload().catch((err: unknown) => log.error({ err }, 'rules reload failed'))
  })

  // Closed in this order after the HTTP server: listeners first, the store last.
  const closers: Closer[] = []

  // Envoy's RateLimitService (gRPC) on GRPC_PORT, answered by the same engine as POST /v1/decide;
  // the bound port is logged (GRPC_PORT=0 picks a free one). Closed before the store, so calls in
  // flight finish against a live Redis; a decision takes milliseconds, so the grace is ample.
  const grpc = await startRlsServer({
    engine: ratelimiter.engine,
    host: config.host,
    port: config.grpcPort,
    log,
  })
  closers.push({ name: 'grpc', close: () => grpc.close(grpcCloseGraceMs) })

  closers.push(
    { name: 'rules', close: () => rules.close() },
    { name: 'redis', close: () => closeLimiterRedis(redis) },
  )
  installGracefulShutdown({
    app,
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    log,
    closers,
  })
  await app.listen({ host: config.host, port: config.port })
  log.info(
    {
      mitigations: ratelimiter.mitigations.snapshot(),
      store: config.store,
      rulesVersion: rules.current()?.version,
      rulesFile: rules.path,
    },
    'ratelimiter ready',
  )
}

try {
  await main(loadConfig())
} catch (err) {
  console.error(err instanceof ConfigError || err instanceof RulesFileError ? err.message : err)
  process.exit(1)
}
