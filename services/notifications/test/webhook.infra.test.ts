/**
 * The webhook client against a real HTTP receiver (node:http on 127.0.0.1, a free port): what it
 * sends, what the SSRF guard refuses, and how each failure is classified. No shared
 * infrastructure: it needs no lock.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import { createMitigationState } from '../src/mitigations.ts'
import type { OutgoingDelivery } from '../src/sender/process-delivery.ts'
import { verifySignature } from '../src/webhook/sign.ts'
import { postWebhook, type WebhookPayload } from '../src/webhook/webhook-client.ts'
import { createWebhookSender } from '../src/webhook/webhook-sender.ts'

const secret = 'webhook-test-secret-0123456789'

interface Received {
  headers: IncomingMessage['headers']
  body: string
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

async function receiver(t: TestContext, handler: Handler): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      received.push({ headers: req.headers, body })
      handler(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { port: (server.address() as AddressInfo).port, received }
}

const payload = (id: string): WebhookPayload => ({
  id,
  notificationId: '7b2d3a34-1a8c-4a5e-9c57-6a4c1f6a0c11',
  template: 'welcome',
  category: 'account',
  text: 'welcome <Ada>',
  data: { name: '<Ada>' },
})

const options = (port: number, extra: Partial<Parameters<typeof postWebhook>[2]> = {}) => ({
  idempotencyKey: 'delivery-1-webhook',
  deliveryId: 'delivery-1-webhook',
  secret,
  timeoutMs: 2000,
  allowlist: [`127.0.0.1:${port}`],
  ...extra,
})

test('an allow-listed receiver gets the signed JSON with the Idempotency-Key; its messageId is kept', async (t) => {
  const r = await receiver(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ messageId: 'm-42' }))
  })
  const result = await postWebhook(
    `http://127.0.0.1:${r.port}/hook`,
    payload('delivery-1-webhook'),
    options(r.port),
  )
  assert.deepEqual(result, { kind: 'ok', status: 200, messageId: 'm-42' })
  assert.equal(r.received.length, 1)
  const got = r.received[0] as Received
  assert.equal(got.headers['idempotency-key'], 'delivery-1-webhook')
  assert.equal(got.headers['faultline-delivery'], 'delivery-1-webhook')
  assert.equal(got.headers['content-type'], 'application/json')
  assert.deepEqual(JSON.parse(got.body), payload('delivery-1-webhook'))
  const verified = verifySignature(secret, got.body, got.headers['faultline-signature'] as string)
  assert.equal(verified.ok, true)
  assert.equal(
    verifySignature('some-other-secret-value', got.body, got.headers['faultline-signature'] as string).ok,
    false,
  )
})

test('the same receiver NOT allow-listed is refused before any connection', async (t) => {
  const r = await receiver(t, (_req, res) => res.end('{}'))
  const url = `http://127.0.0.1:${r.port}/hook`
  const refused = await postWebhook(url, payload('d-2'), options(r.port, { allowlist: [] }))
  assert.equal(refused.kind, 'refused')
  assert.equal(refused.kind === 'refused' && refused.addressClass, 'loopback')
  const otherPort = await postWebhook(
    url,
    payload('d-2'),
    options(r.port, { allowlist: [`127.0.0.1:${r.port + 1}`] }),
  )
  assert.equal(otherPort.kind, 'refused')
  const mapped = await postWebhook(
    `http://[::ffff:127.0.0.1]:${r.port}/`,
    payload('d-2'),
    options(r.port, { allowlist: [] }),
  )
  assert.equal(mapped.kind, 'refused')
  const decimal = await postWebhook(
    `http://2130706433:${r.port}/`,
    payload('d-2'),
    options(r.port, { allowlist: [] }),
  )
  assert.equal(decimal.kind, 'refused')
  assert.equal(r.received.length, 0)
})

test('a hostname that resolves to 127.0.0.1 (localhost, or any name a hostile DNS points there) is refused', async (t) => {
  const r = await receiver(t, (_req, res) => res.end('{}'))
  const viaLocalhost = await postWebhook(
    `http://localhost:${r.port}/hook`,
    payload('d-3'),
    options(r.port, { allowlist: [] }),
  )
  assert.equal(viaLocalhost.kind, 'refused')
  // A name the system resolver knows nothing of, answered as a rebinding attacker's DNS would.
  const lookup = async () => [{ address: '127.0.0.1', family: 4 }]
  const viaName = await postWebhook(
    `http://evil.test:${r.port}/`,
    payload('d-3'),
    options(r.port, { allowlist: [], lookup }),
  )
  assert.equal(viaName.kind, 'refused')
  assert.match(
    viaName.kind === 'refused' ? viaName.reason : '',
    /evil\.test resolves to 127\.0\.0\.1: loopback/,
  )
  assert.equal(r.received.length, 0)
})

test('the connection goes to the checked address, never a second resolution', async (t) => {
  const r = await receiver(t, (_req, res) => res.end('{"messageId":"pinned"}'))
  // `pinned.test` does not exist for the system resolver: only the checked answer can reach the receiver.
  let lookups = 0
  const lookup = async () => {
    lookups++
    return [{ address: '127.0.0.1', family: 4 }]
  }
  const result = await postWebhook(
    `http://pinned.test:${r.port}/hook`,
    payload('d-4'),
    options(r.port, { lookup }),
  )
  assert.deepEqual(result, { kind: 'ok', status: 200, messageId: 'pinned' })
  assert.equal(lookups, 1)
  assert.equal(r.received[0]?.headers.host, `pinned.test:${r.port}`)
})

test('a reply later than the deadline is an ambiguous timeout (the receiver did get it)', async (t) => {
  const r = await receiver(t, (_req, res) => {
    setTimeout(() => res.end('{}'), 1500).unref()
  })
  const result = await postWebhook(
    `http://127.0.0.1:${r.port}/`,
    payload('d-5'),
    options(r.port, { timeoutMs: 200 }),
  )
  assert.equal(result.kind, 'timeout')
  assert.equal(r.received.length, 1)
})

test('a connection dropped after the request is ambiguous; a refused connection is a definite error', async (t) => {
  const r = await receiver(t, (req) => req.socket.destroy())
  const dropped = await postWebhook(`http://127.0.0.1:${r.port}/`, payload('d-6'), options(r.port))
  assert.equal(dropped.kind, 'timeout')
  assert.match(dropped.kind === 'timeout' ? dropped.detail : '', /connection lost/)
  // A port nothing listens on: take one from a closed server.
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const refused = await postWebhook(`http://127.0.0.1:${port}/`, payload('d-6'), options(port))
  assert.deepEqual(refused, { kind: 'error', definite: true, detail: 'connection failed: ECONNREFUSED' })
})

test('5xx and 4xx are definite errors, 429 is rate_limited with its Retry-After', async (t) => {
  let reply: [number, Record<string, string>] = [503, {}]
  const r = await receiver(t, (_req, res) => {
    res.writeHead(reply[0], reply[1])
    res.end('nope')
  })
  const url = `http://127.0.0.1:${r.port}/`
  assert.deepEqual(await postWebhook(url, payload('d-7'), options(r.port)), {
    kind: 'error',
    status: 503,
    definite: true,
    detail: 'HTTP 503',
  })
  reply = [410, {}]
  const gone = await postWebhook(url, payload('d-7'), options(r.port))
  assert.equal(gone.kind === 'error' && gone.status, 410)
  reply = [429, { 'retry-after': '3' }]
  assert.deepEqual(await postWebhook(url, payload('d-7'), options(r.port)), {
    kind: 'rate_limited',
    retryAfterMs: 3000,
    detail: 'HTTP 429',
  })
})

test('a redirect is not followed, even to an allow-listed address', async (t) => {
  const target = await receiver(t, (_req, res) => res.end('{}'))
  const r = await receiver(t, (_req, res) => {
    res.writeHead(307, { location: `http://127.0.0.1:${target.port}/` })
    res.end()
  })
  const allowlist = [`127.0.0.1:${r.port}`, `127.0.0.1:${target.port}`]
  const result = await postWebhook(
    `http://127.0.0.1:${r.port}/`,
    payload('d-8'),
    options(r.port, { allowlist }),
  )
  assert.equal(result.kind, 'error')
  assert.equal(result.kind === 'error' && result.status, 307)
  assert.equal(target.received.length, 0)
})

test('an endless reply body is read up to the cap and dropped, the 2xx still counts', async (t) => {
  const chunk = Buffer.alloc(16 * 1024, 'x')
  const r = await receiver(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) {}
      if (!res.destroyed) res.once('drain', pump)
    }
    pump()
  })
  const result = await postWebhook(
    `http://127.0.0.1:${r.port}/`,
    payload('d-9'),
    options(r.port, { timeoutMs: 5000 }),
  )
  assert.deepEqual(result, { kind: 'ok', status: 200, messageId: null })
})

test('a DNS failure is a definite error, not a refusal (the name may resolve later)', async (t) => {
  const r = await receiver(t, (_req, res) => res.end('{}'))
  const lookup = async () => {
    throw Object.assign(new Error('getaddrinfo ENOTFOUND gone.test'), { code: 'ENOTFOUND' })
  }
  const result = await postWebhook(
    `http://gone.test:${r.port}/`,
    payload('d-10'),
    options(r.port, { lookup }),
  )
  assert.deepEqual(result, { kind: 'error', definite: true, detail: 'resolution failed: ENOTFOUND' })
})

const outgoing = (to: string): OutgoingDelivery => ({
  deliveryId: '7b2d3a34-1a8c-4a5e-9c57-6a4c1f6a0c11-webhook',
  channel: 'webhook',
  to,
  rendered: { channel: 'webhook', text: 'welcome Ada', body: 'welcome Ada' },
  notification: {
    id: '7b2d3a34-1a8c-4a5e-9c57-6a4c1f6a0c11',
    recipientId: 'r-1',
    template: 'welcome',
    data: { name: 'Ada' },
    channels: ['webhook'],
    category: 'account',
    priority: 'normal',
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-02T00:00:00.000Z',
  },
})

test('the channel sender posts the delivery, counts the attempt, and obeys providerIdempotencyKey', async (t) => {
  const r = await receiver(t, (_req, res) => res.end('{"messageId":"w-1"}'))
  const switches = createMitigationState()
  const counted: string[] = []
  const send = createWebhookSender({
    secret,
    timeoutMs: 2000,
    allowlist: [`127.0.0.1:${r.port}`],
    switches,
    onRequest: (provider, result) => counted.push(`${provider}:${result}`),
  })
  const d = outgoing(`http://127.0.0.1:${r.port}/hook`)
  assert.deepEqual(await send(d), { kind: 'ok', provider: 'webhook', messageId: 'w-1' })
  const first = r.received[0] as Received
  assert.equal(first.headers['idempotency-key'], d.deliveryId)
  assert.deepEqual(JSON.parse(first.body), {
    id: d.deliveryId,
    notificationId: d.notification.id,
    template: 'welcome',
    category: 'account',
    text: 'welcome Ada',
    data: { name: 'Ada' },
  })
  switches.update({ providerIdempotencyKey: false })
  await send(d)
  assert.equal((r.received[1] as Received).headers['idempotency-key'], undefined)
  assert.equal((r.received[1] as Received).headers['faultline-delivery'], d.deliveryId)
  const refused = await send(outgoing('http://169.254.169.254/latest/meta-data/'))
  assert.equal(refused.kind, 'refused')
  assert.match(refused.kind === 'refused' ? refused.detail : '', /metadata/)
  assert.deepEqual(counted, ['webhook:ok', 'webhook:ok', 'webhook:refused'])
})
