/**
 * Configuration from the environment, checked against a JSON schema at boot. A service declares
 * one TypeBox `Type.Object` (a JSON schema and a TypeScript type at once), spreads in the
 * fragments below for the variables every service shares, and calls `loadConfig` once in
 * `server.ts`. A bad deployment then fails at start with every wrong variable in one message,
 * instead of one variable per restart.
 */
import { hostname } from 'node:os'
import { serviceEnv } from '@faultline/infra'
import { type Static, type TBoolean, type TObject, Type } from 'typebox'
import Value from 'typebox/value'

export type { Static, TObject } from 'typebox'
/** The `typebox` builder (1.x, the one `@fastify/type-provider-typebox` 6 uses); build config schemas with this one. */
export { Type }

export interface ConfigIssue {
  /** The environment variable, e.g. `PORT`. */
  name: string
  /** Why it was rejected, e.g. `is required` or `must be <= 65535`. */
  reason: string
}

/** Thrown by `loadConfig`; `issues` holds every missing or invalid variable, not just the first. */
export class ConfigError extends Error {
  readonly code = 'KIT_ERR_CONFIG_INVALID'
  readonly issues: ConfigIssue[]

  constructor(issues: ConfigIssue[]) {
    super(`invalid configuration: ${issues.map((issue) => `${issue.name}: ${issue.reason}`).join('; ')}`)
    this.name = 'ConfigError'
    this.issues = issues
  }
}

type Env = Record<string, string | undefined>

/**
 * Runs one part of reading a service's config (its schema, its switches …); a `ConfigError`'s
 * issues are added to `issues` and `undefined` comes back, so the caller can read every part and
 * report every bad variable at once. Any other error is a bug and is thrown.
 */
export function collectIssues<T>(issues: ConfigIssue[], read: () => T): T | undefined {
  try {
    return read()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    issues.push(...err.issues)
    return undefined
  }
}

/**
 * Reads the schema's variables from `env`, applies defaults, converts strings to the declared
 * types (`'8080'` → 8080, `'false'` → false) and validates. Only the schema's keys are read. An
 * empty variable counts as unset, so `FOO=` in a compose file means "use the default".
 *
 * @throws ConfigError listing every missing or invalid variable.
 */
export function loadConfig<S extends TObject>(schema: S, env: Env = process.env): Static<S> {
  const raw: Record<string, string> = {}
  for (const name of Object.keys(schema.properties)) {
    const value = env[name]
    if (value !== undefined && value.trim() !== '') raw[name] = value.trim()
  }
  const value = Value.Convert(schema, Value.Default(schema, raw))
  const issues = describeIssues(schema, value)
  if (issues.length > 0) throw new ConfigError(issues)
  return value as Static<S>
}

function describeIssues(schema: TObject, value: unknown): ConfigIssue[] {
  const reasons = new Map<string, string[]>()
  const add = (name: string, reason: string) => {
    const list = reasons.get(name) ?? []
    if (!list.includes(reason)) list.push(reason)
    reasons.set(name, list)
  }
  for (const error of Value.Errors(schema, value)) {
    if (error.keyword === 'required') {
      const missing = (error.params as { requiredProperties?: string[] }).requiredProperties ?? []
      for (const name of missing) add(name, 'is required')
      continue
    }
    const name = error.instancePath.split('/')[1]
    if (name === undefined || name === '') continue
    // Only the variable's own schema speaks: the branches of a union each report a mismatch
    // ("must be equal to constant"), which says nothing the union's own error does not.
    if (error.schemaPath !== `#/properties/${name}`) continue
    if (error.keyword === 'enum') {
      const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues ?? []
      add(name, `must be one of ${allowed.join(', ')}`)
      continue
    }
    add(name, error.message)
  }
  const order = Object.keys(schema.properties)
  return [...reasons.entries()]
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    .map(([name, list]) => ({ name, reason: list.join(', ') }))
}

/** A boolean switch read from env: accepts `true`/`false`/`1`/`0`. */
export function envBoolean(defaultValue: boolean, description?: string): TBoolean {
  return Type.Boolean({ default: defaultValue, ...(description ? { description } : {}) })
}

/** Splits a comma-separated variable (`KAFKA_BROKERS`): `'a:1, b:2,'` → `['a:1', 'b:2']`. */
export function envList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

const defaults = serviceEnv()
const url = (name: string, description: string) =>
  Type.String({ format: 'uri', default: defaults[name] ?? '', description })

/** How the HTTP server listens, logs and shuts down. */
export const httpEnv = {
  PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 3000,
    description: 'HTTP port; 0 picks a free one',
  }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'address to listen on' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  SHUTDOWN_DEADLINE_MS: Type.Integer({
    minimum: 1,
    default: 10_000,
    description: 'after a SIGTERM, exit non-zero if closing takes longer than this',
  }),
  SHUTDOWN_DRAIN_MS: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      'after a SIGTERM, keep listening (answering 503) this long before closing, so a load balancer notices',
  }),
}

/** The Postgres primary (through its Toxiproxy proxy by default). */
export const postgresEnv = {
  DATABASE_URL: url('DATABASE_URL', 'Postgres primary'),
  PG_POOL_MAX: Type.Integer({ minimum: 1, default: 10, description: 'most connections in the pool' }),
  PG_STATEMENT_TIMEOUT_MS: Type.Integer({
    minimum: 0,
    default: 5000,
    description: 'Postgres statement_timeout; 0 disables it',
  }),
}

/** The Postgres streaming replica, for read paths that tolerate lag. */
export const replicaEnv = {
  DATABASE_REPLICA_URL: url('DATABASE_REPLICA_URL', 'Postgres read replica'),
}

/** The cache Redis. */
export const redisEnv = {
  REDIS_URL: url('REDIS_URL', 'cache Redis'),
}

/** The queue Redis (BullMQ), separate so a cache eviction storm never evicts jobs. */
export const queueRedisEnv = {
  QUEUE_REDIS_URL: url('QUEUE_REDIS_URL', 'queue Redis (BullMQ)'),
}

/** Kafka bootstrap brokers, `host:port` comma-separated; split with `envList`. */
export const kafkaEnv = {
  KAFKA_BROKERS: Type.String({
    pattern: '^\\s*[^,\\s]+:\\d+\\s*(,\\s*[^,\\s]+:\\d+\\s*)*,?\\s*$',
    default: defaults.KAFKA_BROKERS ?? '',
    description: 'comma-separated host:port list',
  }),
}

/** The S3-compatible object store (versitygw in the native topology). */
export const s3Env = {
  S3_ENDPOINT: url('S3_ENDPOINT', 'S3-compatible endpoint'),
  S3_ACCESS_KEY: Type.String({ minLength: 1, default: defaults.S3_ACCESS_KEY ?? '' }),
  S3_SECRET_KEY: Type.String({ minLength: 1, default: defaults.S3_SECRET_KEY ?? '' }),
}

/** Every shared variable; a service usually spreads only the fragments it needs. */
export const commonEnv = {
  ...httpEnv,
  ...postgresEnv,
  ...replicaEnv,
  ...redisEnv,
  ...queueRedisEnv,
  ...kafkaEnv,
  ...s3Env,
}

/** What every service process is besides its listener: its name, request logging, the admin token. */
export const processEnv = {
  INSTANCE_ID: Type.String({
    default: '',
    description: 'name in logs and metrics; default <hostname>-<pid>',
  }),
  LOG_REQUESTS: envBoolean(false, 'log every request (costly under load)'),
  ADMIN_TOKEN: Type.String({ default: '', description: 'bearer token for /admin/*; empty = open' }),
}

const processSchema = Type.Object({ ...httpEnv, ...processEnv })
/** The variables `processSettings` reads (a service's schema spreads `httpEnv` and `processEnv`). */
export type ProcessEnv = Static<typeof processSchema>

/** The settings every service process has, whatever the service: the head of each `Config`. */
export interface ProcessSettings {
  host: string
  port: number
  logLevel: string
  logRequests: boolean
  /** INSTANCE_ID, or `<hostname>-<pid>`. */
  instanceId: string
  /** ADMIN_TOKEN; `undefined` when empty (admin routes open). */
  adminToken: string | undefined
  shutdownDeadlineMs: number
  shutdownDrainMs: number
}

export function processSettings(e: ProcessEnv): ProcessSettings {
  return {
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    logRequests: e.LOG_REQUESTS,
    instanceId: e.INSTANCE_ID || `${hostname()}-${process.pid}`,
    adminToken: e.ADMIN_TOKEN || undefined,
    shutdownDeadlineMs: e.SHUTDOWN_DEADLINE_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
  }
}

/**
 * Reads a service's schema and its mitigation switches together, so one `ConfigError` lists every
 * bad variable of both; `check` adds the rules a schema cannot state (one variable required by
 * another's value, a list's items), run on the schema's values when those are valid.
 *
 * @throws ConfigError listing every missing or invalid variable.
 */
export function loadServiceEnv<S extends TObject, M>(
  schema: S,
  switches: { fromEnv(env: Env): M },
  env: Env = process.env,
  check?: (e: Static<S>) => ConfigIssue[],
): { env: Static<S>; mitigations: M } {
  const issues: ConfigIssue[] = []
  const e = collectIssues(issues, () => loadConfig(schema, env))
  const mitigations = collectIssues(issues, () => switches.fromEnv(env))
  if (e !== undefined && check !== undefined) issues.push(...check(e))
  if (e === undefined || mitigations === undefined || issues.length > 0) throw new ConfigError(issues)
  return { env: e, mitigations }
}

/**
 * A process' entry: reads its config and runs `main` on it. A bad configuration prints its one
 * message (every bad variable, no stack trace) and exits 1; so does any error `main` throws.
 */
export async function runMain<C>(load: () => C, main: (config: C) => Promise<unknown>): Promise<void> {
  try {
    await main(load())
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err)
    process.exit(1)
  }
}
