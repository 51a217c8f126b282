/**
 * The demo gateway's HTTP app: the service kit (/healthz, /readyz, /metrics, the error and 404
 * handlers, 503 while shutting down), the switches at /admin/mitigations, and one catch-all route
 * — every path, every method — that passes an admitted request to the upstream. The rate-limit
 * plugin guards the catch-all only: probes, scrapes and the admin routes are never counted or
 * refused, so a load test cannot make an instance look dead to its orchestrator.
 *
 * Never reads the environment, never listens: gateway.ts does both, tests call `inject()` or
 * listen on port 0.
 */
import { defineError } from '@faultline/kit/errors'
import type { Metrics } from '@faultline/kit/metrics'
import { createService, type Logger } from '@faultline/kit/service'
import { installSwitches } from '@faultline/kit/switches'
import type { GuardedLimiter } from '@faultline/ratelimit'
import { maxKeyLength } from '@faultline/ratelimit'
import { type RateLimitRuleOptions, rateLimitPlugin } from '@faultline/ratelimit/fastify'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { MitigationState } from './mitigations.ts'
import type { UpstreamHandler } from './upstream.ts'

export const InvalidKeyHeaderError = defineError<[string, number]>(
  'RATELIMITER_ERR_INVALID_KEY_HEADER',
  'header %s must be at most %d characters',
  400,
)

export interface GatewayAppDeps {
  /** The limiter with its failure policy (a GuardedLimiter whose policy follows the switches). */
  limiter: GuardedLimiter
  rules: RateLimitRuleOptions[]
  /** Headers the rules count by (`x-api-key`): an over-long value is a 400 naming the header. */
  keyHeaders: string[]
  upstream: UpstreamHandler
  mitigations: MitigationState
  /** The kit's per-app registry; the limiter's `ratelimit_*` series are on it too. */
  metrics: Metrics
  adminToken?: string | undefined
  /** Also send the legacy X-RateLimit-* trio. Default false. */
  legacyHeaders?: boolean
  bodyLimitBytes?: number
  logRequests?: boolean
  logger?: Logger | FastifyBaseLogger
}

/** Builds the gateway from ready-made dependencies. */
export async function buildGatewayApp(deps: GatewayAppDeps): Promise<FastifyInstance> {
  const app = createService({
    name: 'ratelimiter-gateway',
    ...(deps.logger ? { logger: deps.logger } : { level: 'silent' }),
    metrics: deps.metrics,
    requestLogging: deps.logRequests ?? false,
    fastify: { bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024 },
  })
  installSwitches(app, { state: deps.mitigations, adminToken: deps.adminToken })

  // Its own scope: the catch-all accepts any body as raw bytes (the upstream decides what it
  // means), while /admin/mitigations keeps the JSON parser; the plugin's hook sees this scope only.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    // Before the limiter's hook (hooks run in registration order): a key the limiter would
    // refuse is the caller's mistake, answered 400 with the header named.
    scope.addHook('onRequest', async (request) => {
      for (const header of deps.keyHeaders) {
        const value = request.headers[header]
        const first = Array.isArray(value) ? value[0] : value
        if (first !== undefined && first.length > maxKeyLength / 2) {
          const error = new InvalidKeyHeaderError(header, maxKeyLength / 2) as Error & { field?: string }
          error.field = `headers.${header}`
          throw error
        }
      }
    })
    await scope.register(rateLimitPlugin, {
      limiter: deps.limiter,
      rules: deps.rules,
      legacyHeaders: deps.legacyHeaders ?? false,
    })
    scope.all('/*', deps.upstream)
    scope.all('/', deps.upstream)
  })
  return app
}
