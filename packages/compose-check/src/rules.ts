/**
 * Faultline's own rules for docker-compose.yml, beyond what the Compose schema can say:
 * health and memory limits everywhere, start order by health, the shared port table, the
 * Toxiproxy routing, and the few settings an experiment depends on (a queue Redis that never
 * evicts, a Kafka that advertises the proxy). Every check returns readable problems instead
 * of throwing, so one run lists everything that is wrong.
 */
import { createRequire } from 'node:module'
import { credentials, ports, proxies, serviceEnv } from '@faultline/infra'
import { checkDockerfile } from './dockerfile.ts'
import { type Project, toxiproxyConfigPath } from './project.ts'

// @balena/dockerignore (Docker's own matching rules, as testcontainers uses them) is CommonJS
// whose types claim an ES default export; require it to get the function as it really is.
const ignore = createRequire(import.meta.url)(
  '@balena/dockerignore',
) as typeof import('@balena/dockerignore').default

/** Profile of one-shot tools (k6): no health check, started with `docker compose run`. */
export const toolsProfile = 'tools'

/**
 * Ports inside the images (facts about the images, not choices of ours), for components
 * whose container port topology.ts does not already name.
 */
const imagePorts = { toxiproxyApi: 8474, prometheus: 9090, grafana: 3000 } as const

/** Topology ports that stay inside the compose network on purpose. */
export const internalPorts: ReadonlyArray<keyof typeof ports> = ['kafkaController']

/** Host name of the Toxiproxy container: services reach every component through it. */
export const toxiproxyService = 'toxiproxy'

interface PortMapping {
  hostIp: string | undefined
  published: number
  target: number
  protocol: string
}

interface BuildSpec {
  context?: string
  dockerfile?: string
  args?: Record<string, string> | string[]
}

interface Healthcheck {
  test?: string | string[]
  disable?: boolean
}

interface Service {
  image?: string
  build?: string | BuildSpec
  profiles?: string[]
  healthcheck?: Healthcheck
  mem_limit?: string | number
  deploy?: { resources?: { limits?: { memory?: string | number } } }
  depends_on?: string[] | Record<string, { condition?: string }>
  ports?: Array<string | number | Record<string, unknown>>
  environment?: Record<string, unknown> | string[]
  command?: string | string[]
  volumes?: Array<string | { type?: string; source?: string; target?: string }>
}

type Services = Record<string, Service>

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
      // The DIRECT listener advertises localhost:<port>, so inside and outside must agree.
      { published: ports.kafkaDirect, target: ports.kafkaDirect },
    ],
    [p.s3.composeService]: [{ published: ports.s3, target: p.s3.containerPort }],
    [toxiproxyService]: [
      { published: ports.toxiproxyApi, target: imagePorts.toxiproxyApi },
      ...Object.values(p).map((proxy) => ({ published: proxy.listenPort, target: proxy.listenPort })),
    ],
    prometheus: [{ published: ports.prometheus, target: imagePorts.prometheus }],
    grafana: [{ published: ports.grafana, target: imagePorts.grafana }],
  }
}

/** serviceEnv() as a container sees it: the same proxies, addressed by the toxiproxy host name. */
export function expectedServiceEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(serviceEnv()).map(([key, value]) => [key, value.replace('127.0.0.1', toxiproxyService)]),
  )
}

// ---------------------------------------------------------------------------------------------
// Small readers for the compose model

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function servicesOf(compose: unknown): Services {
  if (!isRecord(compose) || !isRecord(compose.services)) return {}
  return compose.services as Services
}

function isOneShot(service: Service): boolean {
  return service.profiles?.includes(toolsProfile) ?? false
}

function buildOf(service: Service): BuildSpec | undefined {
  if (service.build === undefined) return undefined
  return typeof service.build === 'string' ? { context: service.build } : service.build
}

function buildArg(build: BuildSpec, name: string): string | undefined {
  if (Array.isArray(build.args)) {
    const entry = build.args.find((a) => a.startsWith(`${name}=`))
    return entry?.slice(name.length + 1)
  }
  return build.args?.[name]
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

function commandOf(service: Service): string[] {
  const command = service.command
  if (command === undefined) return []
  return typeof command === 'string' ? command.split(/\s+/).filter(Boolean) : command.map(String)
}

/** The value after `--flag` in a command, as Redis reads its arguments. */
function flagValue(command: string[], flag: string): string | undefined {
  const at = command.indexOf(flag)
  return at === -1 ? undefined : command[at + 1]
}

function hasHealthcheck(service: Service): boolean {
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

function stringsIn(value: unknown, path: string, out: Array<[string, string]>): void {
  if (typeof value === 'string') out.push([path, value])
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) stringsIn(v, `${path}[${i}]`, out)
  } else if (isRecord(value))
    for (const [k, v] of Object.entries(value)) stringsIn(v, path ? `${path}.${k}` : k, out)
}

// ---------------------------------------------------------------------------------------------
// The checks

function checkServices(services: Services, project: Project, problems: string[]): void {
  for (const [name, service] of Object.entries(services)) {
    const problem = (message: string) => problems.push(`${name}: ${message}`)
    const oneShot = isOneShot(service)
    const build = buildOf(service)

    if (!oneShot && !hasHealthcheck(service))
      problem('needs a healthcheck (only one-shot tools may go without)')
    if (service.mem_limit === undefined && service.deploy?.resources?.limits?.memory === undefined) {
      problem('needs a memory limit (mem_limit or deploy.resources.limits.memory)')
    }
    if (
      service.image?.endsWith(':latest') ||
      (service.image !== undefined && !/:[^/]+$/.test(service.image))
    ) {
      problem(`image ${service.image} must be pinned to a tag other than latest`)
    }

    const dependsOn = service.depends_on
    if (Array.isArray(dependsOn)) {
      problem('depends_on must use the long form with `condition: service_healthy`')
    } else if (dependsOn !== undefined) {
      for (const [target, spec] of Object.entries(dependsOn)) {
        const dependency = services[target]
        if (!dependency) {
          problem(`depends_on ${target}, which is not a service`)
          continue
        }
        const allowed = isOneShot(dependency) ? 'service_completed_successfully' : 'service_healthy'
        if (spec?.condition !== allowed) {
          problem(`depends_on ${target} must use condition: ${allowed} (has ${spec?.condition ?? 'none'})`)
        }
        if (allowed === 'service_healthy' && !hasHealthcheck(dependency)) {
          problem(`depends_on ${target} being healthy, but ${target} has no healthcheck`)
        }
        if (!service.profiles?.length && dependency.profiles?.length) {
          problem(`is always on but depends on ${target}, which only runs under a profile`)
        }
      }
    }

    const profiles = service.profiles ?? []
    if (oneShot) {
      if (profiles.length !== 1) problem(`a tool belongs to the ${toolsProfile} profile only`)
    } else if (build) {
      const system = buildArg(build, 'SERVICE')
      if (!system) problem('build needs the SERVICE build arg (the folder under services/)')
      else if (profiles.length !== 1 || profiles[0] !== system) {
        problem(
          `a ${system} service belongs to exactly the profile "${system}" (has ${JSON.stringify(profiles)})`,
        )
      }
    } else if (profiles.length > 0) {
      problem('infrastructure has no profile: it is always on')
    }

    if (build) {
      const context = build.context ?? '.'
      const dockerfile = `${context.replace(/\/$/, '')}/${build.dockerfile ?? 'Dockerfile'}`.replace(
        /^\.\//,
        '',
      )
      if (!project.exists(context)) problem(`build context ${context} does not exist`)
      if (!project.exists(dockerfile)) problem(`Dockerfile ${dockerfile} does not exist`)
      const env = environmentOf(service)
      for (const [key, value] of Object.entries(expectedServiceEnv())) {
        if (env[key] !== value)
          problem(`environment ${key} must be ${value} (through Toxiproxy), has ${env[key]}`)
      }
      if (env.HOST !== '0.0.0.0') problem('environment HOST must be 0.0.0.0 so other containers reach it')
      if (!/^\d+$/.test(env.PORT ?? ''))
        problem('environment PORT must be set: health checks and scrapes use it')
    }

    for (const volume of service.volumes ?? []) {
      const source =
        typeof volume === 'string' ? volume.split(':')[0] : volume.type === 'bind' ? volume.source : ''
      if (source && /^\.{1,2}\//.test(source) && !project.exists(source)) {
        problem(`bind mount source ${source} does not exist`)
      }
    }
  }
}

function checkPorts(services: Services, problems: string[]): void {
  const expected = expectedPublishedPorts()
  const owners = new Map<number, string>()
  for (const [name, service] of Object.entries(services)) {
    const mappings: PortMapping[] = []
    for (const entry of service.ports ?? []) {
      const parsed = parsePort(entry)
      if (typeof parsed === 'string') problems.push(`${name}: ${parsed}`)
      else mappings.push(parsed)
    }
    for (const m of mappings) {
      if (!Number.isInteger(m.published)) {
        problems.push(`${name}: port ${m.target} must be published on a fixed host port, not a random one`)
        continue
      }
      if (m.hostIp !== '127.0.0.1') {
        problems.push(
          `${name}: port ${m.published} must bind 127.0.0.1 only (lab credentials), has ${m.hostIp ?? 'all'}`,
        )
      }
      const owner = owners.get(m.published)
      if (owner) problems.push(`${name}: host port ${m.published} is already published by ${owner}`)
      owners.set(m.published, name)
    }

    const want = expected[name]
    const have = mappings.map((m) => `${m.published}:${m.target}`).sort()
    if (want) {
      const wanted = want.map((m) => `${m.published}:${m.target}`).sort()
      if (JSON.stringify(have) !== JSON.stringify(wanted)) {
        problems.push(`${name}: publishes [${have.join(', ')}], topology.ts says [${wanted.join(', ')}]`)
      }
    } else if (buildOf(service) === undefined && mappings.length > 0) {
      problems.push(`${name}: publishes ports but topology.ts has none for it`)
    }
  }
  for (const name of Object.keys(expected)) {
    if (!services[name]) problems.push(`${name}: missing, topology.ts has ports for it`)
  }

  // Every port in the table is published by the service that owns it, or internal on purpose.
  const topologyPorts = new Map(Object.entries(ports).map(([key, port]) => [port as number, key]))
  for (const [port, key] of topologyPorts) {
    const internal = internalPorts.includes(key as keyof typeof ports)
    if (internal && owners.has(port))
      problems.push(`ports.${key} (${port}) is internal but ${owners.get(port)} publishes it`)
    if (!internal && !owners.has(port)) problems.push(`ports.${key} (${port}) is published by no service`)
  }
  // A system service's own port must not take a number the table reserves.
  for (const [port, owner] of owners) {
    const service = services[owner]
    if (
      service &&
      buildOf(service) &&
      (topologyPorts.has(port) || Object.values(proxies).some((p) => p.listenPort === port))
    ) {
      problems.push(`${owner}: host port ${port} is reserved in topology.ts`)
    }
  }
}

function checkToxiproxy(services: Services, project: Project, problems: string[]): void {
  const config = project.toxiproxyConfig
  const problem = (message: string) => problems.push(`${toxiproxyConfigPath}: ${message}`)
  if (!Array.isArray(config)) {
    problem('must be a JSON array of proxies')
    return
  }
  const byName = new Map<string, Record<string, unknown>>()
  for (const entry of config) {
    if (!isRecord(entry) || typeof entry.name !== 'string')
      problem(`entry without a name: ${JSON.stringify(entry)}`)
    else byName.set(entry.name, entry)
  }
  for (const proxy of Object.values(proxies)) {
    const entry = byName.get(proxy.name)
    byName.delete(proxy.name)
    if (!entry) {
      problem(`proxy ${proxy.name} is missing`)
      continue
    }
    const listen = `0.0.0.0:${proxy.listenPort}`
    const upstream = `${proxy.composeService}:${proxy.containerPort}`
    if (entry.listen !== listen)
      problem(`proxy ${proxy.name} must listen on ${listen}, has ${String(entry.listen)}`)
    if (entry.upstream !== upstream) {
      problem(`proxy ${proxy.name} must forward to ${upstream}, has ${String(entry.upstream)}`)
    }
    if (entry.enabled === false) problem(`proxy ${proxy.name} must start enabled`)
    const component = services[proxy.composeService]
    if (!component) {
      problems.push(`${proxy.composeService}: missing, proxy ${proxy.name} forwards to it`)
      continue
    }
    // The native direct port and the container port describe the same listener.
    const published = (component.ports ?? []).map(parsePort)
    const direct = published.some(
      (m) => typeof m !== 'string' && m.published === proxy.upstreamPort && m.target === proxy.containerPort,
    )
    if (!direct) {
      problems.push(
        `${proxy.composeService}: must publish ${proxy.upstreamPort}:${proxy.containerPort} (proxy ${proxy.name}'s upstream)`,
      )
    }
  }
  for (const extra of byName.keys()) problem(`proxy ${extra} is not in topology.proxies`)

  const toxiproxy = services[toxiproxyService]
  if (toxiproxy) {
    const mount = (toxiproxy.volumes ?? []).find(
      (v) => typeof v === 'string' && v.split(':')[0]?.replace(/^\.\//, '') === toxiproxyConfigPath,
    )
    const target = typeof mount === 'string' ? mount.split(':')[1] : undefined
    if (!target) problems.push(`${toxiproxyService}: must mount ./${toxiproxyConfigPath}`)
    else if (!commandOf(toxiproxy).includes(`-config=${target}`)) {
      problems.push(`${toxiproxyService}: command must load -config=${target}`)
    }
    if (!commandOf(toxiproxy).includes('-host=0.0.0.0')) {
      problems.push(`${toxiproxyService}: command must keep -host=0.0.0.0 (replacing the image CMD drops it)`)
    }
  }
}

function checkComponents(services: Services, problems: string[]): void {
  const env = (name: string) => environmentOf(services[name] ?? {})
  const c = credentials

  const queue = services[proxies['redis-queue'].composeService]
  if (queue) {
    const command = commandOf(queue)
    if (flagValue(command, '--maxmemory-policy') !== 'noeviction') {
      problems.push(
        'redis-queue: must run with --maxmemory-policy noeviction (a full queue refuses, never drops jobs)',
      )
    }
    if (flagValue(command, '--appendonly') !== 'yes')
      problems.push('redis-queue: must run with --appendonly yes')
  }
  const cache = services[proxies['redis-cache'].composeService]
  if (cache && flagValue(commandOf(cache), '--maxmemory-policy') !== 'allkeys-lru') {
    problems.push('redis-cache: must run with --maxmemory-policy allkeys-lru')
  }

  for (const name of [proxies.postgres.composeService, proxies['postgres-replica'].composeService]) {
    const service = services[name]
    if (!service) continue
    if (service.image !== 'postgres:15') problems.push(`${name}: must use the official postgres:15 image`)
    const e = env(name)
    const want = {
      POSTGRES_USER: c.postgresUser,
      POSTGRES_PASSWORD: c.postgresPassword,
      POSTGRES_DB: c.postgresDb,
      REPLICATION_USER: c.replicationUser,
      REPLICATION_PASSWORD: c.replicationPassword,
    }
    for (const [key, value] of Object.entries(want)) {
      if (e[key] !== value) problems.push(`${name}: ${key} must be ${value} (topology.ts credentials)`)
    }
  }
  const replica = services[proxies['postgres-replica'].composeService]
  const primaryName = proxies.postgres.composeService
  if (
    replica &&
    !(replica.depends_on && !Array.isArray(replica.depends_on) && replica.depends_on[primaryName])
  ) {
    problems.push(`postgres-replica: must depend on ${primaryName} being healthy before pg_basebackup`)
  }

  const s3 = env(proxies.s3.composeService)
  if (s3.ROOT_ACCESS_KEY !== c.s3AccessKey || s3.ROOT_SECRET_KEY !== c.s3SecretKey) {
    problems.push('s3: ROOT_ACCESS_KEY / ROOT_SECRET_KEY must be the topology.ts credentials')
  }

  const kafkaName = proxies.kafka.composeService
  if (services[kafkaName]) {
    const k = env(kafkaName)
    const listeners = new Map(
      (k.KAFKA_LISTENERS ?? '').split(',').map((l) => {
        const m = /^(\w+):\/\/[^:]*:(\d+)$/.exec(l.trim())
        return [m?.[1] ?? l, Number(m?.[2])] as const
      }),
    )
    const advertised = new Map(
      (k.KAFKA_ADVERTISED_LISTENERS ?? '').split(',').map((l) => {
        const m = /^(\w+):\/\/(.+)$/.exec(l.trim())
        return [m?.[1] ?? l, m?.[2] ?? ''] as const
      }),
    )
    const find = (port: number, address: string) =>
      [...listeners].some(([name, p]) => p === port && advertised.get(name) === address)
    if (!find(proxies.kafka.containerPort, `${toxiproxyService}:${proxies.kafka.listenPort}`)) {
      problems.push(
        `kafka: the listener on ${proxies.kafka.containerPort} must advertise ${toxiproxyService}:${proxies.kafka.listenPort}, so clients come back through the proxy`,
      )
    }
    if (!find(ports.kafkaDirect, `localhost:${ports.kafkaDirect}`)) {
      problems.push(
        `kafka: a listener on ${ports.kafkaDirect} must advertise localhost:${ports.kafkaDirect} for the host`,
      )
    }
    for (const controller of (k.KAFKA_CONTROLLER_LISTENER_NAMES ?? '').split(',').filter(Boolean)) {
      if (advertised.has(controller))
        problems.push(`kafka: controller listener ${controller} must not be advertised`)
    }
    // KRaft needs a cluster id that is a base64url-encoded 16-byte UUID.
    if (
      Buffer.from(k.CLUSTER_ID ?? '', 'base64url').length !== 16 ||
      !/^[\w-]{22}$/.test(k.CLUSTER_ID ?? '')
    ) {
      problems.push('kafka: CLUSTER_ID must be 22 base64url characters (16 bytes)')
    }
  }

  const k6 = services.k6
  if (!k6)
    problems.push('k6: missing; load tests run with `docker compose run --rm k6 run /loadtests/<file>.js`')
  else {
    if (!k6.image?.startsWith('grafana/k6:')) problems.push('k6: must use the grafana/k6 image')
    if (!isOneShot(k6)) problems.push(`k6: belongs to the ${toolsProfile} profile`)
    if (
      !(k6.volumes ?? []).some((v) => typeof v === 'string' && /^\.\/loadtests:\/loadtests(:ro)?$/.test(v))
    ) {
      problems.push('k6: must mount ./loadtests at /loadtests')
    }
  }
}

/** Compose interpolates `$`: every literal dollar in this file must be written `$$`. */
function checkInterpolation(compose: unknown, problems: string[]): void {
  const strings: Array<[string, string]> = []
  stringsIn(compose, '', strings)
  for (const [path, value] of strings) {
    if (value.replaceAll('$$', '').includes('$')) {
      problems.push(`${path}: "${value}" has an unescaped $ that Compose would interpolate; write $$`)
    }
  }
}

function checkObservability(services: Services, project: Project, problems: string[]): void {
  const targets = new Set<string>()
  const scrapeConfigs = isRecord(project.prometheusConfig)
    ? project.prometheusConfig.scrape_configs
    : undefined
  for (const job of Array.isArray(scrapeConfigs) ? scrapeConfigs : []) {
    for (const sc of isRecord(job) && Array.isArray(job.static_configs) ? job.static_configs : []) {
      for (const t of isRecord(sc) && Array.isArray(sc.targets) ? sc.targets : []) targets.add(String(t))
    }
  }
  const wantTargets = [`${toxiproxyService}:${imagePorts.toxiproxyApi}`]
  for (const [name, service] of Object.entries(services)) {
    if (buildOf(service)) wantTargets.push(`${name}:${environmentOf(service).PORT}`)
  }
  for (const target of wantTargets) {
    if (!targets.has(target)) problems.push(`prometheus.yml: no scrape target ${target}`)
  }

  const datasources = isRecord(project.grafanaDatasources)
    ? project.grafanaDatasources.datasources
    : undefined
  const prometheus = Array.isArray(datasources)
    ? datasources.find((d) => isRecord(d) && d.type === 'prometheus')
    : undefined
  if (!isRecord(prometheus) || prometheus.url !== `http://prometheus:${imagePorts.prometheus}`) {
    problems.push(
      `grafana: needs a provisioned prometheus datasource at http://prometheus:${imagePorts.prometheus}`,
    )
  }
}

function checkBuildContext(services: Services, project: Project, problems: string[]): void {
  if (!Object.values(services).some((s) => buildOf(s))) return
  if (project.dockerignore === undefined) {
    problems.push('.dockerignore: missing; the build context would carry node_modules and local state')
    return
  }
  const ignored = ignore().add(project.dockerignore)
  const mustIgnore = ['node_modules/x', 'packages/infra/node_modules/x', '.faultline/infra/pg', '.git/HEAD']
  const mustKeep = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', '.npmrc', 'turbo.json']
  for (const service of Object.values(services)) {
    const system = buildArg(buildOf(service) ?? {}, 'SERVICE')
    if (system) mustKeep.push(`services/${system}/package.json`, `services/${system}/src/server.ts`)
  }
  mustKeep.push('packages/infra/src/topology.ts')
  for (const path of mustIgnore)
    if (!ignored.ignores(path)) problems.push(`.dockerignore: must exclude ${path}`)
  for (const path of mustKeep)
    if (ignored.ignores(path)) problems.push(`.dockerignore: must not exclude ${path}`)
}

/** Faultline's rules; empty when docker-compose.yml and its config files follow them. */
export function checkFaultlineRules(project: Project): string[] {
  const problems: string[] = []
  const services = servicesOf(project.compose)
  if (Object.keys(services).length === 0) return ['docker-compose.yml: no services']
  checkServices(services, project, problems)
  checkPorts(services, problems)
  checkToxiproxy(services, project, problems)
  checkComponents(services, problems)
  checkInterpolation(project.compose, problems)
  checkObservability(services, project, problems)
  checkBuildContext(services, project, problems)
  for (const [path, text] of Object.entries(project.dockerfiles)) {
    problems.push(...checkDockerfile(path, text, { packageManager: project.packageManager }))
  }
  return problems
}
