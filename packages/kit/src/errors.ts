import createError, { type FastifyErrorConstructor } from '@fastify/error'

/**
 * Error codes carry their package's prefix (`KIT_ERR_…`, `SHORTENER_ERR_…`), so a client or a log
 * search tells failures apart without parsing messages, and so does the error handler: only a
 * prefixed code is sent with a 5xx, anything else (a driver's `ECONNRESET`) becomes
 * `KIT_ERR_INTERNAL`.
 */
export type ErrorCode = `${string}_ERR_${string}`

const codePattern = /^[A-Z][A-Z0-9]*_ERR_[A-Z0-9_]+$/

/** Whether `code` has the `<PREFIX>_ERR_<NAME>` shape of Faultline (and Fastify's `FST_ERR_…`) codes. */
export function isPrefixedCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && codePattern.test(code)
}

/**
 * Declares one error of a service: `new AliasTakenError('abc')`. The message may hold `%s`
 * placeholders filled by the constructor's arguments. It is `createError` of `@fastify/error`
 * that also checks the code's shape at declaration time, so a typo fails at boot, not in a log.
 *
 * @example
 * export const AliasTakenError = defineError<[string]>('SHORTENER_ERR_ALIAS_TAKEN', 'alias "%s" is already taken', 409)
 */
export function defineError<Args extends unknown[] = []>(
  code: ErrorCode,
  message: string,
  statusCode: number,
): FastifyErrorConstructor<{ code: string; statusCode: number }, Args> {
  if (!isPrefixedCode(code)) {
    throw new TypeError(`error code ${code} must look like PREFIX_ERR_NAME (upper case)`)
  }
  if (!Number.isInteger(statusCode) || statusCode < 400 || statusCode > 599) {
    throw new TypeError(`error ${code}: statusCode ${statusCode} must be an HTTP error status (400-599)`)
  }
  return createError<string, number, Args>(code, message, statusCode)
}

/** A request failed Fastify's schema validation; the response names the field. */
export const KitValidationError = defineError<[string]>('KIT_ERR_VALIDATION', '%s', 400)
/** No route matches the method and URL. */
export const KitRouteNotFoundError = defineError<[string, string]>(
  'KIT_ERR_ROUTE_NOT_FOUND',
  'Route %s %s not found',
  404,
)
/** The process began shutting down and takes no new requests; retry on another instance. */
export const KitShuttingDownError = defineError('KIT_ERR_SHUTTING_DOWN', 'the server is shutting down', 503)
/** A dependency (database, cache, broker) is unreachable or overloaded: 503 + Retry-After, not a 500. */
export const KitDependencyUnavailableError = defineError(
  'KIT_ERR_DEPENDENCY_UNAVAILABLE',
  'a dependency is unavailable; retry shortly',
  503,
)
/** Stands in for the code of any 5xx error whose code is not a prefixed one. */
export const KitInternalError = defineError('KIT_ERR_INTERNAL', 'Internal Server Error', 500)
/** A readiness check did not settle within its timeout. */
export const KitReadinessTimeoutError = defineError<[string, number]>(
  'KIT_ERR_READINESS_TIMEOUT',
  'readiness check %s timed out after %s ms',
  503,
)
