/**
 * The providers' process (system.ts `providers`): the project's own email, SMS and push providers
 * — the "third party" the channel workers send to — on one port, each at `/<name>` (PROVIDER_NAMES),
 * with the failure knobs of PROVIDER_KNOBS at boot and `PUT /<name>/admin/knobs` at run time.
 *   node services/notifications/src/providers-server.ts   (pnpm --filter @faultline/notifications providers)
 * PORT defaults to the topology's 18124 (where the worker's PROVIDER_*_URL defaults point). It
 * serves /healthz, /readyz, /metrics and /admin/mitigations like every process of the system (the
 * lab PUTs a mode's switches to all of them; none changes what a provider does). On SIGTERM new
 * requests get 503 and requests in flight (sleeping their latency) finish under
 * SHUTDOWN_DEADLINE_MS.
 */
import { systemPorts } from '@faultline/infra'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { createService } from '@faultline/kit/service'
import { installGracefulShutdown } from '@faultline/kit/shutdown'
import { installSwitches } from '@faultline/kit/switches'
import { type Config, loadConfig } from './config.ts'
import { createMitigationState } from './mitigations.ts'
import { registerProviders } from './providers/app.ts'
import { createProvider } from './providers/provider.ts'
import { hookVerifier } from './providers/verify.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'notifications-providers', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const metrics = createMetrics({
    defaultLabels: { service: 'notifications-providers', instance: config.instanceId },
  })
  const app = createService({
    name: 'notifications-providers',
    logger: log,
    metrics,
    requestLogging: config.logRequests,
  })
  installSwitches(app, { state: createMitigationState(config.mitigations), adminToken: config.adminToken })
  const providers = config.providerNames.map((name) => createProvider(name, config.providerKnobs[name]))
  await registerProviders(app, { providers, metrics, verifyHook: hookVerifier(config.webhook.secret) })

  installGracefulShutdown({
    app,
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    log,
    closers: [],
  })
  await app.listen({ host: config.host, port: config.port })
  log.info(
    { providers: providers.map((provider) => ({ name: provider.name, knobs: provider.knobs() })) },
    'notification providers ready',
  )
}

// The topology's port unless PORT says otherwise: the kit's default (3000) is for single-process systems.
await runMain(() => loadConfig({ PORT: String(systemPorts.notifications.providers), ...process.env }), main)
