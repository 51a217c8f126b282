/**
 * What the notification experiments share: each runs the service in a world of its own — a
 * Postgres schema, cache and queue prefixes, a Kafka topic and a router group (the fixture's
 * NotificationsFixture) — so a run never sees another's notifications, nor the events an earlier
 * mode left in Kafka. Also: seeding recipients and templates through the API, the webhook receiver
 * the deliveries go to (the system's `providers` process, `/<name>/hook`), and the drain check.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { HookContext, LabContext } from '@faultline/lab'
import { NotificationsFixture } from '@faultline/notifications/fixture'

export interface World {
  fixture: NotificationsFixture
  /** Recipient ids are `<recipientPrefix><n>`; the k6 scripts draw them the same way. */
  recipientPrefix: string
  /** Env of every process: the world's names, the webhook allow-list, no rate limit in the way. */
  env: Record<string, string>
}

export function isolatedWorld(name: string, env: Record<string, string> = {}): World {
  const fixture = new NotificationsFixture({ name })
  return {
    fixture,
    recipientPrefix: `${name}-r`,
    env: {
      ...fixture.env,
      // The webhook receiver is the lab's own providers process on a loopback port.
      WEBHOOK_ALLOWLIST: '127.0.0.0/8',
      // Experiments post many notifications per recipient: the per-recipient limit is not their
      // subject (10 000 is the sliding log's largest limit).
      RATE_LIMIT_PER_RECIPIENT: '10000',
      LOG_LEVEL: 'warn',
      ...env,
    },
  }
}

/**
 * Before the services start: the world's schema, keys and queues go, and the router group skips
 * whatever an earlier run left in the topic (no member runs now; a killed one may linger until
 * its session expires, hence the retries).
 */
export async function resetWorld(ctx: HookContext, world: World): Promise<void> {
  const removed = await world.fixture.reset(ctx)
  const { topic, routerGroupId } = world.fixture
  let kafkaNote = 'no earlier events to skip'
  // Moving a group takes seconds (kafkajs joins it); a group with nothing left to read needs none.
  if ((await ctx.kafka.topics()).includes(topic) && (await ctx.kafka.lag(routerGroupId, topic)) > 0) {
    let lastError: unknown
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        kafkaNote = `${await ctx.kafka.moveGroupToEnd(routerGroupId, topic)} earlier events skipped`
        lastError = undefined
        break
      } catch (err) {
        lastError = err
        await sleep(1000)
      }
    }
    if (lastError)
      throw new Error(`could not move ${routerGroupId} to the end of ${topic}: ${String(lastError)}`)
  }
  ctx.log(
    `reset ${world.fixture.schema}: ${removed.keys} cache keys, ${removed.jobsKeys} queue keys; ${kafkaNote}`,
  )
}

/** The webhook URL that records what it receives: the providers process' `/<name>/hook`. */
export function hookUrl(ctx: LabContext, name = 'push'): string {
  return `${ctx.url('providers', 0)}/${name}/hook`
}

async function put(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  })
  if (res.status >= 300) throw new Error(`PUT ${url}: ${res.status} ${await res.text()}`)
}

/** PUT /api/templates/:name. */
export function putTemplate(ctx: LabContext, name: string, channels: Record<string, unknown>): Promise<void> {
  return put(`${ctx.url('api', 0)}/api/templates/${name}`, { channels })
}

/** `count` recipients `<prefix>0…`, each with only a webhook contact (the given URL). */
export async function putWebhookRecipients(
  ctx: LabContext,
  world: World,
  count: number,
  webhookUrl: string,
): Promise<void> {
  const api = ctx.url('api', 0)
  for (let i = 0; i < count; i++) {
    await put(`${api}/api/recipients/${world.recipientPrefix}${i}`, { webhookUrl })
  }
}

/** POST /api/notifications; returns the id. */
export async function accept(ctx: LabContext, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${ctx.url('api', 0)}/api/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  })
  const text = await res.text()
  if (res.status !== 202) throw new Error(`POST /api/notifications: ${res.status} ${text}`)
  return (JSON.parse(text) as { id: string }).id
}

/** How far the pipeline is behind: outbox rows, uncommitted router messages, deliveries in flight. */
export async function backlog(
  ctx: LabContext,
  world: World,
): Promise<{ unpublished: number; unrouted: number; inFlight: number }> {
  const unpublished = await world.fixture.outboxBacklog(ctx.pg)
  const b = await world.fixture.balance(ctx.pg)
  // A delivery left `failed` by a dropped poison job (deadLetter off) is not in flight: nobody
  // will ever retry it. Transient failures do not happen here (the receiver is healthy).
  const inFlight = b.byStatus.queued + b.byStatus.held + b.byStatus.sending
  return { unpublished, unrouted: b.unrouted, inFlight }
}

/** A `settleUntil`: nothing left to publish, route or send, twice in a row a second apart. */
export function drained(world: World): (ctx: LabContext) => Promise<boolean> {
  const quietSince = new Map<string, number>()
  return async (ctx) => {
    const b = await backlog(ctx, world)
    if (b.unpublished > 0 || b.unrouted > 0 || b.inFlight > 0) {
      quietSince.delete(ctx.mode)
      return false
    }
    const since = quietSince.get(ctx.mode) ?? Date.now()
    quietSince.set(ctx.mode, since)
    return Date.now() - since >= 900
  }
}
