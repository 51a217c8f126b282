/**
 * One pino logger per process, handed to Fastify (`createService({ logger })`) and to the client
 * factories. Style: object first, then a fixed message, so a log search can count a message
 * and the object carries what varies: `log.error({ err, code }, 'cache fill failed')`.
 */
import { type DestinationStream, type Level, type Logger, pino } from 'pino'

export type { Logger } from 'pino'
export type LogLevel = Level | 'silent'

export interface LoggerOptions {
  /** The service or tool name, on every line as `name`. */
  name: string
  /** @default 'info' */
  level?: LogLevel | string
  /**
   * Human-readable output through pino-pretty. Defaults to whether stdout is a terminal, so
   * piped output, files and CI stay one JSON object per line.
   */
  pretty?: boolean
  /** Where JSON lines go (tests pass a stream to read them back); ignored when `pretty`. */
  destination?: DestinationStream
}

export function createLogger(options: LoggerOptions): Logger {
  const base = {
    name: options.name,
    level: options.level ?? 'info',
    // Credentials travel in headers and connection strings; they never belong in a log line.
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password'],
      censor: '[redacted]',
    },
  }
  const pretty = options.pretty ?? process.stdout.isTTY === true
  if (pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } },
    })
  }
  return options.destination ? pino(base, options.destination) : pino(base)
}

/**
 * A log call made at most once per `intervalMs`: the calls in between are counted, and the next
 * line carries that count as `suppressed`. For errors that can repeat thousands of times a second
 * — a reconnect loop, or a BullMQ worker whose Redis refuses every write (out of memory) and which
 * retries at once: unthrottled, one soak wrote 10 GB of identical lines in eight minutes.
 */
export function rateLimitedLog<A extends object>(
  intervalMs: number,
  write: (obj: A & { suppressed: number }) => void,
  now: () => number = Date.now,
): (obj: A) => void {
  let lastMs = Number.NEGATIVE_INFINITY
  let suppressed = 0
  return (obj) => {
    const t = now()
    if (t - lastMs < intervalMs) {
      suppressed++
      return
    }
    write({ ...obj, suppressed })
    lastMs = t
    suppressed = 0
  }
}
