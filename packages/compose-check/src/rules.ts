/**
 * Faultline's own rules for the compose project, beyond what the Compose schema can say:
 * health and memory limits everywhere, start order by health, the shared port table, the
 * Toxiproxy routing, the settings an experiment depends on, and what a desk review of the
 * files against the images found (addresses a service hands out, images that never rebuild,
 * line endings, state kept in a container). Every check returns readable problems instead of
 * throwing, so one run lists everything that is wrong. Each check runs on the merged project:
 * the root file with every included file.
 */
import { createRequire } from 'node:module'
import { ports, proxies, systemPorts } from '@faultline/infra'
import { checkDockerfile } from './dockerfile.ts'
import { checkLineEndings } from './gitattributes.ts'
import {
  buildArg,
  buildOf,
  environmentOf,
  expectedPublishedPorts,
  expectedServiceEnv,
  hasHealthcheck,
  imagePorts,
  internalPorts,
  isOneShot,
  isRecord,
  isWorkerService,
  mountsOf,
  type PortMapping,
  parsePort,
  type Services,
  servicesOf,
  stringsIn,
  toolsProfile,
  toxiproxyService,
} from './model.ts'
import { composeFileName, type Project, systemComposeFileName } from './project.ts'
import { checkComponents } from './rules-components.ts'
import { checkKafka } from './rules-kafka.ts'
import { checkToxiproxy } from './rules-toxiproxy.ts'

// @balena/dockerignore (Docker's own matching rules, as testcontainers uses them) is CommonJS
// whose types claim an ES default export; require it to get the function as it really is.
const ignore = createRequire(import.meta.url)(
  '@balena/dockerignore',
) as typeof import('@balena/dockerignore').default

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
      const system = buildArg(build, 'SERVICE')
      if (system) checkSystemPorts(name, system, service, env, problem)
    }

    // With an image name, Compose would first try to pull it: a registry's
    // `faultline/shortener:local`, built by a stranger, and never rebuilt from this checkout.
    if (build && service.image !== undefined && service.pull_policy !== 'build') {
      problem(
        `has image ${service.image} and build, so needs pull_policy: build (never pull it, always build)`,
      )
    }

    for (const mount of mountsOf(service)) {
      if (mount.type !== 'bind' || !mount.source?.startsWith('.') || project.exists(mount.source)) continue
      // An output directory the user creates (gitignored, so not in a fresh clone): Compose
      // refuses to start without it rather than create it owned by root.
      if (!mount.readOnly && !mount.createHostPath) continue
      problem(`bind mount source ${mount.source} does not exist`)
    }
  }
}

/**
 * A system's process `<system>-<role>` is published on its host port from topology.ts
 * (`systemPorts`, which `./faultline up` uses too), so it has one address either way.
 * A service builds absolute URLs (the shortener's `shortUrl`) from PUBLIC_BASE_URL, else from
 * HOST:PORT, which inside a container is `0.0.0.0:3000` — an address nobody outside can use:
 * every published process but a worker (which hands out no URLs) must say where it is.
 */
function checkSystemPorts(
  name: string,
  system: string,
  service: Services[string],
  env: Record<string, string>,
  problem: (message: string) => void,
): void {
  const role = name.startsWith(`${system}-`) ? name.slice(system.length + 1) : ''
  const hostPort = (systemPorts as Record<string, Record<string, number> | undefined>)[system]?.[role]
  if (hostPort === undefined) {
    problem(
      `is named <system>-<role>, and topology.ts systemPorts.${system}.${role || '<role>'} gives its host port; none there`,
    )
    return
  }
  const published = (service.ports ?? [])
    .map(parsePort)
    .filter((m): m is PortMapping => typeof m !== 'string' && m.target === Number(env.PORT))
  if (published.length !== 1 || published[0]?.published !== hostPort) {
    problem(`must publish 127.0.0.1:${hostPort}:${env.PORT} (topology.ts systemPorts.${system}.${role})`)
  }
  const want = `http://127.0.0.1:${hostPort}`
  if (!isWorkerService(service) && env.PUBLIC_BASE_URL !== want) {
    problem(
      `environment PUBLIC_BASE_URL must be ${want} (where it is published), has ${env.PUBLIC_BASE_URL ?? 'none'}`,
    )
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

/**
 * Compose interpolates `$`: every literal dollar must be written `$$`. The one interpolation
 * these files mean is a `${FAULTLINE_…:-default}` knob with its default written out.
 */
function checkInterpolation(project: Project, problems: string[]): void {
  for (const file of project.files) {
    const strings: Array<[string, string]> = []
    stringsIn(file.doc, '', strings)
    for (const [path, value] of strings) {
      const rest = value.replaceAll('$$', '').replace(/\$\{FAULTLINE_[A-Z0-9_]+:-[^${}]*\}/g, '')
      if (rest.includes('$')) {
        problems.push(
          `${file.path}: ${path}: "${value}" has an unescaped $ that Compose would interpolate; write $$`,
        )
      }
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

/**
 * One file per system, so five systems do not meet in one file: a system's services are
 * defined in services/<system>/compose.yaml, the root file includes every such file, and the
 * infrastructure and tools stay in the root file.
 */
function checkLayout(services: Services, project: Project, problems: string[]): void {
  for (const [name, service] of Object.entries(services)) {
    const system = buildArg(buildOf(service) ?? {}, 'SERVICE')
    const want = system ? `services/${system}/${systemComposeFileName}` : composeFileName
    const file = project.serviceFiles[name]
    if (file !== want) problems.push(`${name}: belongs in ${want}, is defined in ${file}`)
  }
  const loaded = new Set(project.files.map((f) => f.path))
  for (const file of project.systemComposeFiles) {
    if (!loaded.has(file)) problems.push(`${composeFileName}: must include ${file}`)
  }
}

/** Faultline's rules; empty when the compose project and its config files follow them. */
export function checkFaultlineRules(project: Project): string[] {
  const problems: string[] = [...project.loadProblems]
  const services = servicesOf(project.compose)
  if (Object.keys(services).length === 0) return [...problems, 'docker-compose.yml: no services']
  checkLayout(services, project, problems)
  checkServices(services, project, problems)
  checkPorts(services, problems)
  checkToxiproxy(services, project, problems)
  checkKafka(services, problems)
  checkComponents(services, project, problems)
  checkInterpolation(project, problems)
  checkObservability(services, project, problems)
  checkBuildContext(services, project, problems)
  checkLineEndings(services, project, problems)
  for (const [path, text] of Object.entries(project.dockerfiles)) {
    problems.push(...checkDockerfile(path, text, { packageManager: project.packageManager }))
  }
  return problems
}
