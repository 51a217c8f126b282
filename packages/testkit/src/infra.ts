/**
 * Where integration tests find real infrastructure.
 *
 * 1. Environment: each of DATABASE_URL, REDIS_URL, QUEUE_REDIS_URL, KAFKA_BROKERS, S3_ENDPOINT and
 *    TOXIPROXY_URL that is set wins for its component (CI against managed services, or a test
 *    pointing one component at a direct port).
 * 2. testcontainers (postgres:15, redis:7, Kafka) when a container engine answers.
 * 3. Otherwise the native topology (`./faultline infra up`), through its Toxiproxy proxies — the
 *    only path with Toxiproxy in front of every component, so chaos tests force it with
 *    FAULTLINE_INFRA=native.
 * 4. Otherwise: an error naming what did not answer and saying to run `./faultline infra up`.
 *
 * FAULTLINE_INFRA forces a path: `external` (environment only), `native`, `testcontainers`;
 * `auto` (or unset) walks the list above.
 */
import { serviceEnv } from '@faultline/infra'
import { containerRuntimeAvailable, startContainers } from './containers.ts'
import { TestkitError } from './errors.ts'
import { probeHttp, probeKafka, probePostgres, probeRedis } from './probes.ts'

export type InfraComponent = 'postgres' | 'redis' | 'queueRedis' | 'kafka' | 's3' | 'toxiproxy'
export type InfraSource = 'env' | 'native' | 'testcontainers'
export type InfraMode = 'auto' | 'external' | 'native' | 'testcontainers'

/** The env var that carries each component's address (the names the services' config reads). */
export const envVarOf: Record<InfraComponent, string> = {
  postgres: 'DATABASE_URL',
  redis: 'REDIS_URL',
  queueRedis: 'QUEUE_REDIS_URL',
  kafka: 'KAFKA_BROKERS',
  s3: 'S3_ENDPOINT',
  toxiproxy: 'TOXIPROXY_URL',
}

const allComponents = Object.keys(envVarOf) as InfraComponent[]

/** What a test gets unless it says otherwise; S3 and Toxiproxy are opt-in. */
export const defaultNeed: readonly InfraComponent[] = ['postgres', 'redis', 'queueRedis', 'kafka']

export interface ResolveOptions {
  /** Components that must answer. Defaults to {@link defaultNeed}. Narrow it: fewer probes, fewer containers. */
  need?: readonly InfraComponent[]
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>
  /** Defaults to FAULTLINE_INFRA, else `auto`. */
  mode?: InfraMode
  /** Per-component answer deadline. Default 3000 ms. */
  probeTimeoutMs?: number
}

export interface InfraUrls {
  databaseUrl: string
  redisUrl: string
  queueRedisUrl: string
  kafkaBrokers: string[]
  s3Endpoint: string
  toxiproxyUrl: string
}

export interface ResolvedInfra {
  /**
   * Connection addresses. Reading one that this resolution does not provide (not needed and not
   * known, or S3/Toxiproxy under testcontainers) throws TESTKIT_ERR_NOT_PROVIDED.
   */
  urls: InfraUrls
  /** Where each provided component came from. */
  sources: Partial<Record<InfraComponent, InfraSource>>
  /**
   * The same addresses under the env var names (plus S3 credentials when known), ready to merge
   * into the env a service's config loader reads.
   */
  env: Record<string, string>
  /** The path taken for components not set in the environment. */
  mode: Exclude<InfraMode, 'auto'>
  /** The components that were checked to answer (the resolved `need`). */
  need: InfraComponent[]
}

const cache = new Map<string, Promise<ResolvedInfra>>()

/**
 * Resolves (and caches, per process and per options) the infrastructure a test file uses. Every
 * needed component is checked to answer before this returns, so a test fails here, with a clear
 * message, rather than in a timeout deep inside a client.
 */
export function resolveInfra(options: ResolveOptions = {}): Promise<ResolvedInfra> {
  const env = options.env ?? process.env
  const need = [...new Set(options.need ?? defaultNeed)].sort()
  const mode = options.mode ?? parseMode(env.FAULTLINE_INFRA)
  const key = JSON.stringify([mode, need, allComponents.map((c) => env[envVarOf[c]] ?? null)])
  let resolved = cache.get(key)
  if (!resolved) {
    resolved = resolve(env, need, mode, options.probeTimeoutMs ?? 3000)
    cache.set(key, resolved)
    // A failure is not cached: the next test file (or a retry after `infra up`) tries again.
    resolved.catch(() => cache.delete(key))
  }
  return resolved
}

function parseMode(value: string | undefined): InfraMode {
  if (value === undefined || value === '') return 'auto'
  if (value === 'auto' || value === 'external' || value === 'native' || value === 'testcontainers')
    return value
  throw new TestkitError(
    'TESTKIT_ERR_BAD_MODE',
    `FAULTLINE_INFRA=${value} is not one of auto, external, native, testcontainers`,
  )
}

type Addresses = Partial<Record<InfraComponent, string>>

async function resolve(
  env: Record<string, string | undefined>,
  need: InfraComponent[],
  mode: InfraMode,
  timeoutMs: number,
): Promise<ResolvedInfra> {
  const fromEnv: Addresses = {}
  for (const c of allComponents) {
    const value = env[envVarOf[c]]
    if (value) fromEnv[c] = value
  }
  const missing = need.filter((c) => fromEnv[c] === undefined)
  const native = nativeAddresses()

  let chosen: Exclude<InfraMode, 'auto'>
  if (mode === 'external' || missing.length === 0) {
    chosen = mode === 'auto' ? 'external' : mode
    if (mode === 'external' && missing.length > 0) {
      throw new TestkitError(
        'TESTKIT_ERR_INFRA_UNAVAILABLE',
        `FAULTLINE_INFRA=external but ${missing.map((c) => envVarOf[c]).join(', ')} not set`,
      )
    }
  } else if (mode === 'auto') {
    if (await containerRuntimeAvailable(timeoutMs)) chosen = 'testcontainers'
    else {
      const nativeFailures = await probeAll(native, missing, timeoutMs)
      if (nativeFailures.length > 0) throw unavailable(nativeFailures)
      chosen = 'native'
    }
  } else {
    chosen = mode
  }

  const addresses: Addresses = {}
  const sources: Partial<Record<InfraComponent, InfraSource>> = {}
  if (chosen === 'native') {
    Object.assign(addresses, native)
    for (const c of allComponents) sources[c] = 'native'
  } else if (chosen === 'testcontainers') {
    const notContainerised = missing.filter((c) => c === 's3' || c === 'toxiproxy')
    if (notContainerised.length > 0) {
      throw new TestkitError(
        'TESTKIT_ERR_INFRA_UNAVAILABLE',
        `${notContainerised.join(' and ')} not available under testcontainers: run \`./faultline infra up\` (native) or set ${notContainerised.map((c) => envVarOf[c]).join(', ')}`,
      )
    }
    const started = await startContainers({
      postgres: missing.includes('postgres'),
      redis: missing.includes('redis'),
      queueRedis: missing.includes('queueRedis'),
      kafka: missing.includes('kafka'),
    })
    const byComponent: Addresses = {
      postgres: started.databaseUrl,
      redis: started.redisUrl,
      queueRedis: started.queueRedisUrl,
      kafka: started.kafkaBrokers,
    }
    for (const c of missing) {
      addresses[c] = byComponent[c]
      sources[c] = 'testcontainers'
    }
  }
  for (const c of allComponents) {
    const value = fromEnv[c]
    if (value !== undefined) {
      addresses[c] = value
      sources[c] = 'env'
    }
  }

  // Native components were probed above in auto mode; probe them again only when forced.
  const toProbe = need.filter((c) => !(mode === 'auto' && chosen === 'native' && sources[c] === 'native'))
  const failures = await probeAll(addresses, toProbe, timeoutMs)
  if (failures.length > 0) throw unavailable(failures)

  return build(addresses, sources, chosen, env, need)
}

function nativeAddresses(): Addresses {
  const e = serviceEnv()
  const addresses: Addresses = {}
  for (const c of allComponents) addresses[c] = e[envVarOf[c]]
  return addresses
}

interface ProbeFailure {
  component: InfraComponent
  address: string
  reason: string
}

async function probeAll(addresses: Addresses, components: InfraComponent[], timeoutMs: number) {
  const results = await Promise.all(
    components.map(async (component): Promise<ProbeFailure | undefined> => {
      const address = addresses[component] ?? ''
      try {
        await probe(component, address, timeoutMs)
        return undefined
      } catch (err) {
        return { component, address, reason: describe(err) }
      }
    }),
  )
  return results.filter((r) => r !== undefined)
}

function probe(component: InfraComponent, address: string, timeoutMs: number): Promise<void> {
  switch (component) {
    case 'postgres':
      return probePostgres(address, timeoutMs)
    case 'redis':
    case 'queueRedis':
      return probeRedis(address, timeoutMs)
    case 'kafka':
      return probeKafka(splitBrokers(address), timeoutMs)
    case 's3':
      return probeHttp(address, timeoutMs)
    case 'toxiproxy':
      return probeHttp(`${address.replace(/\/+$/, '')}/version`, timeoutMs)
  }
}

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describe(err.errors[0])
  if (err instanceof Error) return err.message || err.name
  return String(err)
}

function unavailable(failures: ProbeFailure[]): TestkitError {
  const lines = failures.map((f) => `  ${f.component} at ${redact(f.address)}: ${f.reason}`)
  return new TestkitError(
    'TESTKIT_ERR_INFRA_UNAVAILABLE',
    [
      'test infrastructure does not answer:',
      ...lines,
      'Run `./faultline infra up` (native Postgres, Redis, Kafka, Toxiproxy), or set the env vars',
      `(${allComponents.map((c) => envVarOf[c]).join(', ')}) to infrastructure of your own.`,
    ].join('\n'),
  )
}

function redact(address: string): string {
  return address.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@')
}

export function splitBrokers(value: string): string[] {
  return value
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0)
}

function build(
  addresses: Addresses,
  sources: Partial<Record<InfraComponent, InfraSource>>,
  mode: Exclude<InfraMode, 'auto'>,
  env: Record<string, string | undefined>,
  need: InfraComponent[],
): ResolvedInfra {
  const required = (component: InfraComponent): string => {
    const value = addresses[component]
    if (value === undefined) {
      throw new TestkitError(
        'TESTKIT_ERR_NOT_PROVIDED',
        `${component} was not provided (${mode} infra): add '${component}' to need, or set ${envVarOf[component]}`,
      )
    }
    return value
  }
  const urls = {
    get databaseUrl() {
      return required('postgres')
    },
    get redisUrl() {
      return required('redis')
    },
    get queueRedisUrl() {
      return required('queueRedis')
    },
    get kafkaBrokers() {
      return splitBrokers(required('kafka'))
    },
    get s3Endpoint() {
      return required('s3')
    },
    get toxiproxyUrl() {
      return required('toxiproxy')
    },
  } satisfies InfraUrls

  const asEnv: Record<string, string> = {}
  for (const c of allComponents) {
    const value = addresses[c]
    if (value !== undefined) asEnv[envVarOf[c]] = value
  }
  if (addresses.s3 !== undefined) {
    const native = serviceEnv()
    const accessKey = env.S3_ACCESS_KEY ?? (sources.s3 === 'native' ? native.S3_ACCESS_KEY : undefined)
    const secretKey = env.S3_SECRET_KEY ?? (sources.s3 === 'native' ? native.S3_SECRET_KEY : undefined)
    if (accessKey !== undefined) asEnv.S3_ACCESS_KEY = accessKey
    if (secretKey !== undefined) asEnv.S3_SECRET_KEY = secretKey
  }
  return { urls, sources, env: asEnv, mode, need }
}
