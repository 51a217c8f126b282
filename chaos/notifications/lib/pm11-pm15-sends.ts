/**
 * What pm11 and pm15 share: email recipients created through the API, the providers in the lab's
 * process (lib/shared-providers.ts) that count what each recipient actually got, the settle
 * condition (every delivery terminal and no provider request still in flight) and the two checks
 * both experiments judge by — the duplicates the provider counted, and every accepted
 * notification sent exactly when the service says so.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { HookContext, InvariantCheck, LabContext, RunContext } from '@faultline/lab'
import type { Knobs } from '@faultline/notifications/providers/knobs'
import type { RunningProviders } from '@faultline/notifications/providers/testing'
import { freshProviders, pointWorkerAt } from './shared-providers.ts'
import { resetWorld, type World } from './world.ts'

/** The provider every notification of these experiments goes to (channel email). */
export const provider = 'email'

/** The providers of the mode now running (set in reset, read by the checks). */
let current: RunningProviders | undefined

export function providersNow(): RunningProviders {
  if (!current) throw new Error('the providers were not started (reset did not run)')
  return current
}

/**
 * `reset`: the world's state goes (lib/world.ts), the providers wait until the previous mode's
 * requests still sleeping their latency have been answered (they would land in this mode's log),
 * are cleared and get `knobs`, and the worker is pointed at them.
 */
export async function resetWithProviders(
  ctx: HookContext,
  world: World,
  knobs: Record<string, Partial<Knobs>>,
): Promise<void> {
  if (current) await waitProvidersIdle(current, 15_000)
  await resetWorld(ctx, world)
  current = await freshProviders(knobs)
  pointWorkerAt(ctx, current)
}

/** Requests a provider has received and not yet answered (sleeping their latency). */
export function inFlight(providers: RunningProviders, name = provider): number {
  const s = providers.stats(name)
  return s.requests - (s.accepted + s.replayed + s.errors + s.rateLimited + s.refused + s.invalid)
}

async function waitProvidersIdle(providers: RunningProviders, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (inFlight(providers) > 0 && Date.now() < giveUpAt) await sleep(100)
}

/** `setup`: `count` recipients `<prefix>0…` with an email address each, through the API. */
export async function putEmailRecipients(ctx: LabContext, world: World, count: number): Promise<void> {
  const api = ctx.url('api', 0)
  const ids = Array.from({ length: count }, (_, i) => `${world.recipientPrefix}${i}`)
  await Promise.all(
    ids.map(async (id) => {
      const res = await fetch(`${api}/api/recipients/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${id}@example.com` }),
        signal: AbortSignal.timeout(5000),
      })
      if (res.status >= 300) throw new Error(`PUT /api/recipients/${id}: ${res.status} ${await res.text()}`)
      await res.arrayBuffer()
    }),
  )
  ctx.log(`${count} email recipients ${world.recipientPrefix}0…${count - 1}`)
}

/**
 * A `settleUntil`: every notification routed, every delivery terminal (sent, dead-lettered …),
 * no provider request in flight — twice in a row a second apart. A delivery `failed` waits for
 * its retry, so it is not settled.
 */
export function settled(world: World): (ctx: LabContext) => Promise<boolean> {
  const quietSince = new Map<string, number>()
  return async (ctx) => {
    const b = await world.fixture.balance(ctx.pg)
    const outbox = await world.fixture.outboxBacklog(ctx.pg)
    const busy =
      b.notifications === 0 || outbox > 0 || b.unrouted > 0 || b.open > 0 || inFlight(providersNow()) > 0
    if (busy) {
      quietSince.delete(ctx.mode)
      return false
    }
    const since = quietSince.get(ctx.mode) ?? Date.now()
    quietSince.set(ctx.mode, since)
    return Date.now() - since >= 900
  }
}

/** The provider's own count: sends beyond the first per key (per to + body without a key). */
export function noDuplicateSends(): InvariantCheck {
  const s = providersNow().stats(provider)
  return {
    holds: s.duplicateSends === 0 && s.accepted > 0,
    observed: `${s.duplicateSends} duplicate sends (of ${s.accepted} accepted)`,
    detail: `${s.requests} requests, ${s.replayed} answered from a known key (replayed), ${s.uniqueKeys} distinct keys`,
  }
}

/**
 * Nothing lost: every accepted notification's delivery is `sent`, and the provider got at least
 * one send of each (its distinct sends — accepted minus duplicates — cover them all).
 */
export async function everyAcceptedSent(ctx: RunContext, world: World): Promise<InvariantCheck> {
  const b = await world.fixture.balance(ctx.pg)
  const s = providersNow().stats(provider)
  const distinct = s.accepted - s.duplicateSends
  const sent = b.byStatus.sent
  return {
    holds:
      b.notifications > 0 && sent === b.notifications && b.deliveries === b.notifications && distinct >= sent,
    observed: `${sent} of ${b.notifications} accepted sent (${b.byStatus.dead_lettered} dead-lettered, ${b.open} open); ${distinct} distinct messages at the provider`,
  }
}
