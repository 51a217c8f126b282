import type { InfraContext } from '../component.ts'
import { componentDir, daemonComponent } from '../daemon.ts'
import { type GoBinary, goBinaryPath, goInstall } from '../go.ts'
import { ports, proxies } from '../topology.ts'
import { httpAnswers } from '../wait.ts'

const name = 'toxiproxy'
const apiUrl = `http://127.0.0.1:${ports.toxiproxyApi}`

export const toxiproxyBinary: GoBinary = {
  module: 'github.com/Shopify/toxiproxy/v2',
  pkg: 'github.com/Shopify/toxiproxy/v2/cmd/server',
  version: 'v2.5.0',
  builtName: 'server',
  target: 'toxiproxy-server',
}

interface ProxyState {
  name: string
  listen: string
  upstream: string
  enabled: boolean
}

const desired = Object.values(proxies).map((proxy) => ({
  name: proxy.name,
  listen: `127.0.0.1:${proxy.listenPort}`,
  upstream: `127.0.0.1:${proxy.upstreamPort}`,
}))

async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${text}`)
  return text === '' ? undefined : JSON.parse(text)
}

/**
 * Create every proxy of the port table that is missing and repoint any whose addresses differ.
 * Proxies that already match are left exactly as they are: a running experiment's toxics and a
 * disabled proxy survive an `infra up`.
 */
async function ensureProxies(ctx: InfraContext): Promise<void> {
  const existing = (await api('GET', '/proxies')) as Record<string, ProxyState>
  for (const proxy of desired) {
    const current = existing[proxy.name]
    if (current === undefined) {
      ctx.log(`${name}: proxy ${proxy.name} ${proxy.listen} → ${proxy.upstream}`)
      await api('POST', '/proxies', { ...proxy, enabled: true })
    } else if (current.listen !== proxy.listen || current.upstream !== proxy.upstream) {
      ctx.log(`${name}: repointing proxy ${proxy.name} ${proxy.listen} → ${proxy.upstream}`)
      await api('POST', `/proxies/${proxy.name}`, { listen: proxy.listen, upstream: proxy.upstream })
    }
  }
}

/**
 * Toxiproxy starts first: a proxy only dials its upstream when a client connects, so every proxy
 * can exist before the component behind it is up, and a component is reachable through its proxy
 * the moment it is healthy.
 */
export const toxiproxy = daemonComponent({
  name,
  dependsOn: [],
  ports: [ports.toxiproxyApi, ...Object.values(proxies).map((proxy) => proxy.listenPort)],
  address: `127.0.0.1:${ports.toxiproxyApi}`,
  executable: (ctx) => goBinaryPath(ctx, toxiproxyBinary),
  install: async (ctx) => {
    await goInstall(ctx, name, toxiproxyBinary)
  },
  command: (ctx) => ({
    command: goBinaryPath(ctx, toxiproxyBinary),
    args: ['-host', '127.0.0.1', '-port', String(ports.toxiproxyApi)],
    cwd: componentDir(ctx, name),
  }),
  healthy: () => httpAnswers(`${apiUrl}/version`),
  afterHealthy: ensureProxies,
  // A proxy deleted (or repointed) by a crashed experiment makes the topology unhealthy: `up` repairs it.
  async configured() {
    const existing = (await api('GET', '/proxies')) as Record<string, ProxyState>
    return desired.every(
      (proxy) =>
        existing[proxy.name]?.listen === proxy.listen && existing[proxy.name]?.upstream === proxy.upstream,
    )
  },
  async detail() {
    const existing = (await api('GET', '/proxies')) as Record<string, ProxyState>
    const missing = desired.filter((proxy) => existing[proxy.name] === undefined).map((proxy) => proxy.name)
    const disabled = Object.values(existing)
      .filter((proxy) => !proxy.enabled)
      .map((proxy) => proxy.name)
    const parts = [`${Object.keys(existing).length} proxies`]
    if (missing.length > 0) parts.push(`missing: ${missing.join(', ')}`)
    if (disabled.length > 0) parts.push(`disabled: ${disabled.join(', ')}`)
    return parts.join(', ')
  },
})
