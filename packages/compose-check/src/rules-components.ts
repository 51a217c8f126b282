/**
 * The components behind the proxies, and the tools: the settings an experiment depends on
 * (a queue Redis that never evicts, the topology's credentials), state that survives a
 * container being recreated, the same program versions as the native topology, and a k6
 * whose results reach the host.
 */
import { credentials, proxies } from '@faultline/infra'
import {
  commandOf,
  environmentOf,
  flagValue,
  isOneShot,
  isWithin,
  isWorkerService,
  mountsOf,
  type Service,
  type Services,
  toolsProfile,
} from './model.ts'
import { nativePinSources, type PinnedService, type Project } from './project.ts'

function checkComponentSettings(services: Services, problems: string[]): void {
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
}

/**
 * Where each stateful component keeps the data an experiment depends on. It must be on a named
 * volume: a container's own filesystem is thrown away when Compose recreates it (a changed
 * setting, a new image), and Kafka's topics and offsets, a queue's jobs or a bucket with it.
 */
const dataDirs: Record<string, (service: Service) => string[]> = {
  [proxies.postgres.composeService]: (s) => [environmentOf(s).PGDATA || '/var/lib/postgresql/data'],
  [proxies['postgres-replica'].composeService]: (s) => [
    environmentOf(s).PGDATA || '/var/lib/postgresql/data',
  ],
  [proxies['redis-queue'].composeService]: (s) => [flagValue(commandOf(s), '--dir') ?? '/data'],
  // The image's default log dir is under /tmp; KAFKA_LOG_DIRS says where it really is.
  [proxies.kafka.composeService]: (s) =>
    (environmentOf(s).KAFKA_LOG_DIRS || '/tmp/kraft-combined-logs').split(','),
  [proxies.s3.composeService]: (s) => [environmentOf(s).VGW_BACKEND_ARG || '/data'],
}

function checkDataVolumes(services: Services, project: Project, problems: string[]): void {
  const declared = (project.compose as { volumes?: Record<string, unknown> }).volumes ?? {}
  for (const [name, dirsOf] of Object.entries(dataDirs)) {
    const service = services[name]
    if (!service) continue
    const named = mountsOf(service).filter((m) => m.type === 'volume' && m.source && m.source in declared)
    for (const dir of dirsOf(service)) {
      if (!named.some((m) => isWithin(dir.trim(), m.target))) {
        problems.push(
          `${name}: its data dir ${dir.trim()} must be on a named volume, or it is lost when the container is recreated`,
        )
      }
    }
  }
}

/**
 * The programs compose runs from an image and the native topology builds with `go install`
 * must be the same version, so an experiment behaves the same either way. The native pin is
 * the source of truth: changing it rebuilds the native binary, changing a tag only pulls.
 */
function checkPinnedVersions(services: Services, project: Project, problems: string[]): void {
  for (const name of Object.keys(nativePinSources) as PinnedService[]) {
    const image = services[name]?.image
    if (image === undefined) continue
    const pin = project.nativePins[name]
    const { file, constant } = nativePinSources[name]
    if (pin === undefined) {
      problems.push(`${name}: cannot read the native version (${constant}.version in ${file})`)
      continue
    }
    const tag = image.slice(image.lastIndexOf(':') + 1).replace(/^v/, '')
    if (tag !== pin) {
      problems.push(`${name}: image ${image} must be version ${pin}, the one ${file} builds natively`)
    }
  }
}

/**
 * k6 runs with `docker compose run --rm`: anything it writes inside the container is gone when
 * it exits. The working directory is `/`, with the scripts at /loadtests and a writable host
 * ./results at /results, so the command lines of the native way (`loadtests/…`,
 * `SUMMARY_PATH=results/…`) work unchanged and the summary lands in the checkout. It runs as
 * the host user, so the files it writes there are the user's, not the image's uid 12345.
 */
function checkK6(services: Services, problems: string[]): void {
  const k6 = services.k6
  if (!k6) {
    problems.push('k6: missing; load tests run with `docker compose run --rm k6 run loadtests/<file>.js`')
    return
  }
  if (!k6.image?.startsWith('grafana/k6:')) problems.push('k6: must use the grafana/k6 image')
  if (!isOneShot(k6)) problems.push(`k6: belongs to the ${toolsProfile} profile`)
  const mounts = mountsOf(k6)
  const has = (source: string, target: string, writable: boolean) =>
    mounts.some(
      (m) => m.type === 'bind' && m.source === source && m.target === target && m.readOnly !== writable,
    )
  if (!has('./loadtests', '/loadtests', false))
    problems.push('k6: must mount ./loadtests read-only at /loadtests')
  if (!has('./results', '/results', true)) {
    problems.push('k6: must mount ./results writable at /results, or its summary stays in the --rm container')
  }
  if (k6.working_dir !== '/') {
    problems.push(
      'k6: working_dir must be / so loadtests/… and results/… are the mounts, as in the native commands',
    )
  }
  if (k6.user === undefined)
    problems.push('k6: must run as the host user (user:), or it cannot write ./results')
  // The load library refuses a non-loopback target unless it is listed: every system's HTTP
  // services (not its workers, which take no load) must be, or k6 cannot reach them.
  const allowed = (environmentOf(k6).LOAD_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim())
  for (const [name, service] of Object.entries(services)) {
    if (service.build !== undefined && !isWorkerService(service) && !allowed.includes(name)) {
      problems.push(`k6: LOAD_ALLOWED_HOSTS must list ${name}, or load tests cannot reach it`)
    }
  }
}

export function checkComponents(services: Services, project: Project, problems: string[]): void {
  checkComponentSettings(services, problems)
  checkDataVolumes(services, project, problems)
  checkPinnedVersions(services, project, problems)
  checkK6(services, problems)
}
