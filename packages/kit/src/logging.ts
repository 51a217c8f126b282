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
