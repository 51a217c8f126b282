/**
 * The demo gateway process: config → Redis client → buildGatewayApp → listen → graceful shutdown.
 *   node services/ratelimiter/src/gateway.ts      (pnpm --filter @faultline/ratelimiter gateway)
 * Every request (any path, any method) is counted against the GATEWAY_* rule (or the rules of
 * GATEWAY_RULES_FILE) keyed by `x-api-key`, else the client IP, and an admitted one goes to the
 * upstream: UPSTREAM_URL, or the built-in sample. On SIGTERM/SIGINT new requests get 503,
 * in-flight ones finish, then the Redis client closes, under SHUTDOWN_DEADLINE_MS.
 */
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { installGracefulShutdown } from '@faultline/kit/shutdown'
import {
  closeLimiterRedis,
  createLimiterCluster,
  createLimiterRedis,
  waitForRedisReady,
} from '@faultline/ratelimit'
import { buildGatewayApp } from './gateway-app.ts'
import { createGateway } from './gateway-components.ts'
import { type GatewayConfig, loadGatewayConfig } from './gateway-config.ts'
import { loadRulesFile, ruleFromEnv } from './gateway-rules.ts'

/** How long boot waits for Redis before listening anyway (decisions then take the failure policy). */
const redisBootWaitMs = 5_000

function createClient(config: GatewayConfig, onError: (err: Error) => void) {
  const connectionName = `ratelimiter-gateway-${config.instanceId}`
  return config.store === 'cluster'
    ? createLimiterCluster({ nodes: config.redisClusterNodes, connectionName, onError })
    : createLimiterRedis({ url: config.redisUrl, connectionName, onError })
}

async function main(config: GatewayConfig): Promise<void> {
  const rules = config.rulesFile
    ? loadRulesFile(config.rulesFile, config.failurePolicy)
    : [ruleFromEnv(config)]
  const log = createLogger({ name: 'ratelimiter-gateway', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  let lastErrorLogMs = 0
  const redis = createClient(config, (err) => {
    // A reconnect loop emits one error per attempt: one line every 10 s says enough.
    if (Date.now() - lastErrorLogMs < 10_000) return
    lastErrorLogMs = Date.now()
    log.warn({ err }, 'limiter redis connection error')
  })
  // With the offline queue off, a decision before the first connect fails (and is answered by the
  // failure policy); waiting here makes a normal boot start with Redis's answers. A Redis that
  // is down at boot does not stop the gateway: it serves by its failure policy until Redis is back.
  await waitForRedisReady(redis, redisBootWaitMs).catch((err: unknown) =>
    log.warn({ err }, 'limiter redis not ready at boot; serving by the failure policy'),
  )
  const gateway = createGateway(config, { redis }, rules)
  const app = await buildGatewayApp({ ...gateway.appDeps, logger: log })

  installGracefulShutdown({
    app,
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    log,
    closers: [{ name: 'redis', close: () => closeLimiterRedis(redis) }],
  })
  await app.listen({ host: config.host, port: config.port })
  log.info(
    {
      rules: rules.map((r) => ({
        name: r.options.name,
        limit: r.options.limit,
        failurePolicy: r.failurePolicy,
      })),
      upstream: config.upstreamUrl ?? 'sample',
      mitigations: gateway.mitigations.snapshot(),
    },
    'ratelimiter gateway ready',
  )
}

await runMain(loadGatewayConfig, main)
