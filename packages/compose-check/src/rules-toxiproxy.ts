/**
 * Toxiproxy under compose: its proxies (toxiproxy.json) are the topology's plus Kafka's
 * network-only one, it loads them at start, and it is healthy only once they exist.
 */
import { proxies } from '@faultline/infra'
import {
  commandOf,
  expectedProxies,
  isRecord,
  kafkaNetworkProxy,
  mountsOf,
  parsePort,
  type Services,
  toxiproxyService,
} from './model.ts'
import { type Project, toxiproxyConfigPath } from './project.ts'

/** The configured proxies by name, in file order; problems for entries without a name. */
function configuredProxies(
  project: Project,
  problem: (message: string) => void,
): Map<string, Record<string, unknown>> {
  const byName = new Map<string, Record<string, unknown>>()
  const config = project.toxiproxyConfig
  if (!Array.isArray(config)) {
    problem('must be a JSON array of proxies')
    return byName
  }
  for (const entry of config) {
    if (!isRecord(entry) || typeof entry.name !== 'string')
      problem(`entry without a name: ${JSON.stringify(entry)}`)
    else byName.set(entry.name, entry)
  }
  return byName
}

function checkProxies(
  services: Services,
  byName: Map<string, Record<string, unknown>>,
  problems: string[],
): void {
  const problem = (message: string) => problems.push(`${toxiproxyConfigPath}: ${message}`)
  const unexpected = new Set(byName.keys())
  for (const want of expectedProxies()) {
    const entry = byName.get(want.name)
    unexpected.delete(want.name)
    if (!entry) {
      problem(`proxy ${want.name} is missing`)
      continue
    }
    if (entry.listen !== want.listen)
      problem(`proxy ${want.name} must listen on ${want.listen}, has ${String(entry.listen)}`)
    if (entry.upstream !== want.upstream) {
      problem(`proxy ${want.name} must forward to ${want.upstream}, has ${String(entry.upstream)}`)
    }
    if (entry.enabled === false) problem(`proxy ${want.name} must start enabled`)
  }
  for (const extra of unexpected) {
    problem(`proxy ${extra} is neither in topology.proxies nor ${kafkaNetworkProxy.name}`)
  }

  for (const proxy of Object.values(proxies)) {
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
}

/**
 * Toxiproxy starts even when its config file is missing or a proxy cannot listen (it logs
 * and serves an API with fewer proxies), so "the API answers" is not health. It creates the
 * file's proxies in order and stops at the first failure: the last one existing means all do.
 * The image is FROM scratch — no shell, no wget — but ships its CLI, and
 * `toxiproxy-cli inspect <name>` exits 1 when the proxy does not exist.
 */
function checkHealthcheck(
  toxiproxy: Services[string],
  byName: Map<string, unknown>,
  problems: string[],
): void {
  const last = [...byName.keys()].at(-1)
  const want = ['CMD', '/toxiproxy-cli', 'inspect', last ?? '<last proxy>']
  const test = toxiproxy.healthcheck?.test
  if (JSON.stringify(test) !== JSON.stringify(want)) {
    problems.push(
      `${toxiproxyService}: healthcheck must be ${JSON.stringify(want)} (the last proxy of ${toxiproxyConfigPath} exists only if every one before it does), has ${JSON.stringify(test)}`,
    )
  }
}

export function checkToxiproxy(services: Services, project: Project, problems: string[]): void {
  const byName = configuredProxies(project, (message) => problems.push(`${toxiproxyConfigPath}: ${message}`))
  checkProxies(services, byName, problems)

  const toxiproxy = services[toxiproxyService]
  if (!toxiproxy) return
  const mount = mountsOf(toxiproxy).find((m) => m.source?.replace(/^\.\//, '') === toxiproxyConfigPath)
  if (!mount) problems.push(`${toxiproxyService}: must mount ./${toxiproxyConfigPath}`)
  else if (!commandOf(toxiproxy).includes(`-config=${mount.target}`)) {
    problems.push(`${toxiproxyService}: command must load -config=${mount.target}`)
  }
  if (!commandOf(toxiproxy).includes('-host=0.0.0.0')) {
    problems.push(`${toxiproxyService}: command must keep -host=0.0.0.0 (replacing the image CMD drops it)`)
  }
  checkHealthcheck(toxiproxy, byName, problems)
}
