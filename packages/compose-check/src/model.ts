/**
 * The compose model as the rules read it: the shapes of a service, small readers that accept
 * every syntax Compose accepts (short and long ports, list and map environment), and what
 * topology.ts says the model must contain (published ports, service environment).
 */
import { ports, proxies, redisClusterNodes, serviceEnv } from '@faultline/infra'

/** Profile of one-shot tools (k6): no health check, started with `docker compose run`. */
export const toolsProfile = 'tools'

/**
 * Ports inside the images (facts about the images, not choices of ours), for components
 * whose container port topology.ts does not already name.
 */
export const imagePorts = { toxiproxyApi: 8474, prometheus: 9090, grafana: 3000 } as const

/** Topology ports that stay inside the compose network on purpose. */
export const internalPorts: ReadonlyArray<keyof typeof ports> = ['kafkaController']

/** Host name of the Toxiproxy container: services reach every component through it. */
export const toxiproxyService = 'toxiproxy'

/**
 * Kafka's proxy for clients inside the compose network. A broker tells each client which
 * address to use next by the listener the client came in on, and one proxy reaches one
 * listener, so one proxy cannot serve both sides: the topology's `kafka` proxy (published on
 * 29092) reaches a listener that advertises `127.0.0.1:29092`, as the native broker does, so
 * host processes — `lab run --infra compose`, whose toxics name `kafka` — stay behind it; this
 * second proxy, never published, reaches a listener that advertises `toxiproxy:29093` for the
 * containers.
 */
export const kafkaNetworkProxy = {
  name: 'kafka-network',
  listenPort: 29093,
  composeService: proxies.kafka.composeService,
  containerPort: 9094,
} as const

/** Every proxy toxiproxy.json must hold, in order: the topology's, then the network-only one. */
export function expectedProxies(): Array<{ name: string; listen: string; upstream: string }> {
  return [...Object.values(proxies), kafkaNetworkProxy].map((p) => ({
    name: p.name,
    listen: `0.0.0.0:${p.listenPort}`,
    upstream: `${p.composeService}:${p.containerPort}`,
  }))
}

export interface PortMapping {
  hostIp: string | undefined
  published: number
  target: number
  protocol: string
}

export interface BuildSpec {
  context?: string
  dockerfile?: string
  args?: Record<string, string> | string[]
}

export interface Healthcheck {
  test?: string | string[]
  disable?: boolean
}

export interface Service {
  image?: string
  build?: string | BuildSpec
  pull_policy?: string
  user?: string
  working_dir?: string
  profiles?: string[]
  healthcheck?: Healthcheck
  mem_limit?: string | number
  deploy?: { resources?: { limits?: { memory?: string | number } } }
  depends_on?: string[] | Record<string, { condition?: string }>
  ports?: Array<string | number | Record<string, unknown>>
  environment?: Record<string, unknown> | string[]
  command?: string | string[]
  volumes?: Array<string | LongVolume>
  labels?: Record<string, unknown> | string[]
}

export interface LongVolume {
  type?: string
  source?: string
  target?: string
  read_only?: boolean
  bind?: { create_host_path?: boolean }
}

/** A volume entry in one shape: `source` is a bind path (`./x`), a volume name, or undefined. */
export interface Mount {
  type: 'bind' | 'volume' | 'other'
  source: string | undefined
  target: string
  readOnly: boolean
  /** Long syntax only: Compose creates a missing bind source (as root) unless this is false. */
  createHostPath: boolean
}

export type Services = Record<string, Service>

/** The published ports each component must have, derived from topology.ts. */
export function expectedPublishedPorts(): Record<string, Array<{ published: number; target: number }>> {
  const p = proxies
  return {
    [p.postgres.composeService]: [{ published: ports.postgresPrimary, target: p.postgres.containerPort }],
    [p['postgres-replica'].composeService]: [
      { published: ports.postgresReplica, target: p['postgres-replica'].containerPort },
    ],
    [p['redis-cache'].composeService]: [
      { published: ports.redisCache, target: p['redis-cache'].containerPort },
    ],
    [p['redis-queue'].composeService]: [
      { published: ports.redisQueue, target: p['redis-queue'].containerPort },
    ],
    [p.kafka.composeService]: [
      { published: ports.kafka, target: p.kafka.containerPort },
      // The DIRECT listener advertises 127.0.0.1:<port>, so inside and outside must agree.
      { published: ports.kafkaDirect, target: ports.kafkaDirect },
    ],
    [p.s3.composeService]: [{ published: ports.s3, target: p.s3.containerPort }],
    [toxiproxyService]: [
      { published: ports.toxiproxyApi, target: imagePorts.toxiproxyApi },
      ...Object.values(p).map((proxy) => ({ published: proxy.listenPort, target: proxy.listenPort })),
    ],
    prometheus: [{ published: ports.prometheus, target: imagePorts.prometheus }],
    grafana: [{ published: ports.grafana, target: imagePorts.grafana }],
    // Each node listens on its host port inside its container too, so the natMap that sends a
    // host client from `redis-cluster-N:<port>` to `127.0.0.1:<port>` keeps the port.
    ...Object.fromEntries(redisClusterNodes.map((n) => [n.name, [{ published: n.port, target: n.port }]])),
  }
}

/**
 * serviceEnv() as a container sees it: the same proxies, addressed by the toxiproxy host name,
 * except Kafka, which containers reach through its network-only proxy, and the Redis Cluster's
 * nodes, reached by their own names.
 */
export function expectedServiceEnv(): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(serviceEnv()).map(([key, value]) => [key, value.replace('127.0.0.1', toxiproxyService)]),
  )
  return {
    ...env,
    KAFKA_BROKERS: `${toxiproxyService}:${kafkaNetworkProxy.listenPort}`,
    // No proxy in front of the cluster (see redisClusterNodes): the nodes, by compose host name.
    REDIS_CLUSTER_NODES: redisClusterNodes.map((n) => `${n.name}:${n.port}`).join(','),
  }
}

// ---------------------------------------------------------------------------------------------
// Small readers for the compose model

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function servicesOf(compose: unknown): Services {
  if (!isRecord(compose) || !isRecord(compose.services)) return {}
  return compose.services as Services
}

export function isOneShot(service: Service): boolean {
  return service.profiles?.includes(toolsProfile) ?? false
}

export function buildOf(service: Service): BuildSpec | undefined {
  if (service.build === undefined) return undefined
  return typeof service.build === 'string' ? { context: service.build } : service.build
}

export function buildArg(build: BuildSpec, name: string): string | undefined {
  if (Array.isArray(build.args)) {
    const entry = build.args.find((a) => a.startsWith(`${name}=`))
    return entry?.slice(name.length + 1)
  }
  return build.args?.[name]
}

/**
 * A system process that takes no user traffic (a Kafka consumer, an outbox relay, a queue
 * processor) says so with the label `faultline.role: worker`, the compose twin of `role: 'worker'`
 * in its system.ts: it hands out no URLs (no PUBLIC_BASE_URL) and k6 never targets it.
 */
export function isWorkerService(service: Service): boolean {
  const labels = service.labels
  if (labels === undefined) return false
  if (Array.isArray(labels)) return labels.includes('faultline.role=worker')
  return labels['faultline.role'] === 'worker'
}

export function environmentOf(service: Service): Record<string, string> {
  const env = service.environment
  if (env === undefined) return {}
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const at = entry.indexOf('=')
        return at === -1 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)]
      }),
    )
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]))
}

export function commandOf(service: Service): string[] {
  const command = service.command
  if (command === undefined) return []
  return typeof command === 'string' ? command.split(/\s+/).filter(Boolean) : command.map(String)
}

/** The value after `--flag` in a command, as Redis reads its arguments. */
export function flagValue(command: string[], flag: string): string | undefined {
  const at = command.indexOf(flag)
  return at === -1 ? undefined : command[at + 1]
}

export function hasHealthcheck(service: Service): boolean {
  const hc = service.healthcheck
  if (!hc || hc.disable === true) return false
  const test = typeof hc.test === 'string' ? [hc.test] : (hc.test ?? [])
  return test.length > 0 && test[0] !== 'NONE' && test.join('').trim() !== ''
}

/**
 * Parses a port entry: short syntax `[host_ip:][published:]target[/protocol]` (IPv6 hosts in
 * brackets) or the long syntax object. Ranges are rejected: the port table has none.
 */
export function parsePort(entry: string | number | Record<string, unknown>): PortMapping | string {
  if (typeof entry === 'number')
    return { hostIp: undefined, published: Number.NaN, target: entry, protocol: 'tcp' }
  if (isRecord(entry)) {
    const published = Number(entry.published)
    const target = Number(entry.target)
    if (!Number.isInteger(published) || !Number.isInteger(target))
      return `cannot read port ${JSON.stringify(entry)}`
    return {
      hostIp: typeof entry.host_ip === 'string' ? entry.host_ip : undefined,
      published,
      target,
      protocol: typeof entry.protocol === 'string' ? entry.protocol : 'tcp',
    }
  }
  const match = /^(?:(\[[^\]]+\]|[^:]+):)??(?:(\d+):)?(\d+)(?:\/(\w+))?$/.exec(entry)
  if (!match) return `cannot read port "${entry}" (ranges and variables are not used here)`
  const [, hostIp, published, target, protocol] = match
  return {
    hostIp,
    published: published === undefined ? Number.NaN : Number(published),
    target: Number(target),
    protocol: protocol ?? 'tcp',
  }
}

export function stringsIn(value: unknown, path: string, out: Array<[string, string]>): void {
  if (typeof value === 'string') out.push([path, value])
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) stringsIn(v, `${path}[${i}]`, out)
  } else if (isRecord(value))
    for (const [k, v] of Object.entries(value)) stringsIn(v, path ? `${path}.${k}` : k, out)
}

/** Reads a short (`src:dst[:ro]`) or long volume entry. */
export function mountOf(volume: string | LongVolume): Mount {
  if (typeof volume === 'string') {
    const [source = '', target = '', mode = ''] = volume.split(':')
    if (target === '')
      return { type: 'volume', source: undefined, target: source, readOnly: false, createHostPath: true }
    const bind = /^(\.{1,2}(\/|$)|\/|~)/.test(source)
    return {
      type: bind ? 'bind' : 'volume',
      source,
      target,
      readOnly: mode.split(',').includes('ro'),
      createHostPath: true,
    }
  }
  const type = volume.type === 'bind' || volume.type === 'volume' ? volume.type : 'other'
  return {
    type,
    source: volume.source,
    target: volume.target ?? '',
    readOnly: volume.read_only === true,
    createHostPath: volume.bind?.create_host_path !== false,
  }
}

export function mountsOf(service: Service): Mount[] {
  return (service.volumes ?? []).map(mountOf)
}

/** Whether `path` is `dir` or inside it (container paths, POSIX). */
export function isWithin(path: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '')
  return path === d || path.startsWith(`${d}/`)
}
