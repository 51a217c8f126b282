/**
 * Against the real Toxiproxy at TOXIPROXY_URL (default: the native infra's API on 8474). Each test
 * file creates its own throwaway proxy in front of its own echo server, so the topology's proxies
 * (redis-cache, postgres …) that other tests go through are never touched.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { latency, type ProxyInfo, ToxiproxyClient, ToxiproxyRequestError, timeout } from '../src/index.ts'

const client = new ToxiproxyClient()
const proxyName = `fl-test-${randomBytes(4).toString('hex')}`
let echo: net.Server
const echoSockets = new Set<net.Socket>()
let proxy: ProxyInfo

function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1))
}

/** Sends a line through the proxy and resolves with the elapsed milliseconds once it is echoed back. */
async function roundTripMs(port: number): Promise<number> {
  const started = performance.now()
  const socket = net.connect({ host: '127.0.0.1', port })
  try {
    await once(socket, 'connect')
    socket.write('ping\n')
    let received = ''
    for await (const chunk of socket) {
      received += String(chunk)
      if (received.includes('\n')) break
    }
    assert.equal(received, 'ping\n')
    return performance.now() - started
  } finally {
    socket.destroy()
  }
}

function connectError(port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(undefined)
    })
    socket.once('error', (err) => resolve(err))
  })
}

before(async () => {
  echo = net.createServer((socket) => {
    echoSockets.add(socket)
    socket.on('close', () => echoSockets.delete(socket))
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  echo.listen(0, '127.0.0.1')
  await once(echo, 'listening')
  const address = echo.address() as net.AddressInfo
  proxy = await client.createProxy({
    name: proxyName,
    listen: '127.0.0.1:0',
    upstream: `127.0.0.1:${address.port}`,
  })
})

after(async () => {
  await client.deleteProxy(proxyName).catch(() => {})
  for (const socket of echoSockets) socket.destroy()
  await new Promise((resolve) => echo.close(resolve))
})

test('the proxy passes data through with no toxic', async () => {
  assert.equal(typeof (await client.version()), 'string')
  assert.ok(portOf(proxy.listen) > 0)
  await roundTripMs(portOf(proxy.listen))
  assert.deepEqual(await client.toxics(proxyName), [])
})

test('a latency toxic makes a round trip take at least the latency', async () => {
  const latencyMs = 300
  await client.withToxic(proxyName, latency({ latencyMs }), async () => {
    const elapsedMs = await roundTripMs(portOf(proxy.listen))
    assert.ok(elapsedMs >= latencyMs, `round trip took ${elapsedMs} ms, expected ≥ ${latencyMs} ms`)
  })
})

test('withToxic removes the toxic after fn returns, and returns its value', async () => {
  const value = await client.withToxic(
    proxyName,
    latency({ latencyMs: 10, stream: 'upstream' }),
    async (toxic) => {
      assert.equal(toxic.type, 'latency')
      assert.equal(toxic.stream, 'upstream')
      const names = (await client.toxics(proxyName)).map((t) => t.name)
      assert.deepEqual(names, [toxic.name])
      return 42
    },
  )
  assert.equal(value, 42)
  assert.deepEqual(await client.toxics(proxyName), [])
})

test('withToxic removes the toxic even when fn throws', async () => {
  let seen: string | undefined
  await assert.rejects(
    client.withToxic(proxyName, timeout({ timeoutMs: 0, toxicity: 0.5 }), async (toxic) => {
      seen = toxic.name
      assert.equal((await client.toxics(proxyName)).length, 1)
      throw new Error('boom')
    }),
    /boom/,
  )
  assert.ok(seen)
  assert.deepEqual(await client.toxics(proxyName), [])
})

test('withToxic tolerates a toxic that fn already removed', async () => {
  await client.withToxic(proxyName, latency({ latencyMs: 5 }), async (toxic) => {
    await client.removeToxic(proxyName, toxic.name)
  })
  assert.deepEqual(await client.toxics(proxyName), [])
})

test('updateToxic merges attributes; a missing toxic is a 404 ToxiproxyRequestError', async () => {
  const name = 'fl_latency_update'
  await client.withToxic(proxyName, latency({ latencyMs: 50, jitterMs: 5, name }), async () => {
    const updated = await client.updateToxic<'latency'>(proxyName, name, { attributes: { latency: 80 } })
    assert.deepEqual(updated.attributes, { latency: 80, jitter: 5 })
    assert.equal(updated.toxicity, 1)
  })
  await assert.rejects(client.removeToxic(proxyName, name), (err) => {
    assert.ok(err instanceof ToxiproxyRequestError)
    assert.equal(err.status, 404)
    assert.equal(err.code, 'TOXIPROXY_ERR_REQUEST')
    return true
  })
})

test('a disabled proxy refuses connections and enabling it restores them', async () => {
  const port = portOf(proxy.listen)
  const disabled = await client.disableProxy(proxyName)
  try {
    assert.equal(disabled.enabled, false)
    const err = await connectError(port)
    assert.equal(err?.code, 'ECONNREFUSED')
  } finally {
    const enabled = await client.enableProxy(proxyName)
    assert.equal(enabled.enabled, true)
  }
  assert.equal(await connectError(port), undefined)
  await roundTripMs(port)
})

test('withProxyDisabled re-enables the proxy even when fn throws', async () => {
  const port = portOf(proxy.listen)
  await assert.rejects(
    client.withProxyDisabled(proxyName, async () => {
      assert.equal((await connectError(port))?.code, 'ECONNREFUSED')
      throw new Error('boom')
    }),
    /boom/,
  )
  assert.equal((await client.proxy(proxyName)).enabled, true)
  await roundTripMs(port)
})
