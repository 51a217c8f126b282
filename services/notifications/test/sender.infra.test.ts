/**
 * The channel worker's send protocol on real Postgres and the queue Redis, against the project's
 * fake providers over real HTTP: the delivery id as Idempotency-Key, the delivery record guarding
 * a job run twice, the TTL checked before the send, a transient failure retried, and pm11's naive
 * client (short deadline + blind retries) duplicating at a provider that ignores keys. Each switch
 * is tested on and off: the difference is the point.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Knobs } from '../src/providers/knobs.ts'
import { type RunningProviders, startProviders } from '../src/providers/testing.ts'
import { verifySignature } from '../src/webhook/sign.ts'
import { type NotificationsHarness, notificationsHarness } from './harness.ts'
import { counterValue, enqueue, seedDelivery, startWorker, until } from './sender-helpers.ts'

const fast = { JOB_BACKOFF_MS: '20', JOB_BACKOFF_MAX_MS: '100', WORKER_CHANNELS: 'email' }

async function providersFor(h: NotificationsHarness, knobs: Partial<Knobs> = {}): Promise<RunningProviders> {
  const providers = await startProviders({ knobs: { email: knobs } })
  h.infra.defer(() => providers.close())
  return providers
}

function emailEnv(providers: RunningProviders, extra: Record<string, string> = {}) {
  return { ...fast, PROVIDER_EMAIL_URL: providers.baseUrl('email'), ...extra }
}

async function status(h: NotificationsHarness, id: string) {
  return (await h.deliveries.get(id))?.status
}

test('a delivery is sent once, with its id as the Idempotency-Key, and marked sent', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h)
  const w = startWorker(h, emailEnv(providers))
  const s = await seedDelivery(h, { channel: 'email', data: { name: 'Ada' } })
  await enqueue(w, s, 'email', { attempts: 3 })

  await until('sent', async () => (await status(h, s.deliveryId)) === 'sent')
  const log = providers.log('email')
  assert.equal(log.length, 1)
  assert.equal(log[0]?.idempotencyKey, s.deliveryId)
  assert.equal(log[0]?.to, `${s.recipientId}@example.com`)
  assert.equal(log[0]?.subject, 'Welcome, Ada')
  const d = await h.deliveries.get(s.deliveryId)
  assert.equal(d?.provider, 'email')
  assert.equal(d?.providerMessageId, log[0]?.messageId)
  assert.equal(d?.sends, 1)
  assert.equal(
    await counterValue(w.registry, 'notifications_deliveries_total', { channel: 'email', outcome: 'sent' }),
    1,
  )
  assert.equal(
    await counterValue(w.registry, 'notifications_provider_requests_total', {
      provider: 'email',
      result: 'ok',
    }),
    1,
  )
})

test('providerIdempotencyKey off: the provider gets no key', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h)
  const w = startWorker(h, emailEnv(providers), { providerIdempotencyKey: false })
  const s = await seedDelivery(h, { channel: 'email' })
  await enqueue(w, s, 'email', { attempts: 3 })

  await until('sent', async () => (await status(h, s.deliveryId)) === 'sent')
  assert.equal(providers.log('email')[0]?.idempotencyKey, null)
})

for (const deliveryRecord of [true, false]) {
  test(`a job run twice sends ${deliveryRecord ? 'once' : 'twice'} with deliveryRecord ${deliveryRecord ? 'on' : 'off'}`, async (t) => {
    const h = await notificationsHarness(t)
    const providers = await providersFor(h)
    const w = startWorker(h, emailEnv(providers), { deliveryRecord })
    const s = await seedDelivery(h, { channel: 'email' })
    await enqueue(w, s, 'email', { attempts: 3 })
    await until('first run sent', async () => (await status(h, s.deliveryId)) === 'sent')

    // The same delivery's job again (a redelivered event after the first job was removed, a
    // stalled job run twice): a second job id so BullMQ does not dedupe it.
    await enqueue(w, s, 'email', { attempts: 3, jobId: `${s.deliveryId}-again` })
    const outcome = deliveryRecord ? 'skipped' : 'sent'
    const expected = deliveryRecord ? 1 : 2
    await until(
      `second run ${outcome}`,
      async () =>
        (await counterValue(w.registry, 'notifications_deliveries_total', { channel: 'email', outcome })) ===
        expected,
    )
    assert.equal(providers.stats('email').requests, expected, 'requests that reached the provider')
    assert.equal((await h.deliveries.get(s.deliveryId))?.sends, expected)
    // The provider honours keys: with the key, even the naive second send is no second message.
    assert.equal(providers.stats('email').accepted, 1)
    assert.equal(await status(h, s.deliveryId), 'sent')
  })
}

for (const ttlCheck of [true, false]) {
  test(`a delivery past its TTL is ${ttlCheck ? 'expired, nothing sent' : 'sent anyway'} with ttlCheck ${ttlCheck ? 'on' : 'off'}`, async (t) => {
    const h = await notificationsHarness(t)
    const providers = await providersFor(h)
    const w = startWorker(h, emailEnv(providers), { ttlCheck })
    const s = await seedDelivery(h, { channel: 'email', expiresInS: -60 })
    await enqueue(w, s, 'email', { attempts: 3 })

    const want = ttlCheck ? 'expired' : 'sent'
    await until(want, async () => (await status(h, s.deliveryId)) === want)
    assert.equal(providers.stats('email').requests, ttlCheck ? 0 : 1)
    assert.equal(
      await counterValue(w.registry, 'notifications_deliveries_total', { channel: 'email', outcome: want }),
      1,
    )
  })
}

test('a provider 500 is retried by the queue with backoff, then sent', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h, { errorRate: 1 })
  const w = startWorker(h, emailEnv(providers, { BREAKER_FAILURES: '1000' }))
  const s = await seedDelivery(h, { channel: 'email' })
  await enqueue(w, s, 'email', { attempts: 50 })

  await until('two 500s', () => providers.stats('email').errors >= 2)
  assert.notEqual(await status(h, s.deliveryId), 'sent')
  providers.setKnobs('email', { errorRate: 0 })
  await until('sent after the provider recovered', async () => (await status(h, s.deliveryId)) === 'sent')
  const d = await h.deliveries.get(s.deliveryId)
  assert.ok((d?.attempts ?? 0) >= 2, 'sent on a later attempt')
  assert.equal(providers.stats('email').accepted, 1)
  assert.ok(
    (await counterValue(w.registry, 'notifications_provider_requests_total', {
      provider: 'email',
      result: 'error',
    })) >= 1,
  )
})

test("a provider's 429 defers the job: it waits at least its Retry-After and spends no attempt", async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h, { rateLimitRate: 1, retryAfterS: 1 })
  const w = startWorker(h, emailEnv(providers, { BREAKER_FAILURES: '1000' }))
  const s = await seedDelivery(h, { channel: 'email' })
  // One attempt: were a 429 a failed attempt, the first one would dead-letter the delivery.
  await enqueue(w, s, 'email', { attempts: 1 })

  await until(
    'a retry scheduled',
    async () => (await w.queues.channel.email.getJobState(s.deliveryId)) === 'delayed',
  )
  const job = await w.queues.channel.email.getJob(s.deliveryId)
  assert.ok((job?.delay ?? 0) >= 1000, `delayed ${job?.delay} ms, Retry-After says 1000`)
  assert.equal(job?.attemptsMade, 0, 'a 429 is not a failed attempt')
  assert.match((await h.deliveries.get(s.deliveryId))?.reason ?? '', /email: rate_limited .*no attempt spent/)
  await until('turned away twice', async () => providers.stats('email').rateLimited >= 2, 10_000)
  providers.setKnobs('email', { rateLimitRate: 0 })
  await until('sent', async () => (await status(h, s.deliveryId)) === 'sent')
  // BullMQ counts the run that completed; the two runs turned away counted nothing.
  assert.equal((await w.queues.channel.email.getJob(s.deliveryId))?.attemptsMade, 1)
  assert.ok(
    (await counterValue(w.registry, 'notifications_deliveries_total', {
      channel: 'email',
      outcome: 'deferred',
    })) >= 2,
  )
})

test('a provider throttling until the TTL: deferred, never dead-lettered, then expired with nothing sent', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h, { rateLimitRate: 1, retryAfterS: 60 })
  const w = startWorker(h, emailEnv(providers, { BREAKER_FAILURES: '1000' }))
  const s = await seedDelivery(h, { channel: 'email', expiresInS: 2 })
  await enqueue(w, s, 'email', { attempts: 1 })

  // Retry-After says a minute; the TTL ends in 2 s: the job comes back at the TTL, not after it.
  await until('expired', async () => (await status(h, s.deliveryId)) === 'expired', 15_000)
  assert.equal(providers.stats('email').accepted, 0)
  assert.ok(providers.stats('email').rateLimited >= 1)
  assert.equal(
    await counterValue(w.registry, 'notifications_deliveries_total', {
      channel: 'email',
      outcome: 'dead_lettered',
    }),
    0,
  )
})

test('an open breaker defers the job instead of spending its last attempt; it is sent once the provider is back', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h, { errorRate: 1 })
  const w = startWorker(h, emailEnv(providers, { BREAKER_FAILURES: '1', BREAKER_OPEN_MS: '1500' }))
  const s = await seedDelivery(h, { channel: 'email' })
  // Two attempts: the first fails and opens the breaker; were "breaker open" a failure, the
  // retry would be the last attempt and dead-letter the delivery `exhausted`.
  await enqueue(w, s, 'email', { attempts: 2 })

  await until('deferred by the open breaker', async () =>
    /circuit breaker open.*no attempt spent/.test((await h.deliveries.get(s.deliveryId))?.reason ?? ''),
  )
  providers.setKnobs('email', { errorRate: 0 })
  await until('sent', async () => (await status(h, s.deliveryId)) === 'sent')
  assert.equal(providers.stats('email').accepted, 1)
  assert.ok(
    (await counterValue(w.registry, 'notifications_deliveries_total', {
      channel: 'email',
      outcome: 'deferred',
    })) >= 1,
  )
})

for (const providerDeadline of [true, false]) {
  test(`a slow provider that ignores keys: ${providerDeadline ? 'one send with the deadline above its latency' : 'duplicates with the naive deadline and blind retries'}`, async (t) => {
    const h = await notificationsHarness(t)
    const providers = await providersFor(h, { latencyMs: 300, honourIdempotencyKey: false })
    const env = emailEnv(providers, {
      PROVIDER_TIMEOUT_MS: '5000',
      PROVIDER_NAIVE_TIMEOUT_MS: '50',
      PROVIDER_NAIVE_RETRIES: '2',
      JOB_ATTEMPTS: '1',
    })
    const w = startWorker(h, env, { providerDeadline })
    const s = await seedDelivery(h, { channel: 'email' })
    await enqueue(w, s, 'email', { attempts: 1 })

    if (providerDeadline) {
      await until('sent', async () => (await status(h, s.deliveryId)) === 'sent')
      assert.equal(providers.stats('email').requests, 1)
      assert.equal(providers.stats('email').duplicateSends, 0)
      return
    }
    // Three attempts each gave up after 50 ms; the provider went on and sent every one of them.
    await until('three sends at the provider', () => providers.stats('email').accepted === 3)
    assert.equal(providers.stats('email').duplicateSends, 2)
    await until('given up', async () => (await status(h, s.deliveryId)) === 'dead_lettered')
    assert.match((await h.deliveries.get(s.deliveryId))?.reason ?? '', /email: timeout/)
    assert.equal(
      await counterValue(w.registry, 'notifications_provider_requests_total', {
        provider: 'email',
        result: 'timeout',
      }),
      3,
    )
  })
}

const secret = 'a-test-webhook-secret-of-length'

test('webhook: a signed POST to the allow-listed receiver, with the delivery id as its key', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await startProviders({
    verifyHook: (raw, signature) => verifySignature(secret, raw, signature),
  })
  h.infra.defer(() => providers.close())
  const w = startWorker(h, {
    ...fast,
    WORKER_CHANNELS: 'webhook',
    WEBHOOK_SECRET: secret,
    WEBHOOK_ALLOWLIST: providers.hostPort,
  })
  const s = await seedDelivery(h, {
    channel: 'webhook',
    recipient: { webhookUrl: providers.hookUrl('email') },
  })
  await enqueue(w, s, 'webhook', { attempts: 3 })

  await until('sent', async () => (await status(h, s.deliveryId)) === 'sent')
  const hooks = providers.hooks('email')
  assert.equal(hooks.length, 1)
  assert.equal(hooks[0]?.verified, true, hooks[0]?.verifyReason ?? '')
  assert.equal(hooks[0]?.headers['idempotency-key'], s.deliveryId)
  assert.equal(hooks[0]?.deliveryId, s.deliveryId)
  assert.deepEqual(hooks[0]?.body, {
    id: s.deliveryId,
    notificationId: s.notificationId,
    template: 'welcome',
    category: 'test',
    text: 'welcome Ada',
    data: { name: 'Ada' },
  })
  assert.equal((await h.deliveries.get(s.deliveryId))?.provider, 'webhook')
})

test('webhook: a loopback URL not allow-listed is refused at send time: poison, nothing posted', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await startProviders()
  h.infra.defer(() => providers.close())
  const w = startWorker(h, { ...fast, WORKER_CHANNELS: 'webhook', JOB_ATTEMPTS: '3' })
  const s = await seedDelivery(h, {
    channel: 'webhook',
    recipient: { webhookUrl: providers.hookUrl('email') },
  })
  await enqueue(w, s, 'webhook', { attempts: 3 })

  await until('dead-lettered', async () => (await status(h, s.deliveryId)) === 'dead_lettered')
  const d = await h.deliveries.get(s.deliveryId)
  assert.equal(d?.deadLetterKind, 'poison')
  assert.equal(d?.attempts, 1)
  assert.match(d?.reason ?? '', /webhook: refused .*loopback/)
  assert.equal(providers.hookStats('email').received, 0)
  assert.equal(
    await counterValue(w.registry, 'notifications_provider_requests_total', {
      provider: 'webhook',
      result: 'refused',
    }),
    1,
  )
})
