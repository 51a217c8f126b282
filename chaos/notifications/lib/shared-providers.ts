/**
 * The providers an experiment's channel worker sends to, run inside the lab's own process: the
 * project's fake providers (services/notifications/src/providers/testing.ts) — a real HTTP server
 * on 127.0.0.1 and a free port, with the same knobs, log and per-key counters as the system's
 * `providers` process — started once and cleared before each mode.
 *
 * Why not the system's `providers` process: the worker reads its providers' base URLs
 * (PROVIDER_*_URL) from env when it starts, and under the lab every process takes a free port the
 * lab only picks while it starts them all, so no env can name the `providers` instance's port.
 * These providers are listening before the services start; `pointWorkerAt` writes their URLs into
 * the worker's env from `reset` (the fleet is built but not started yet: each instance's env is
 * made from its service's env when it starts). What the provider accepted is then read directly:
 * `stats(name).duplicateSends` is the number the invariants judge.
 */
import type { HookContext } from '@faultline/lab'
import type { Knobs } from '@faultline/notifications/providers/knobs'
import { type RunningProviders, startProviders } from '@faultline/notifications/providers/testing'

let running: Promise<RunningProviders> | undefined

/**
 * The lab process's providers: started on first use, then cleared (logs, counters, knobs back to
 * `knobs`) on every call, so each mode starts from nothing. The server does not keep the lab's
 * process alive (unref): nothing has to close it when the run ends.
 */
export async function freshProviders(knobs: Record<string, Partial<Knobs>>): Promise<RunningProviders> {
  running ??= startProviders().then((p) => {
    p.app.server.unref()
    return p
  })
  const providers = await running
  providers.reset()
  for (const [name, k] of Object.entries(knobs)) providers.setKnobs(name, k)
  return providers
}

/**
 * Points the worker service's providers at `providers` (PROVIDER_EMAIL_URL, _SMS_URL,
 * _SMS_FALLBACK_URL, _PUSH_URL). Call it from `reset`, before the fleet starts.
 */
export function pointWorkerAt(ctx: HookContext, providers: RunningProviders, service = 'worker'): void {
  const worker = ctx.fleet.services.find((s) => s.name === service)
  if (!worker) throw new Error(`no ${service} service in this experiment (${ctx.fleet.describe()})`)
  if (ctx.fleet.instances.length > 0)
    throw new Error('pointWorkerAt must run before the services start (reset)')
  Object.assign(worker.env, {
    PROVIDER_EMAIL_URL: providers.baseUrl('email'),
    PROVIDER_SMS_URL: providers.baseUrl('sms-a'),
    PROVIDER_SMS_FALLBACK_URL: providers.baseUrl('sms-b'),
    PROVIDER_PUSH_URL: providers.baseUrl('push'),
  })
}
