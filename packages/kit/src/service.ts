/**
 * What every Faultline service has in common, installed on a Fastify instance: liveness and
 * readiness probes, Prometheus metrics, one error handler that keeps 5xx details in the log and
 * out of the response, a JSON 404, and 503 for new requests once shutdown began.
 */
import { type Server, STATUS_CODES } from 'node:http'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyHttpOptions,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify'
import fp from 'fastify-plugin'
import { isDependencyUnavailable } from './dependency-errors.ts'
import {
  isPrefixedCode,
  KitDependencyUnavailableError,
  KitRouteNotFoundError,
  KitShuttingDownError,
  KitValidationError,
} from './errors.ts'
import { createLogger, type Logger, type LogLevel } from './logging.ts'
import { installMetrics, type Metrics } from './metrics.ts'
import { createReadiness, type Readiness } from './readiness.ts'

export { defineError, type ErrorCode } from './errors.ts'
export type { Logger } from './logging.ts'
export type {
  CheckResult,
  Readiness,
  ReadinessCheck,
  ReadinessCheckOptions,
  ReadinessReport,
} from './readiness.ts'

/** Whether the process is shutting down; `installGracefulShutdown` flips it. */
export interface Lifecycle {
  readonly shuttingDown: boolean
  /** From now on new requests get 503 and the probes fail. Idempotent. */
  beginShutdown(): void
}

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness
    lifecycle: Lifecycle
  }
}

/** The body of every error response. */
export interface ErrorBody {
  statusCode: number
  code: string
  /** The HTTP status text, e.g. `Conflict`. */
  error: string
  message: string
  /** The offending field (`body.url`), for validation errors and errors carrying a `field`. */
  field?: string
}

/** `ErrorBody` as a JSON schema, for the error responses of a route's schema (OpenAPI, serialisation). */
export const errorBodySchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', description: 'Stable error code, e.g. KIT_ERR_VALIDATION.' },
    error: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string', description: 'The request field at fault, for 400s.' },
  },
  required: ['statusCode', 'code', 'error', 'message'],
} as const

/**
 * `errorBodySchema` as a shared schema: `app.addSchema(errorSchema)` once, then routes answer
 * errors with `{ $ref: 'Error#' }` (`errorResponses`), and the OpenAPI document names it `Error`.
 */
export const errorSchema = { $id: 'Error', ...errorBodySchema } as const

/** The response schemas of a route's error statuses: `errorResponses(400, 404)` → `{ 400: { $ref: 'Error#' }, 404: … }`. */
export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, { $ref: 'Error#' }]))

export interface ServicePluginOptions {
  /** Pass one to share it with clients created before the app (pool gauges); otherwise one is made. */
  metrics?: Metrics
  /** @default '/metrics' */
  metricsPath?: string
  /** How long a readiness check may take unless it says otherwise. @default 1000 */
  readinessTimeoutMs?: number
}

export interface ServiceOptions extends ServicePluginOptions {
  /** The service name: the `name` of the logger created when `logger` is absent. */
  name: string
  /** The process logger (`createLogger`); one is created with `level` when absent. */
  logger?: Logger | FastifyBaseLogger
  /** Log level of the logger created when `logger` is absent. @default 'info' */
  level?: LogLevel | string
  /**
   * Fastify's "incoming request" / "request completed" lines. Off by default: under a load test
   * they cost more than the request, and the request histogram already counts every request.
   */
  requestLogging?: boolean
  /**
   * Any other Fastify option (`logger`/`loggerInstance` come from `logger`). `requestTimeout`
   * defaults to {@link defaultRequestTimeoutMs} (Fastify's own default, 0, waits forever).
   */
  fastify?: Omit<FastifyHttpOptions<Server>, 'logger' | 'loggerInstance'>
}

/**
 * How long a client may take to send a whole request (headers and body) before Node answers 408
 * and closes the connection. Fastify's default, 0, waits forever: a client that declares a body
 * and stops sending would hold its connection (and a handler reading the body) for good. Node
 * checks every {@link connectionsCheckingIntervalMs}, so a stalled request ends within 35 s of
 * its start. A service taking large bodies over slow links (photos' uploads) sets its own.
 */
export const defaultRequestTimeoutMs = 30_000
/** How often Node looks for requests past their timeout (its default is 30 s). */
const connectionsCheckingIntervalMs = 5_000

/**
 * Builds a Fastify instance with the service kit installed. Synchronous, so `buildApp` can use
 * `app.readiness` and `app.metrics` at once; it never reads env and never listens.
 */
export function createService(options: ServiceOptions): FastifyInstance {
  const logger = options.logger ?? createLogger({ name: options.name, level: options.level ?? 'info' })
  const app = Fastify({
    requestIdHeader: 'x-request-id',
    requestTimeout: defaultRequestTimeoutMs,
    logController: new LogController({ disableRequestLogging: !(options.requestLogging ?? false) }),
    ...options.fastify,
    http: { connectionsCheckingInterval: connectionsCheckingIntervalMs, ...options.fastify?.http },
    loggerInstance: logger,
  }) as unknown as FastifyInstance
  // Fastify sets requestTimeout on the server after Node built it, past Node's own check that the
  // headers' timeout (60 s) is not longer than the request's: left longer, Node never applies
  // the request timeout at all (a stalled body waited for good, measured on Node 24).
  const server = app.server as Server
  if (server.requestTimeout > 0 && server.headersTimeout > server.requestTimeout) {
    server.headersTimeout = server.requestTimeout
  }
  installService(app, options)
  return app
}

/** Installs the kit on an instance directly (what `createService` and `servicePlugin` do). */
export function installService(app: FastifyInstance, options: ServicePluginOptions = {}): void {
  const metricsPath = options.metricsPath ?? '/metrics'
  let shuttingDown = false
  app.decorate('lifecycle', {
    get shuttingDown() {
      return shuttingDown
    },
    beginShutdown() {
      shuttingDown = true
    },
  } satisfies Lifecycle)
  app.decorate('readiness', createReadiness(options.readinessTimeoutMs ?? 1000))

  // First hook, so a request arriving during shutdown does no work at all. Scrapes still pass:
  // the metrics of a draining process are the interesting ones.
  app.addHook('onRequest', async (request, reply) => {
    if (!shuttingDown || request.url.split('?')[0] === metricsPath) return
    const error = new KitShuttingDownError()
    reply.header('connection', 'close')
    return reply.code(503).send(errorBody(503, error.code, error.message))
  })

  // A request still in flight when shutdown began ends its connection with its response: a
  // keep-alive connection would otherwise hold `server.close()` open until the keep-alive timeout
  // (72 s in Fastify), past any sane shutdown deadline.
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close')
  })

  installMetrics(app, { ...(options.metrics ? { metrics: options.metrics } : {}), path: metricsPath })

  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }))

  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    const report = await app.readiness.run()
    if (report.ready) return { status: 'ready', checks: report.checks }
    return reply.code(503).send({ status: 'not_ready', failing: report.failing, checks: report.checks })
  })

  app.setErrorHandler(handleError)
  app.setNotFoundHandler((request, reply) => {
    const error = new KitRouteNotFoundError(request.method, request.url.split('?')[0] ?? request.url)
    return reply.code(404).send(errorBody(404, error.code, error.message))
  })
}

/** The same as a fastify-plugin, for an instance built elsewhere. Register it first. */
export const servicePlugin = fp(
  async (app: FastifyInstance, options: ServicePluginOptions) => {
    installService(app, options)
  },
  { name: '@faultline/kit/service', fastify: '5.x' },
)

function errorBody(statusCode: number, code: string, message: string, field?: string): ErrorBody {
  const body: ErrorBody = { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
  if (field !== undefined) body.field = field
  return body
}

type KitHandledError = FastifyError & { field?: unknown; headers?: Record<string, string>; status?: number }

function handleError(error: KitHandledError, request: FastifyRequest, reply: FastifyReply) {
  if (error.validation) {
    const { field, message } = describeValidation(error)
    request.log.debug({ field, code: KitValidationError.prototype.code }, 'request failed validation')
    return reply.code(400).send(errorBody(400, 'KIT_ERR_VALIDATION', message, field))
  }

  let statusCode = statusOf(error, reply)
  if (error.headers) reply.headers(error.headers)
  if (statusCode === 500 && isDependencyUnavailable(error)) {
    // A dependency is down or overloaded, not a bug: 503 tells clients and balancers to retry.
    request.log.warn({ err: error }, 'request failed: a dependency is unavailable')
    reply.header('retry-after', '1')
    statusCode = 503
    const unavailable = new KitDependencyUnavailableError()
    return reply.code(statusCode).send(errorBody(statusCode, unavailable.code, unavailable.message))
  }
  if (statusCode >= 500) {
    // The message of a 5xx can name hosts, queries or stack details: it goes to the log only.
    request.log.error({ err: error, code: error.code }, 'request failed')
    const code = isPrefixedCode(error.code) ? error.code : 'KIT_ERR_INTERNAL'
    return reply.code(statusCode).send(errorBody(statusCode, code, STATUS_CODES[statusCode] ?? 'Error'))
  }
  request.log.debug({ code: error.code, statusCode }, 'request rejected')
  // Fastify's body errors (bad JSON, a wrong content type, too large, empty) are about the body.
  const field =
    typeof error.field === 'string'
      ? error.field
      : error.code?.startsWith('FST_ERR_CTP_')
        ? 'body'
        : undefined
  return reply
    .code(statusCode)
    .send(errorBody(statusCode, error.code ?? `HTTP_${statusCode}`, error.message, field))
}

function statusOf(error: KitHandledError, reply: FastifyReply): number {
  const declared = error.statusCode ?? error.status
  if (typeof declared === 'number' && declared >= 400 && declared <= 599) return declared
  return reply.statusCode >= 400 ? reply.statusCode : 500
}

interface AjvError {
  instancePath?: string
  message?: string
  params?: { missingProperty?: string; additionalProperty?: string }
}

/** `body.url must match format "uri"`: the field path first, so a client sees which field at once. */
function describeValidation(error: KitHandledError): { field: string; message: string } {
  const context = (error as { validationContext?: string }).validationContext ?? 'body'
  const first = ((error.validation as AjvError[] | undefined) ?? [])[0] ?? {}
  const segments = (first.instancePath ?? '').split('/').filter((segment) => segment !== '')
  const missing = first.params?.missingProperty
  // An unknown property (additionalProperties: false) is named too: `body.surprise is not allowed`.
  const unknown = first.params?.additionalProperty
  if (missing !== undefined) segments.push(missing)
  else if (unknown !== undefined) segments.push(unknown)
  const field = [context, ...segments].join('.')
  const reason =
    missing !== undefined
      ? 'is required'
      : unknown !== undefined
        ? 'is not allowed'
        : (first.message ?? 'is invalid')
  return { field, message: `${field} ${reason}` }
}
