/**
 * SMS failover on real Postgres, the queue Redis and the fake providers over real HTTP: a DEFINITE
 * failure at sms-a (connection refused, 500) or its open breaker sends through sms-b in the same
 * run with the same key; an AMBIGUOUS one (a timeout: sms-a may have sent it) is not failed over,
 * the queue retries sms-a later, and sms-a's key dedupe keeps it one message.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { test } from 'node:test'
import type { Knobs } from '../src/providers/knobs.ts'
import { type RunningProviders, startProviders } from '../src/providers/testing.ts'
import { type NotificationsHarness, notificationsHarness } from './harness.ts'
import { counterValue, enqueue, seedDelivery, startWorker, until } from './sender-helpers.ts'

async function providersFor(h: NotificationsHarness, smsA: Partial<Knobs> = {}): Promise<RunningProviders> {
  const providers = await startProviders({ knobs: { 'sms-a': smsA } })
  h.infra.defer(() => providers.close())
  return providers
}

function smsEnv(providers: RunningProviders, extra: Record<string, string> = {}) {
  return {
    WORKER_CHANNELS: 'sms',
    JOB_BACKOFF_MS: '20',
    JOB_BACKOFF_MAX_MS: '100',
    PROVIDER_SMS_URL: providers.baseUrl('sms-a'),
    PROVIDER_SMS_FALLBACK_URL: providers.baseUrl('sms-b'),
    ...extra,
  }
}

/** A base URL on a port nothing listens on: connection refused, the provider is down. */
async function deadBaseUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}/sms-a`
}

for (const failure of ['down (connection refused)', 'answering 500'] as const) {
  test(`sms-a ${failure}: sent via sms-b in the same run, with the same key`, async (t) => {
    const h = await notificationsHarness(t)
    const providers = await providersFor(h, failure === 'answering 500' ? { errorRate: 1 } : {})
    const env = smsEnv(
      providers,
      failure === 'answering 500' ? {} : { PROVIDER_SMS_URL: await deadBaseUrl() },
    )
    const w = startWorker(h, env)
    const s = await seedDelivery(h, { channel: 'sms' })
    await enqueue(w, s, 'sms', { attempts: 5 })

    await until('sent', async () => (await h.deliveries.get(s.deliveryId))?.status === 'sent')
    const d = await h.deliveries.get(s.deliveryId)
    assert.equal(d?.provider, 'sms-b')
    assert.equal(d?.attempts, 1, 'failed over within the first run')
    const log = providers.log('sms-b')
    assert.equal(log.length, 1)
    assert.equal(log[0]?.idempotencyKey, s.deliveryId)
    assert.equal(log[0]?.body, 'Welcome, Ada!')
    assert.equal(providers.stats('sms-a').accepted, 0)
    assert.equal(
      await counterValue(w.registry, 'notifications_provider_requests_total', {
        provider: 'sms-a',
        result: 'error',
      }),
      1,
    )
  })
}

test('sms-a timing out: not failed over in that run; retried on sms-a, one message', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h, { latencyMs: 1500 })
  const w = startWorker(h, smsEnv(providers, { PROVIDER_TIMEOUT_MS: '200' }))
  const s = await seedDelivery(h, { channel: 'sms' })
  await enqueue(w, s, 'sms', { attempts: 20 })

  await until('the first run failed', async () =>
    /^sms-a: timeout/.test((await h.deliveries.get(s.deliveryId))?.reason ?? ''),
  )
  assert.equal(providers.stats('sms-b').requests, 0, 'sms-b would have sent it a second time')
  providers.setKnobs('sms-a', { latencyMs: 0 })

  await until('sent', async () => (await h.deliveries.get(s.deliveryId))?.status === 'sent')
  const d = await h.deliveries.get(s.deliveryId)
  assert.equal(d?.provider, 'sms-a')
  assert.ok((d?.attempts ?? 0) >= 2)
  assert.equal(providers.stats('sms-b').requests, 0)
  // The timed-out request was sent too (after its 1.5 s): the key makes the retry the same message.
  await until(
    'the slow request finished at sms-a',
    () => providers.stats('sms-a').accepted + providers.stats('sms-a').replayed >= 2,
  )
  assert.equal(providers.stats('sms-a').accepted, 1)
  assert.equal(providers.stats('sms-a').duplicateSends, 0)
})

test("sms-a's breaker open: deliveries go straight to sms-b without calling sms-a", async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h, { errorRate: 1 })
  const w = startWorker(
    h,
    smsEnv(providers, { BREAKER_FAILURES: '2', BREAKER_OPEN_MS: '60000', WORKER_CONCURRENCY: '1' }),
  )
  for (let i = 0; i < 4; i++) {
    const s = await seedDelivery(h, { channel: 'sms' })
    await enqueue(w, s, 'sms', { attempts: 5 })
    await until(`delivery ${i} sent`, async () => (await h.deliveries.get(s.deliveryId))?.status === 'sent')
  }
  assert.equal(providers.stats('sms-a').requests, 2, 'two failures opened the breaker')
  assert.equal(providers.stats('sms-b').accepted, 4)
  assert.equal(await counterValue(w.registry, 'notifications_breaker_open', { provider: 'sms-a' }), 1)
  assert.equal(await counterValue(w.registry, 'notifications_breaker_open', { provider: 'sms-b' }), 0)
})
