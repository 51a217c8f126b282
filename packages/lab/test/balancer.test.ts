import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, test } from 'node:test'
import { Balancer, noReadyInstanceCode } from '../src/balancer.ts'

interface Backend {
  name: string
  url: string
  ready: boolean
  hits: number
  server: Server
}

async function backend(name: string): Promise<Backend> {
  const b = { name, url: '', ready: true, hits: 0 } as Backend
  b.server = createServer((req, res) => {
    if (req.url === '/readyz') {
      res.writeHead(b.ready ? 200 : 503)
      return res.end()
    }
    b.hits++
    res.writeHead(200, { 'x-backend': name })
    res.end(name)
  })
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r))
  b.url = `http://127.0.0.1:${(b.server.address() as AddressInfo).port}`
  return b
}

const backends = await Promise.all([backend('a'), backend('b')])
const balancer = new Balancer({ targets: () => backends, readyPath: '/readyz', intervalMs: 50 })
const url = await balancer.start()

after(async () => {
  await balancer.stop()
  for (const b of backends) {
    b.server.closeAllConnections()
    b.server.close()
  }
})

async function hit(): Promise<{ status: number; from: string | null }> {
  const res = await fetch(`${url}/x`)
  await res.text()
  return { status: res.status, from: res.headers.get('x-backend') }
}

/**
 * Wait until the balancer's view of which instances are ready is `names`: the test waits for the
 * poll it depends on to have happened, not for a time a busy machine may overrun.
 */
async function readyAre(...names: string[]): Promise<void> {
  const current = () =>
    balancer
      .readyTargets()
      .map((t) => t.name)
      .sort()
  // The deadline only turns a balancer that never sees the change into a failure instead of a hang.
  const deadline = performance.now() + 10_000
  while (current().join() !== names.sort().join()) {
    if (performance.now() > deadline)
      throw new Error(`the balancer still sees [${current().join()}] as ready, expected [${names.join()}]`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

test('round-robins over ready instances', async () => {
  const seen = new Set<string | null>()
  for (let i = 0; i < 6; i++) seen.add((await hit()).from)
  assert.deepEqual([...seen].sort(), ['a', 'b'])
})

test('an instance that reports not ready gets no traffic', async () => {
  ;(backends[0] as Backend).ready = false
  await readyAre('b')
  for (let i = 0; i < 6; i++) assert.equal((await hit()).from, 'b')
  ;(backends[0] as Backend).ready = true
  await readyAre('a', 'b')
})

test('with no ready instance the balancer answers 503 itself', async () => {
  for (const b of backends) b.ready = false
  await readyAre()
  const res = await fetch(`${url}/x`)
  assert.equal(res.status, 503)
  assert.deepEqual(await res.json(), { error: noReadyInstanceCode })
  assert.ok(balancer.rejected >= 1)
  for (const b of backends) b.ready = true
  await readyAre('a', 'b')
  assert.equal((await hit()).status, 200)
})

/** A balancer over [an instance that dies after the first poll, a live one]: its first request goes to the dead one. */
async function afterDeath(): Promise<{
  base: string
  alive: Backend
  lb: Balancer
  done: () => Promise<void>
}> {
  const [dying, alive] = await Promise.all([backend('dying'), backend('alive')])
  // A poll interval longer than the test: only the refused connection can tell it the instance is gone.
  const lb = new Balancer({ targets: () => [dying, alive], readyPath: '/readyz', intervalMs: 60_000 })
  const base = await lb.start()
  dying.server.closeAllConnections()
  await new Promise<void>((r) => dying.server.close(() => r()))
  const done = async () => {
    await lb.stop()
    alive.server.closeAllConnections()
    alive.server.close()
  }
  return { base, alive, lb, done }
}

test('a GET refused by an instance that died is sent to the next ready one, which then gets them all', async () => {
  const { base, alive, lb, done } = await afterDeath()
  try {
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base}/x`)
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'alive')
    }
    assert.equal(alive.hits, 4)
    assert.deepEqual(
      lb.readyTargets().map((t) => t.name),
      ['alive'],
    )
  } finally {
    await done()
  }
})

test('a POST refused by an instance that died is not replayed elsewhere: 502', async () => {
  const { base, alive, done } = await afterDeath()
  try {
    const res = await fetch(`${base}/x`, { method: 'POST', body: 'x' })
    assert.equal(res.status, 502)
    assert.equal(alive.hits, 0)
  } finally {
    await done()
  }
})
