/**
 * pm16 — a Kafka producer per request (PagerDuty, August 2024: a new producer created for every
 * request and never closed; the brokers' connections and memory climbed until they could take no
 * more, and publishing stopped).
 *
 * One instance of each process; k6 accepts notifications at a steady rate (each one outbox row),
 * the relay publishes them, the router and a channel worker deliver them to webhooks served by
 * the system's providers process. The broker is made small for the mode: its per-IP connection
 * quota (`max.connections.per.ip`, a dynamic broker config set through the admin API, removed at
 * the heal) is set to its connections at that moment plus a small headroom — the room a broker
 * near its limit has left (lib/pm16-broker.ts says why a heap limit cannot be reproduced on the
 * lab's shared broker). Removed 2 s before the load ends, so what the relay could not publish
 * meanwhile drains during the settle.
 *
 * Naive (`sharedProducer` off), the relay connects a new producer for every outbox row and never
 * disconnects it: its connections to Kafka climb with every notification, the broker's with them,
 * until the quota is reached; then each new producer's connection is closed by the broker, the
 * send fails and the relay retries the batch, again and again — the outbox backlog grows for as
 * long as the quota holds. Hardened, the relay's one idempotent producer (connected at start)
 * publishes everything over the connections it already has: flat, nothing fails.
 *
 * Invariants: the relay's own connections to Kafka (ss, by its pid) stay at their start value and
 * the broker's at most a few above theirs (fails naive: they climb by one or two per row); no
 * publish failed (fails naive); the outbox backlog stays under a second of load (fails naive).
 * Always: notifications accepted (k6), and nothing lost once the quota is lifted (every accepted
 * notification delivered).
 */
import {
  defineExperiment,
  errorRateBelow,
  type HookContext,
  invariant,
  type RunContext,
} from '@faultline/lab'
import notifications from '@faultline/notifications/system'
import {
  clearLeftoverQuota,
  connectionQuota,
  readingsOf,
  startSampling,
  stopSampling,
} from './lib/pm16-broker.ts'
import {
  accept,
  backlog,
  drained,
  hookUrl,
  isolatedWorld,
  putTemplate,
  putWebhookRecipients,
  resetWorld,
} from './lib/world.ts'

const world = isolatedWorld('pm16', { WORKER_CHANNELS: 'webhook', TOPIC_PARTITIONS: '3' })
const template = 'pm16-note'
const recipients = 20
const rate = 20
/** New connections the broker has room for once the quota is set. */
const headroom = 30
/** The broker's connections may grow this much above their start (a reconnect, the lab's own admin). */
const brokerSlack = 6
/** At `rate` per second: about a second of notifications. */
const backlogMax = rate

async function reset(ctx: HookContext): Promise<void> {
  if (await clearLeftoverQuota(ctx)) ctx.log('removed a connection quota an aborted run left on the broker')
  await resetWorld(ctx, world)
}

async function setup(ctx: HookContext): Promise<void> {
  await putTemplate(ctx, template, { webhook: { text: 'note for {{ name }}' } })
  await putWebhookRecipients(ctx, world, recipients, hookUrl(ctx))
  // One notification through the whole pipeline: the router has joined, the relay is publishing.
  await accept(ctx, {
    recipientId: `${world.recipientPrefix}0`,
    template,
    data: { name: 'warm-up' },
    channels: ['webhook'],
    category: 'lab',
    priority: 'normal',
  })
  const deadline = Date.now() + 45_000
  while ((await world.fixture.balance(ctx.pg)).byStatus.sent < 1) {
    if (Date.now() > deadline) throw new Error('the warm-up notification was not sent within 45 s')
    await new Promise((r) => setTimeout(r, 200))
  }
  const relay = ctx.services.find((s) => s.service === 'relay')
  if (relay?.pid === undefined) throw new Error('relay-0 has no pid')
  startSampling(ctx.mode, relay.pid)
  const r = readingsOf(ctx.mode)
  ctx.log(
    `warm-up sent; broker connections ${r?.baseline}, relay's ${r?.relayStart}, broker RSS ${r?.rssStartMiB?.toFixed(0)} MiB`,
  )
}

function connectionsFlat(ctx: RunContext) {
  stopSampling(ctx.mode)
  const r = readingsOf(ctx.mode)
  if (!r) return { holds: false, observed: 'setup did not sample the broker' }
  const relayGrew = r.relayPeak - r.relayStart
  const brokerGrew = r.peak - r.baseline
  return {
    holds: relayGrew === 0 && brokerGrew <= brokerSlack,
    observed: `relay's Kafka connections ${r.relayStart} → peak ${r.relayPeak}; broker's ${r.baseline} → peak ${r.peak} (quota ${r.quota ?? 'not set'})`,
    detail: `broker RSS ${r.rssStartMiB?.toFixed(0) ?? '?'} → peak ${r.rssPeakMiB?.toFixed(0) ?? '?'} MiB`,
  }
}

function noPublishFailed(ctx: RunContext) {
  const failed = ctx.metrics.delta('notifications_outbox_publish_errors_total')
  return { holds: failed === 0, observed: `${failed} failed sends of an outbox batch` }
}

function backlogSmall(ctx: RunContext) {
  const peak = ctx.metrics.maxOver('notifications_outbox_backlog')
  return { holds: peak <= backlogMax, observed: `outbox backlog peaked at ${peak} rows` }
}

async function nothingLost(ctx: RunContext) {
  const b = await world.fixture.balance(ctx.pg)
  const left = await backlog(ctx, world)
  // Every accepted notification (k6's 202s and the warm-up) has a delivery, and every delivery sent.
  const acceptedByK6 = ctx.ledger.select({ op: 'accept', where: (e) => e.status === 202 }).count
  return {
    holds:
      b.notifications === acceptedByK6 + 1 &&
      left.unpublished === 0 &&
      b.unrouted === 0 &&
      b.byStatus.sent === b.deliveries,
    observed: `${b.notifications} notifications (${acceptedByK6} accepted by k6 + 1), ${b.byStatus.sent} of ${b.deliveries} deliveries sent, ${left.unpublished} outbox rows left`,
  }
}

function describe(loadS: number, quotaUntil: number): string {
  return (
    `k6 accepts ${rate} notifications/s for ${loadS} s; from 1 s to ${quotaUntil} s the broker has room for only ${headroom} more connections (max.connections.per.ip). ` +
    "Naive (a new producer per outbox row, never closed): the relay's connections climb until the broker refuses them, sends fail and the outbox backs up; hardened (one producer per process): flat, nothing fails, nothing lost."
  )
}

function timeline(quotaUntil: number) {
  return [
    {
      at: 1,
      until: quotaUntil,
      action: connectionQuota(headroom),
      label: `broker connection quota (+${headroom})`,
    },
  ]
}

export default defineExperiment({
  id: 'pm16',
  slug: 'producer-per-request',
  system: notifications,
  title: 'A Kafka producer per request against a broker with little room',
  description: describe(30, 28),
  services: {
    api: { instances: 1 },
    relay: { instances: 1 },
    router: { instances: 1 },
    worker: { instances: 1 },
    providers: { instances: 1 },
  },
  env: world.env,
  mitigations: { sharedProducer: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'redis-queue', 'kafka', 'k6'],
  reset,
  setup,
  load: {
    script: 'chaos/notifications/load/pm17-pm16-accepts.js',
    durationS: 30,
    env: {
      RATE: String(rate),
      RECIPIENTS: String(recipients),
      RECIPIENT_PREFIX: world.recipientPrefix,
      TEMPLATE: template,
      SHORT_SHARE: '0',
      CATEGORY: 'lab',
      TIMEOUT: '2s',
    },
  },
  timeline: timeline(28),
  // Naive drains the backlog of the quota's window with a new producer per row after the heal.
  settleS: 60,
  settleUntil: drained(world),
  invariants: [
    invariant(
      'Kafka connections stay flat',
      `the relay's unchanged, the broker's ≤ +${brokerSlack} (ss)`,
      connectionsFlat,
    ),
    invariant('no publish failed', 'failed outbox sends = 0', noPublishFailed, {
      metric: 'notifications_outbox_publish_errors_total',
    }),
    invariant('the outbox keeps up', `backlog ≤ ${backlogMax} rows (about 1 s of load)`, backlogSmall, {
      metric: 'notifications_outbox_backlog',
    }),
    errorRateBelow(0.01, {
      op: 'accept',
      window: 'all',
      expect: 'always',
      name: 'notifications accepted (k6)',
    }),
    invariant('nothing lost once the quota is lifted', 'every accepted notification delivered', nothingLost, {
      expect: 'always',
    }),
  ],
  ci: {
    description: describe(12, 10),
    load: { durationS: 12 },
    timeline: timeline(10),
    settleS: 30,
  },
})
