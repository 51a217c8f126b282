/**
 * The channel worker's coalesced `sent` writes on real Postgres: the jobs finishing together are
 * written by one UPDATE and each one's row is exactly what its own markSent would have written;
 * a batch whose write fails leaves its deliveries `sending`, their jobs fail, and the next run
 * claims them again and re-sends with the same Idempotency-Key — the provider answers from the key,
 * so nothing is lost and nothing is sent twice.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startProviders } from '../src/providers/testing.ts'
import { DeliveryRepository, type SentRecord } from '../src/repositories/deliveries.ts'
import { TemplateRepository } from '../src/repositories/templates.ts'
import { channelSenders } from '../src/sender/components.ts'
import { processDelivery } from '../src/sender/process-delivery.ts'
import { ClaimCoalescer, SentCoalescer } from '../src/sender/sent-coalescer.ts'
import { notificationsHarness } from './harness.ts'
import { seedDelivery, startWorker } from './sender-helpers.ts'

test('deliveries marked sent together are written by one UPDATE, each as markSent would', async (t) => {
  const h = await notificationsHarness(t)
  const seeded = await Promise.all(Array.from({ length: 12 }, () => seedDelivery(h, { channel: 'email' })))
  for (const s of seeded) assert.ok(await h.deliveries.claimForSend(s.deliveryId, true))
  const writes: SentRecord[][] = []
  const coalescer = new SentCoalescer(async (records) => {
    writes.push(records)
    await h.deliveries.markSentMany(records)
  })

  await Promise.all(seeded.map((s, i) => coalescer.markSent(s.deliveryId, 'email', `m-${i}`)))

  assert.equal(writes.length, 1)
  assert.equal(writes[0]?.length, 12)
  for (const [i, s] of seeded.entries()) {
    const d = await h.deliveries.get(s.deliveryId)
    assert.equal(d?.status, 'sent')
    assert.equal(d?.provider, 'email')
    assert.equal(d?.providerMessageId, `m-${i}`)
    assert.equal(d?.sends, 1)
    assert.ok(d?.sentAt)
  }
})

test('markSentMany counts a delivery listed twice as two sends (naive repeats stay visible)', async (t) => {
  const h = await notificationsHarness(t)
  const s = await seedDelivery(h, { channel: 'email' })
  await h.deliveries.markSentMany([
    { id: s.deliveryId, provider: 'email', messageId: 'm-1' },
    { id: s.deliveryId, provider: 'email', messageId: 'm-2' },
  ])
  const d = await h.deliveries.get(s.deliveryId)
  assert.equal(d?.status, 'sent')
  assert.equal(d?.sends, 2)
})

test('claimForSend reads the channel contact with the claim, and claims only what claim would', async (t) => {
  const h = await notificationsHarness(t)
  const s = await seedDelivery(h, { channel: 'sms', recipient: { phone: '+15550100999' } })
  const d = await h.deliveries.claimForSend(s.deliveryId, true)
  assert.equal(d?.status, 'sending')
  assert.equal(d?.attempts, 1)
  assert.equal(d?.recipientExists, true)
  assert.equal(d?.contact, '+15550100999')
  assert.equal(d?.notification.recipientId, s.recipientId)
  await h.deliveries.markSentMany([{ id: s.deliveryId, provider: 'sms-a', messageId: 'm' }])
  assert.equal(await h.deliveries.claimForSend(s.deliveryId, true), null)

  const gone = await seedDelivery(h, { channel: 'push' })
  await h.db.query('DELETE FROM recipients WHERE id = $1', [gone.recipientId])
  const orphan = await h.deliveries.claimForSend(gone.deliveryId, true)
  assert.equal(orphan?.recipientExists, false)
  assert.equal(orphan?.contact, null)
})

test('claims made together are one statement; each is claimed as it would be alone', async (t) => {
  const h = await notificationsHarness(t)
  const seeded = await Promise.all(Array.from({ length: 6 }, () => seedDelivery(h, { channel: 'email' })))
  const done = await seedDelivery(h, { channel: 'email' })
  await h.deliveries.markSentMany([{ id: done.deliveryId, provider: 'email', messageId: 'm' }])
  const batches: string[][] = []
  const claims = new ClaimCoalescer({
    claimManyForSend: (ids, onlyPending) => {
      batches.push([...ids])
      return h.deliveries.claimManyForSend(ids, onlyPending)
    },
  })
  const twice = seeded[0]?.deliveryId as string

  const [claimed, terminal, again] = await Promise.all([
    Promise.all(seeded.map((s) => claims.claimForSend(s.deliveryId, true))),
    claims.claimForSend(done.deliveryId, true),
    claims.claimForSend(twice, true),
  ])

  // The second claim of one delivery waits for the next batch, as a second claim of its own would.
  assert.equal(batches.length, 2)
  assert.equal(batches[0]?.length, 7)
  assert.deepEqual(batches[1], [twice])
  for (const [i, c] of claimed.entries()) {
    assert.equal(c?.id, seeded[i]?.deliveryId)
    assert.equal(c?.status, 'sending')
    assert.equal(c?.contact, `${seeded[i]?.recipientId}@example.com`)
  }
  assert.equal(terminal, null)
  assert.equal(again?.attempts, 2)
  assert.equal((await h.deliveries.get(done.deliveryId))?.status, 'sent')
})

test('a failed batch write leaves its deliveries sending; the next run re-sends with the key, once', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await startProviders({ knobs: { email: {} } })
  h.infra.defer(() => providers.close())
  const w = startWorker(h, { WORKER_CHANNELS: 'email', PROVIDER_EMAIL_URL: providers.baseUrl('email') })
  const seeded = await Promise.all(Array.from({ length: 4 }, () => seedDelivery(h, { channel: 'email' })))
  const pool = h.pool(2)
  let failing = true
  // While `failing`, each batch's UPDATE runs and is rolled back (a connection lost before the
  // commit): a real write that never lands, then the error the jobs see.
  const sent = new SentCoalescer(async (records) => {
    if (!failing) return w.deliveries.markSentMany(records)
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await new DeliveryRepository(client).markSentMany(records)
      await client.query('ROLLBACK')
    } finally {
      client.release()
    }
    throw new Error('connection lost before the commit')
  })
  const config = h.config({ PROVIDER_EMAIL_URL: providers.baseUrl('email') })
  const senders = channelSenders(config, w.providers)
  const deps = {
    deliveries: w.deliveries,
    claims: w.deliveries,
    sent,
    templates: new TemplateRepository(h.pool(2)),
    send: (d: Parameters<(typeof senders)['email']>[0]) => senders[d.channel](d),
    deadLetters: w.deadLetters,
    switches: w.mitigations,
    metrics: w.metrics,
    deferral: { breakerOpenMs: config.breaker.openMs, minMs: config.jobBackoffMs },
  }
  const run = (deliveryId: string, notificationId: string, attemptsMade: number) =>
    processDelivery(deps, {
      data: { deliveryId, notificationId, channel: 'email' },
      attemptsMade,
      attempts: 3,
    })

  const first = await Promise.allSettled(seeded.map((s) => run(s.deliveryId, s.notificationId, 0)))
  assert.ok(first.every((r) => r.status === 'rejected'))
  for (const s of seeded) assert.equal((await h.deliveries.get(s.deliveryId))?.status, 'sending')
  assert.equal(providers.stats('email').accepted, 4)
  failing = false

  const second = await Promise.all(seeded.map((s) => run(s.deliveryId, s.notificationId, 1)))
  assert.deepEqual(second, ['sent', 'sent', 'sent', 'sent'])
  for (const s of seeded) {
    const d = await h.deliveries.get(s.deliveryId)
    assert.equal(d?.status, 'sent')
    assert.equal(d?.attempts, 2)
    assert.equal(d?.sends, 1)
  }
  const stats = providers.stats('email')
  assert.equal(stats.uniqueKeys, 4)
  assert.equal(stats.replayed, 4)
  assert.equal(stats.duplicateSends, 0)
  assert.deepEqual(
    new Set(providers.log('email').map((e) => e.idempotencyKey)),
    new Set(seeded.map((s) => s.deliveryId)),
  )
})
