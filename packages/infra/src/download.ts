/**
 * Every download the installer makes goes through here: the Go toolchain (an HTTP GET), Go
 * modules (`go install`), the Kafka jars (`mvn`) and Debian packages (`apt-get`). A fresh CI run
 * once failed on one `fetch failed` from the Go module proxy and passed on re-run, so each
 * download is retried with `@faultline/resilience`'s full-jitter backoff (the repo's one backoff
 * formula), and a download that still fails throws a `DownloadError` naming what it fetched.
 */
import { createWriteStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type RetryContext, retry } from '@faultline/resilience'

export interface DownloadRetryOptions {
  /** Attempts in total, the first included (default 5). */
  attempts?: number
  /** Base of the backoff (default 1 s): retry n sleeps up to `min(capMs, baseMs * 2^n)`. */
  baseMs?: number
  /** Longest sleep between attempts (default 30 s). */
  capMs?: number
  /** Limit of one attempt (default none); on expiry the attempt's signal aborts. */
  attemptTimeoutMs?: number
  /** Which failures are worth another attempt (default: all). */
  retryable?: (error: unknown) => boolean
  /** Told about each failed attempt that will be retried, so a slow install explains itself. */
  log?: (line: string) => void
}

/**
 * With the defaults the sleeps are at most 1 + 2 + 4 + 8 s: long enough to ride out a proxy's
 * brief outage or a dropped connection, short enough that a real outage is reported within a
 * quarter of a minute instead of hanging an install.
 */
const defaultAttempts = 5
const defaultBaseMs = 1_000
const defaultCapMs = 30_000

/** A download that failed on every attempt; `what` names the URL, module or artifact. */
export class DownloadError extends Error {
  override name = 'DownloadError'
  readonly what: string
  readonly attempts: number
  constructor(what: string, attempts: number, cause: unknown) {
    const reason = describeError(cause)
    const tries = attempts === 1 ? '1 attempt (not retryable)' : `${attempts} attempts`
    super(`download of ${what} failed after ${tries}: ${reason}`, { cause })
    this.what = what
    this.attempts = attempts
  }
}

/**
 * Runs `download` until it succeeds or the attempts run out, then throws a `DownloadError`
 * naming `what` with the last attempt's error.
 */
export async function retryDownload<T>(
  what: string,
  download: (context: RetryContext) => Promise<T>,
  options: DownloadRetryOptions = {},
): Promise<T> {
  const maxAttempts = options.attempts ?? defaultAttempts
  let attempts = 0
  try {
    return await retry(download, {
      maxAttempts,
      backoff: 'full-jitter',
      baseMs: options.baseMs ?? defaultBaseMs,
      capMs: options.capMs ?? defaultCapMs,
      attemptTimeoutMs: options.attemptTimeoutMs,
      retryable: options.retryable ?? (() => true),
      onAttempt(event) {
        attempts = event.attempt
        if (event.outcome === 'failure' && event.delayMs !== undefined) {
          options.log?.(
            `${what}: attempt ${event.attempt} of ${maxAttempts} failed (${firstLine(describeError(event.error))}); retrying in ${(event.delayMs / 1000).toFixed(1)} s`,
          )
        }
      },
    })
  } catch (err) {
    throw new DownloadError(what, attempts, err)
  }
}

/** An HTTP answer that is not a 2xx; `status` decides whether another attempt may help. */
export class HttpStatusError extends Error {
  override name = 'HttpStatusError'
  readonly status: number
  constructor(url: string, status: number) {
    super(`GET ${url}: HTTP ${status}`)
    this.status = status
  }
}

/**
 * Worth another attempt: a network error, a timeout, a 5xx, 408 or 429. Any other status (404,
 * 403 …) says the URL is wrong, which no retry changes.
 */
export function isRetryableHttpFailure(error: unknown): boolean {
  if (!(error instanceof HttpStatusError)) return true
  return error.status >= 500 || error.status === 408 || error.status === 429
}

/**
 * GET `url` into `file`, retried as `retryDownload` does. Each attempt rewrites the whole file,
 * so a body cut off half way is never kept.
 */
export async function downloadFile(
  url: string,
  file: string,
  options: DownloadRetryOptions = {},
): Promise<void> {
  await retryDownload(
    url,
    async ({ signal }) => {
      const response = await fetch(url, { signal })
      if (!response.ok || !response.body) {
        await response.body?.cancel()
        throw new HttpStatusError(url, response.status)
      }
      await pipeline(Readable.fromWeb(response.body), createWriteStream(file), { signal })
    },
    { retryable: isRetryableHttpFailure, ...options },
  )
}

/** The message, plus its cause's: undici's `fetch failed` keeps the reason (ECONNRESET …) there. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause
  if (cause === undefined || cause === null) return error.message
  const detail =
    cause instanceof Error ? cause.message || (cause as NodeJS.ErrnoException).code : String(cause)
  return detail ? `${error.message} (${detail})` : error.message
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? ''
}
