/**
 * The fake providers in-process, for tests and experiments: a real HTTP server on 127.0.0.1 and a
 * free port, so a client under test meets real sockets, real resets and real timeouts.
 *
 *   const providers = await startProviders({ knobs: { 'sms-a': { errorRate: 1 } } })
 *   t.after(() => providers.close())
 *   config.providers.sms = providers.baseUrl('sms-a')   // POST <base>/v1/messages
 *   providers.stats('sms-a').duplicateSends             // 0 when keys are honoured
 */
import { createService } from '@faultline/kit/service'
import type { FastifyInstance } from 'fastify'
import { configSchema } from '../config.ts'
import { type HookVerifier, registerProviders } from './app.ts'
import type { HookEntry, HookStats } from './hooks.ts'
import { type Knobs, parseKnobs } from './knobs.ts'
import type { LogEntry, ProviderStats } from './log.ts'
import { createProvider, type FakeProvider } from './provider.ts'
import { hookVerifier } from './verify.ts'

/** WEBHOOK_SECRET's default, which a worker under test signs with unless its env says otherwise. */
const defaultWebhookSecret = (configSchema.properties.WEBHOOK_SECRET as unknown as { default: string })
  .default

export const defaultProviderNames = ['email', 'sms-a', 'sms-b', 'push'] as const

export interface StartProvidersOptions {
  /** @default email, sms-a, sms-b, push */
  names?: readonly string[]
  /** Initial knobs per provider name (checked like a PUT: a bad one throws). */
  knobs?: Record<string, Partial<Knobs>>
  /** The secret `/<name>/hook` checks `Faultline-Signature` with. @default WEBHOOK_SECRET's default */
  webhookSecret?: string
  /** Replaces the signature check; `null`: none (entries say `verified: null`). */
  verifyHook?: HookVerifier | null
}

export interface RunningProviders {
  /** `http://127.0.0.1:<port>/<name>`: what the worker's PROVIDER_*_URL takes. */
  baseUrl(name: string): string
  /** `<baseUrl>/hook`: a webhook URL that records what it receives (allow-list 127.0.0.1:<port>). */
  hookUrl(name: string): string
  /** `127.0.0.1:<port>`, for WEBHOOK_ALLOWLIST. */
  readonly hostPort: string
  /** Partial change; returns the knobs now in force. */
  setKnobs(name: string, knobs: Partial<Knobs>): Knobs
  knobs(name: string): Knobs
  /** Every logged send, oldest first. */
  log(name: string): LogEntry[]
  stats(name: string): ProviderStats
  hooks(name: string): HookEntry[]
  hookStats(name: string): HookStats
  /** Clears every provider's logs and counters and restores the knobs it started with. */
  reset(): void
  /** The Fastify instance, e.g. to read /metrics with inject(). */
  readonly app: FastifyInstance
  close(): Promise<void>
}

export async function startProviders(options: StartProvidersOptions = {}): Promise<RunningProviders> {
  const names = options.names ?? defaultProviderNames
  const initial = (name: string) => parseKnobs(options.knobs?.[name] ?? {}, name)
  for (const name of Object.keys(options.knobs ?? {})) {
    if (!names.includes(name))
      throw new Error(`knobs for "${name}", which is not started (${names.join(', ')})`)
  }
  const providers = new Map<string, FakeProvider>(
    names.map((name) => [name, createProvider(name, initial(name))]),
  )
  const app = createService({
    name: 'notifications-providers',
    level: 'silent',
    // close() ends kept-alive client connections at once instead of waiting for their idle timeout.
    fastify: { forceCloseConnections: true },
  })
  const verifyHook =
    options.verifyHook === undefined
      ? hookVerifier(options.webhookSecret ?? defaultWebhookSecret)
      : options.verifyHook
  await registerProviders(app, { providers: [...providers.values()], ...(verifyHook ? { verifyHook } : {}) })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const hostPort = new URL(url).host
  const get = (name: string) => {
    const provider = providers.get(name)
    if (!provider) throw new Error(`no provider "${name}" (started: ${names.join(', ')})`)
    return provider
  }
  return {
    app,
    hostPort,
    baseUrl: (name) => `${url}/${get(name).name}`,
    hookUrl: (name) => `${url}/${get(name).name}/hook`,
    setKnobs: (name, knobs) => get(name).setKnobs(parseKnobs(knobs, name)),
    knobs: (name) => get(name).knobs(),
    log: (name) => get(name).log.read(0, Number.MAX_SAFE_INTEGER).entries,
    stats: (name) => get(name).log.stats(),
    hooks: (name) => get(name).hooks.read(0, Number.MAX_SAFE_INTEGER).entries,
    hookStats: (name) => get(name).hooks.stats(),
    reset() {
      for (const [name, provider] of providers) {
        provider.clear()
        provider.setKnobs({ ...createProvider(name).knobs(), ...initial(name) })
      }
    },
    close: () => app.close(),
  }
}
