/**
 * The fake providers over real HTTP on loopback (no infra needed): every knob does what it says,
 * the contract's bad inputs get a 400 naming the field, the admin log and stats count what was
 * really sent, and the process boots from PROVIDER_KNOBS and serves its probes.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { type RunningProviders, startProviders } from '../src/providers/testing.ts'
import { signPayload } from '../src/webhook/sign.ts'

const json = { 'content-type': 'application/json' }
const message = { channel: 'sms', to: '+15550000001', body: 'your code is 123456' }

function post(p: RunningProviders, name: string, body: unknown, key?: string, signal?: AbortSignal) {
  return fetch(`${p.baseUrl(name)}/v1/messages`, {
    method: 'POST',
    headers: { ...json, ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  })
}

async function started(t: { after(fn: () => Promise<void>): void }, options = {}) {
  const p = await startProviders(options)
  t.after(() => p.close())
  return p
}

/** Polls `check` a bounded number of times (no timing is asserted, only the eventual state). */
async function eventually(check: () => boolean, what: string, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return
    await sleep(50)
  }
  assert.fail(`never happened: ${what}`)
}

test('an accepted message returns a messageId and is logged with every field', async (t) => {
  const p = await started(t)
  const res = await post(
    p,
    'email',
    { channel: 'email', to: 'a@example.com', subject: 'Hi', body: 'hello' },
    'k-1',
  )
  assert.equal(res.status, 200)
  const { messageId } = (await res.json()) as { messageId: string }
  assert.match(messageId, /^[0-9a-f-]{36}$/)
  const [entry, ...rest] = p.log('email')
  assert.equal(rest.length, 0)
  assert.deepEqual(
    { ...entry, at: undefined },
    {
      seq: 1,
      messageId,
      idempotencyKey: 'k-1',
      channel: 'email',
      to: 'a@example.com',
      subject: 'Hi',
      body: 'hello',
      at: undefined,
    },
  )
  assert.equal(p.log('sms-a').length, 0, 'providers are separate')
  const stats = p.stats('email')
  assert.equal(stats.requests, 1)
  assert.equal(stats.accepted, 1)
  assert.equal(stats.uniqueKeys, 1)
})

test('bad messages get a 400 naming the field and send nothing', async (t) => {
  const p = await started(t)
  const cases: Array<[unknown, string | undefined, string]> = [
    [{ to: 'x', body: 'b' }, undefined, 'body.channel'],
    [{ ...message, channel: 'fax' }, undefined, 'body.channel'],
    [{ ...message, to: '' }, undefined, 'body.to'],
    [{ ...message, to: 42 }, undefined, 'body.to'],
    [{ ...message, subject: 7 }, undefined, 'body.subject'],
    [{ channel: 'sms', to: 'x' }, undefined, 'body.body'],
    [[message], undefined, 'body'],
    [message, 'has space', 'headers.idempotency-key'],
    [message, 'k'.repeat(256), 'headers.idempotency-key'],
  ]
  for (const [body, key, field] of cases) {
    const res = await post(p, 'sms-a', body, key)
    assert.equal(res.status, 400, `${JSON.stringify(body)} → 400`)
    const error = (await res.json()) as { field: string; code: string }
    assert.equal(error.field, field)
    assert.equal(error.code, 'NOTIFICATIONS_ERR_PROVIDER_INVALID_REQUEST')
  }
  assert.equal(p.log('sms-a').length, 0)
  assert.equal(p.stats('sms-a').invalid, cases.length)
})

test('an honoured key replay returns the same messageId and sends nothing new', async (t) => {
  const p = await started(t)
  const first = (await (await post(p, 'sms-a', message, 'delivery-1')).json()) as { messageId: string }
  const again = await post(p, 'sms-a', message, 'delivery-1')
  assert.equal(again.status, 200)
  assert.equal(again.headers.get('idempotent-replay'), 'true')
  assert.equal(((await again.json()) as { messageId: string }).messageId, first.messageId)
  const stats = p.stats('sms-a')
  assert.equal(stats.accepted, 1)
  assert.equal(stats.replayed, 1)
  assert.equal(stats.duplicateSends, 0)
  assert.equal(p.log('sms-a').length, 1)
})

test('with honourIdempotencyKey off every repeat is a new send, counted as a duplicate', async (t) => {
  const p = await started(t, { knobs: { 'sms-b': { honourIdempotencyKey: false } } })
  const ids = new Set<string>()
  for (let i = 0; i < 3; i++) {
    const res = await post(p, 'sms-b', message, 'delivery-2')
    ids.add(((await res.json()) as { messageId: string }).messageId)
  }
  assert.equal(ids.size, 3)
  const stats = p.stats('sms-b')
  assert.equal(stats.accepted, 3)
  assert.equal(stats.duplicateSends, 2)
  assert.equal(stats.uniqueKeys, 1)
  assert.equal(stats.replayed, 0)
})

test('sends without a key are counted as duplicates per (to, body)', async (t) => {
  const p = await started(t)
  await post(p, 'push', { channel: 'push', to: 'token-1', body: 'a' })
  await post(p, 'push', { channel: 'push', to: 'token-1', body: 'a' })
  await post(p, 'push', { channel: 'push', to: 'token-1', body: 'b' })
  await post(p, 'push', { channel: 'push', to: 'token-2', body: 'a' })
  const stats = p.stats('push')
  assert.equal(stats.accepted, 4)
  assert.equal(stats.duplicateSends, 1)
  assert.equal(stats.uniqueKeys, 0)
})

test('rateLimitRate answers 429 with Retry-After and sends nothing', async (t) => {
  const p = await started(t, { knobs: { email: { rateLimitRate: 1, retryAfterS: 7 } } })
  const res = await post(p, 'email', { ...message, channel: 'email' }, 'k')
  assert.equal(res.status, 429)
  assert.equal(res.headers.get('retry-after'), '7')
  assert.equal(p.stats('email').rateLimited, 1)
  assert.equal(p.log('email').length, 0)
})

test('errorRate answers 500 and sends nothing', async (t) => {
  const p = await started(t, { knobs: { 'sms-a': { errorRate: 1 } } })
  const res = await post(p, 'sms-a', message, 'k')
  assert.equal(res.status, 500)
  assert.equal(p.stats('sms-a').errors, 1)
  assert.equal(p.log('sms-a').length, 0)
})

test('a dropped reply is a socket error for the client but the send is recorded', async (t) => {
  const p = await started(t, { knobs: { 'sms-a': { dropReplyRate: 1 } } })
  await assert.rejects(post(p, 'sms-a', message, 'delivery-3'), TypeError)
  const [sent] = p.log('sms-a')
  assert.equal(sent?.idempotencyKey, 'delivery-3')
  assert.equal(p.stats('sms-a').dropped, 1)
  // The client's retry with the same key learns the messageId of the send it never heard about.
  p.setKnobs('sms-a', { dropReplyRate: 0 })
  const retry = (await (await post(p, 'sms-a', message, 'delivery-3')).json()) as { messageId: string }
  assert.equal(retry.messageId, sent?.messageId)
  assert.equal(p.stats('sms-a').duplicateSends, 0)
})

test('down destroys the connection unread, and the admin routes still answer', async (t) => {
  const p = await started(t, { knobs: { push: { down: true } } })
  await assert.rejects(post(p, 'push', { ...message, channel: 'push' }, 'k'), TypeError)
  const stats = (await (await fetch(`${p.baseUrl('push')}/admin/stats`)).json()) as Record<string, number>
  assert.equal(stats.refused, 1)
  assert.equal(stats.accepted, 0)
  assert.equal(p.log('push').length, 0)
  const ok = await post(p, 'email', { ...message, channel: 'email' })
  assert.equal(ok.status, 200, 'only the provider that is down refuses')
})

test('a client that gives up during latencyMs still caused the send (the ambiguous timeout)', async (t) => {
  const p = await started(t, { knobs: { 'sms-a': { latencyMs: 300 } } })
  await assert.rejects(post(p, 'sms-a', message, 'delivery-4', AbortSignal.timeout(50)))
  await eventually(() => p.log('sms-a').length === 1, 'the abandoned request was sent')
  assert.equal(p.log('sms-a')[0]?.idempotencyKey, 'delivery-4')
})

test('close() cuts off a request sleeping its latency: nothing is sent', { timeout: 20_000 }, async () => {
  const p = await startProviders({ knobs: { email: { latencyMs: 600_000 } } })
  const pending = post(p, 'email', { ...message, channel: 'email' }, 'k')
  await eventually(() => p.stats('email').requests === 1, 'the request arrived')
  await p.close()
  await assert.rejects(pending, TypeError)
  assert.equal(p.log('email').length, 0)
})

test('knobs: GET, partial PUT, and a 400 naming the bad knob', async (t) => {
  const p = await started(t)
  const url = `${p.baseUrl('email')}/admin/knobs`
  const put = (body: unknown) => fetch(url, { method: 'PUT', headers: json, body: JSON.stringify(body) })
  const changed = (await (await put({ latencyMs: 5, errorRate: 0.5 })).json()) as Record<string, unknown>
  assert.equal(changed.latencyMs, 5)
  assert.equal(changed.errorRate, 0.5)
  assert.equal(changed.honourIdempotencyKey, true, 'untouched knobs keep their value')
  const bad: Array<[unknown, string]> = [
    [{ errorRate: 1.5 }, 'body.errorRate'],
    [{ dropReplyRate: -0.1 }, 'body.dropReplyRate'],
    [{ latencyMs: -1 }, 'body.latencyMs'],
    [{ latencyJitterMs: 1.5 }, 'body.latencyJitterMs'],
    [{ retryAfterS: '3' }, 'body.retryAfterS'],
    [{ down: 'yes' }, 'body.down'],
    [{ latency: 5 }, 'body.latency'],
    [[1], 'body'],
  ]
  for (const [body, field] of bad) {
    const res = await put(body)
    assert.equal(res.status, 400, JSON.stringify(body))
    const error = (await res.json()) as { field: string; code: string }
    assert.equal(error.field, field)
    assert.equal(error.code, 'NOTIFICATIONS_ERR_PROVIDER_INVALID_KNOB')
  }
  const now = (await (await fetch(url)).json()) as Record<string, unknown>
  assert.equal(now.errorRate, 0.5, 'a rejected PUT changes nothing')
  assert.throws(() => p.setKnobs('email', { errorRate: 2 }), /email\.errorRate/)
})

test('the admin log pages with after/limit, DELETE clears it, bad queries get 400', async (t) => {
  const p = await started(t)
  for (let i = 0; i < 5; i++) await post(p, 'sms-a', { ...message, body: `m${i}` }, `k-${i}`)
  const base = `${p.baseUrl('sms-a')}/admin/log`
  const page = (await (await fetch(`${base}?after=2&limit=2`)).json()) as {
    entries: Array<{ seq: number; body: string }>
    lastSeq: number
  }
  assert.deepEqual(
    page.entries.map((e) => [e.seq, e.body]),
    [
      [3, 'm2'],
      [4, 'm3'],
    ],
  )
  assert.equal(page.lastSeq, 5)
  for (const query of ['limit=0', 'limit=x', 'after=-1']) {
    const res = await fetch(`${base}?${query}`)
    assert.equal(res.status, 400)
    assert.equal(((await res.json()) as { field: string }).field, `query.${query.split('=')[0]}`)
  }
  assert.equal((await fetch(base, { method: 'DELETE' })).status, 204)
  assert.equal(p.log('sms-a').length, 0)
  assert.equal(p.stats('sms-a').accepted, 0)
  // Keys are forgotten too: the same key is a new send after a clear.
  await post(p, 'sms-a', message, 'k-0')
  assert.equal(p.stats('sms-a').accepted, 1)
  assert.equal(p.stats('sms-a').replayed, 0)
})

test('the webhook receiver records the body and whether the signature verifies', async (t) => {
  const secret = 'a-test-webhook-secret-0123'
  const p = await started(t, { webhookSecret: secret })
  const body = JSON.stringify({ id: 'd-1', text: 'hello' })
  const send = (signature: string) =>
    fetch(p.hookUrl('email'), {
      method: 'POST',
      headers: { ...json, 'faultline-signature': signature, 'faultline-delivery': 'd-1' },
      body,
    })
  assert.equal((await send(signPayload(secret, body))).status, 200)
  assert.equal((await send(signPayload('another-secret-entirely', body))).status, 200)
  const [good, forged] = p.hooks('email')
  assert.equal(good?.verified, true)
  assert.deepEqual(good?.body, { id: 'd-1', text: 'hello' })
  assert.equal(good?.raw, body)
  assert.equal(good?.deliveryId, 'd-1')
  assert.equal(forged?.verified, false)
  assert.equal(forged?.verifyReason, 'signature mismatch')
  assert.deepEqual(p.hookStats('email'), { received: 2, verified: 1, unverified: 1, duplicates: 1 })
})

test('metrics count each request once by outcome; reset restores the starting knobs', async (t) => {
  const p = await started(t, { knobs: { email: { errorRate: 1 } } })
  await post(p, 'email', { ...message, channel: 'email' })
  p.setKnobs('email', { errorRate: 0 })
  await post(p, 'email', { ...message, channel: 'email' })
  const metrics = (await p.app.inject('/metrics')).body
  assert.match(metrics, /notifications_provider_fake_requests_total\{provider="email",outcome="error"\} 1/)
  assert.match(metrics, /notifications_provider_fake_requests_total\{provider="email",outcome="accepted"\} 1/)
  p.reset()
  assert.equal(p.knobs('email').errorRate, 1)
  assert.equal(p.stats('email').requests, 0)
  await assert.rejects(startProviders({ knobs: { fax: {} } }), /fax/)
})

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

const serverEntry = fileURLToPath(new URL('../src/providers-server.ts', import.meta.url))

test('the process boots with PROVIDER_KNOBS, serves /healthz and the providers, and stops on SIGTERM', async (t) => {
  const port = await freePort()
  const child = spawn(process.execPath, [serverEntry], {
    env: {
      ...process.env,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      PROVIDER_KNOBS: '{"sms-b":{"retryAfterS":9}}',
    },
    stdio: 'inherit',
  })
  t.after(() => child.kill('SIGKILL'))
  const base = `http://127.0.0.1:${port}`
  let healthy = false
  for (let i = 0; i < 100 && !healthy; i++) {
    healthy = await fetch(`${base}/healthz`).then(
      (res) => res.ok,
      () => false,
    )
    if (!healthy) await sleep(100)
  }
  assert.ok(healthy, '/healthz answered 200')
  const knobs = (await (await fetch(`${base}/sms-b/admin/knobs`)).json()) as { retryAfterS: number }
  assert.equal(knobs.retryAfterS, 9)
  const sent = await fetch(`${base}/email/v1/messages`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ ...message, channel: 'email' }),
  })
  assert.equal(sent.status, 200)
  assert.equal((await fetch(`${base}/admin/mitigations`)).status, 200)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  assert.equal(code, 0)
})

test('the process refuses a bad PROVIDER_KNOBS at boot, naming it', async () => {
  const child = spawn(process.execPath, [serverEntry], {
    env: { ...process.env, PORT: '0', PROVIDER_KNOBS: '{"push":{"dropReplyRate":2}}' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const [code] = await once(child, 'exit')
  assert.equal(code, 1)
  assert.match(stderr, /PROVIDER_KNOBS: push\.dropReplyRate must be a number from 0 to 1/)
})
