/**
 * Whether an error means "a dependency is unreachable or overloaded right now" rather than "this
 * code is wrong": a refused or reset connection, a pool that could not connect in time, Postgres
 * shutting down or cancelling a statement on its timeout, Redis's fail-fast client with no
 * connection. The service kit answers those with 503 + Retry-After (retry, maybe elsewhere)
 * instead of 500 (a bug) — clients and load balancers treat the two differently.
 */

/** Node's socket errors for a peer that is down, unreachable or went away. */
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])

/**
 * Postgres SQLSTATEs: class 08 (connection exception), 53300 too many connections, 57014
 * statement cancelled (statement_timeout), 57P01–57P03 admin/crash shutdown, cannot connect now.
 */
function isPostgresUnavailable(code: string): boolean {
  return code.startsWith('08') || ['53300', '57014', '57P01', '57P02', '57P03'].includes(code)
}

/** Messages of drivers that throw plain Errors without a code (pg-pool, pg, ioredis). */
const messagePatterns = [
  /^timeout exceeded when trying to connect$/i, // pg-pool: connectionTimeoutMillis
  /^Connection terminated/i, // pg: the server closed the connection
  /^Connection is closed\.?$/i, // ioredis
  /^Stream isn't writeable and enableOfflineQueue options is false/i, // ioredis, fail-fast client
  /^Command timed out$/i, // ioredis commandTimeout
]

const errorNames = new Set([
  'MaxRetriesPerRequestError',
  'KafkaJSConnectionError',
  'KafkaJSRequestTimeoutError',
])

export function isDependencyUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown }
  if (
    typeof code === 'string' &&
    (socketCodes.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isPostgresUnavailable(code)))
  )
    return true
  if (typeof name === 'string' && errorNames.has(name)) return true
  return typeof message === 'string' && messagePatterns.some((pattern) => pattern.test(message))
}
