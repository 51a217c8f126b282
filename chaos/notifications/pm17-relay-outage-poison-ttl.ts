/**
 * pm17 — the relay stopped, then a poison message that always throws (catalog row pm17: a queue
 * consumer that retried a message it could never process, while the backlog of an outage drained
 * stale). Short-TTL notifications (OTPs, "your driver is here") accepted during the outage are
 * worthless after it.
 *
 * One instance of each process; the deliveries go to webhooks served by the system's own
 * providers process. k6 accepts notifications at a steady rate all along, half of them with a
 * 3 s ttlS. Then the outbox relay is killed: notifications are still accepted (the outbox keeps
 * them) but nothing reaches Kafka. Meanwhile a few notifications are accepted whose template is
 * then changed so that their data no longer renders it (lib/pm17-outage.ts): poison, which a
 * channel worker discovers at send time. The relay is restarted 7 s later and publishes the
 * backlog at once.
 *
 * Naive (`deadLetter` and `ttlCheck` off): the worker drops the poison (BullMQ fails the job for
 * good, the delivery stays `failed`, nobody is told: the dead-letter alert never fires), and the
 * router and worker send the short-TTL notifications of the outage although they expired seconds
 * before. Hardened: the poison is dead-lettered with its reason (the worker's
 * notifications_dead_letter_alert gauge is 1 from the next scrape), the router marks what expired
 * in the queue `expired`, and the balance adds up: accepted deliveries = sent + dead_lettered +
 * expired + suppressed.
 *
 * Invariants, read from Postgres through the fixture after the pipeline drained: the balance
 * (fails naive: the dropped poison is in no terminal state); nothing sent at or after its
 * expiresAt (fails naive); the alert sampled at 1 within 60 s of the relay's restart (fails naive:
 * never). Always: notifications accepted (k6), the pipeline drained, and the outage outlived some
 * short-TTL notifications (expired + sent late > 0), so the TTL check had something to catch.
 */

import {
  defineExperiment,
  errorRateBelow,
  type HookContext,
  invariant,
  type RunContext,
} from '@faultline/lab'
import notifications from '@faultline/notifications/system'
import { poisonChannels, poisonTemplate, relayOutageWithPoison } from './lib/pm17-outage.ts'
import {
  backlog,
  drained,
  hookUrl,
  isolatedWorld,
  putTemplate,
  putWebhookRecipients,
  resetWorld,
} from './lib/world.ts'

const world = isolatedWorld('pm17', { WORKER_CHANNELS: 'webhook', TOPIC_PARTITIONS: '3' })
const template = 'pm17-note'
const recipients = 20
const poisonCount = 5
const shortTtlS = 3
/**
 * The TTL is checked right before each send, and the delivery is marked sent when the webhook's
 * 2xx comes back: a send that began just before expiresAt completes a round trip after it. Sends
 * completed more than this after expiresAt were started after it.
 */
const sendGraceS = 1
/** The alert must fire within this long of the poison reaching the workers (the relay's restart). */
const alertWithinS = 60

async function setup(ctx: HookContext): Promise<void> {
  await putTemplate(ctx, template, { webhook: { text: 'note for {{ name }}' } })
  await putTemplate(ctx, poisonTemplate, poisonChannels)
  await putWebhookRecipients(ctx, world, recipients, hookUrl(ctx))
  // No warm-up through the pipeline: what the router has not joined for yet waits in Kafka, and
  // the invariants are about the state once drained.
}

async function balanceHolds(ctx: RunContext) {
  const b = await world.fixture.balance(ctx.pg)
  const s = b.byStatus
  return {
    holds: b.notifications > 1 && b.unrouted === 0 && b.open === 0,
    observed:
      `${b.deliveries} deliveries = sent ${s.sent} + dead-lettered ${s.dead_lettered} + expired ${s.expired} + suppressed ${s.suppressed}` +
      ` + in no terminal state ${b.open} (failed ${s.failed}, queued ${s.queued}, sending ${s.sending}, held ${s.held})`,
    detail: `${b.notifications} notifications, ${b.unrouted} without a delivery`,
  }
}

async function nothingStale(ctx: RunContext) {
  const stale = await world.fixture.staleSends(ctx.pg, sendGraceS)
  return {
    holds: stale.beyondGrace === 0,
    observed: `${stale.beyondGrace} sent more than ${sendGraceS} s past their TTL`,
    detail: `${stale.count} completed at or after expiresAt, the latest ${stale.worstLateS.toFixed(2)} s after it`,
  }
}

function alertInTime(ctx: RunContext) {
  const restartS = ctx.faults[0]?.toS ?? 0
  const series = ctx.metrics.series('notifications_dead_letter_alert', { service: 'notifications-worker' })
  const fired = series.find((p) => p.value >= 1)
  const afterS = fired ? fired.tS - restartS : undefined
  return {
    holds: afterS !== undefined && afterS <= alertWithinS,
    observed:
      afterS === undefined
        ? `never fired (${series.length} samples of the worker)`
        : `fired ${afterS.toFixed(1)} s after the relay's restart`,
  }
}

async function pipelineDrained(ctx: RunContext) {
  const b = await backlog(ctx, world)
  return {
    holds: b.unpublished === 0 && b.unrouted === 0 && b.inFlight === 0,
    observed: `${b.unpublished} outbox rows, ${b.unrouted} unrouted notifications, ${b.inFlight} deliveries in flight`,
  }
}

async function outageOutlivedTtls(ctx: RunContext) {
  const expired = (await world.fixture.balance(ctx.pg)).byStatus.expired
  const late = (await world.fixture.staleSends(ctx.pg, sendGraceS)).beyondGrace
  return {
    holds: expired + late > 0,
    observed: `${expired} expired + ${late} sent late`,
  }
}

function describe(loadS: number, at: number, until: number, ttlS = shortTtlS): string {
  return (
    `k6 accepts 20 notifications/s for ${loadS} s (half with ttlS ${ttlS}) to webhooks. At ${at} s the outbox relay is killed; ` +
    `${poisonCount} notifications are accepted and their template changed so they cannot render (poison); the relay restarts at ${until} s. ` +
    'Naive (deadLetter, ttlCheck off) drops the poison silently and sends the expired backlog; hardened dead-letters it (the alert fires) and expires what outlived its TTL.'
  )
}

function timeline(at: number, until: number) {
  return [
    {
      at,
      until,
      action: relayOutageWithPoison(world, poisonCount),
      label: 'relay down (kill -9), poison accepted; relay restarted',
    },
  ]
}

export default defineExperiment({
  id: 'pm17',
  slug: 'relay-outage-poison-ttl',
  system: notifications,
  title: 'Relay down, then a poison message and a stale backlog',
  description: describe(30, 5, 15),
  services: {
    api: { instances: 1 },
    relay: { instances: 1 },
    router: { instances: 1 },
    worker: { instances: 1 },
    providers: { instances: 1 },
  },
  env: world.env,
  mitigations: { deadLetter: true, ttlCheck: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'redis-queue', 'kafka', 'k6'],
  reset: (ctx) => resetWorld(ctx, world),
  setup,
  load: {
    script: 'chaos/notifications/load/pm17-pm16-accepts.js',
    durationS: 30,
    env: {
      RATE: '20',
      RECIPIENTS: String(recipients),
      RECIPIENT_PREFIX: world.recipientPrefix,
      TEMPLATE: template,
      SHORT_SHARE: '0.5',
      SHORT_TTL_S: String(shortTtlS),
      CATEGORY: 'lab',
      TIMEOUT: '2s',
    },
  },
  timeline: timeline(5, 15),
  settleS: 40,
  settleUntil: drained(world),
  invariants: [
    invariant(
      'balance once drained',
      'accepted deliveries = sent + dead_lettered + expired + suppressed',
      balanceHolds,
      { metric: 'notifications_deliveries_total' },
    ),
    invariant(
      'nothing sent past its TTL',
      `deliveries sent > ${sendGraceS} s after expiresAt = 0`,
      nothingStale,
      {
        metric: 'notifications_routed_total',
      },
    ),
    invariant(
      'dead-letter alert fires',
      `notifications_dead_letter_alert = 1 within ${alertWithinS} s of the relay's restart`,
      alertInTime,
      { metric: 'notifications_dead_letter_alert' },
    ),
    errorRateBelow(0.01, {
      op: 'accept',
      window: 'all',
      expect: 'always',
      name: 'notifications accepted (k6)',
    }),
    invariant('the pipeline drained', 'nothing left to publish, route or send', pipelineDrained, {
      expect: 'always',
    }),
    invariant('the outage outlived short TTLs', 'expired + sent late > 0', outageOutlivedTtls, {
      expect: 'always',
    }),
  ],
  ci: {
    description: describe(10, 1, 6, 2),
    load: { durationS: 10, env: { SHORT_TTL_S: '2' } },
    timeline: timeline(1, 6),
  },
})
