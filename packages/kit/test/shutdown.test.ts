import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createService } from '../src/service.ts'
import { createShutdown, installGracefulShutdown } from '../src/shutdown.ts'
import { deferred } from './helpers.ts'

/** A listening app (port 0) whose GET /slow waits until the test releases it. */
async function slowApp(t: { after: (fn: () => unknown) => void }) {
  const app = createService({ name: 'test', level: 'silent' })
  const entered = deferred()
  const release = deferred()
  app.get('/slow', async () => {
    entered.resolve()
    await release.promise
    return { done: true }
  })
  app.get('/fast', async () => ({ done: true }))
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  return { app, address, entered, release }
}

test('SIGTERM: drain answers 503, the in-flight request completes, then closers run in order', async (t) => {
  const { app, address, entered, release } = await slowApp(t)
  const events: string[] = []
  const drain = deferred()
  const exited = deferred<number>()
  const shutdown = createShutdown({
    app,
    drainMs: 1,
    delay: () => drain.promise,
    deadlineMs: 10_000,
    exit: (code) => {
      events.push(`exit ${code}`)
      exited.resolve(code)
    },
    closers: [
      { name: 'consumer', close: async () => events.push('consumer') },
      { name: 'redis', close: async () => events.push('redis') },
      { name: 'postgres', close: () => events.push('postgres') },
    ],
  })

  const inFlight = fetch(`${address}/slow`)
  await entered.promise
  const done = shutdown.run('SIGTERM')
  assert.equal(shutdown.started, true)

  // Draining: still listening, but new requests and the probes are turned away.
  const refused = await fetch(`${address}/fast`)
  assert.equal(refused.status, 503)
  assert.equal(((await refused.json()) as { code: string }).code, 'KIT_ERR_SHUTTING_DOWN')
  assert.equal((await fetch(`${address}/healthz`)).status, 503)
  assert.equal((await fetch(`${address}/readyz`)).status, 503)

  drain.resolve()
  // app.close() waits for the in-flight request, so no closer may run before it is released.
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(events, [])
  release.resolve()

  const response = await inFlight
  assert.equal(response.status, 200)
  assert.deepEqual(await response.json(), { done: true })
  assert.equal(await exited.promise, 0)
  await done
  assert.deepEqual(events, ['consumer', 'redis', 'postgres', 'exit 0'])
  await assert.rejects(fetch(`${address}/fast`), 'the listener is closed')
})

test('a failing closer is logged, the next still runs, and the exit code is 1', async (t) => {
  const app = createService({ name: 'test', level: 'silent' })
  t.after(() => app.close())
  const events: string[] = []
  const errors: unknown[] = []
  const shutdown = createShutdown({
    app,
    log: { info: () => {}, warn: () => {}, error: (obj: unknown) => errors.push(obj) } as never,
    exit: (code) => events.push(`exit ${code}`),
    closers: [
      {
        name: 'consumer',
        close: async () => {
          throw new Error('broker gone')
        },
      },
      { name: 'postgres', close: async () => events.push('postgres') },
    ],
  })
  await shutdown.run('SIGTERM')
  assert.deepEqual(events, ['postgres', 'exit 1'])
  assert.equal(errors.length, 1)
})

test('the deadline forces exit 1 when a closer hangs', async (t) => {
  const app = createService({ name: 'test', level: 'silent' })
  t.after(() => app.close())
  const exited = deferred<number>()
  const codes: number[] = []
  const shutdown = createShutdown({
    app,
    deadlineMs: 30,
    exit: (code) => {
      codes.push(code)
      exited.resolve(code)
    },
    closers: [{ name: 'stuck-consumer', close: () => new Promise(() => {}) }],
  })
  void shutdown.run('SIGTERM')
  assert.equal(await exited.promise, 1)
  assert.deepEqual(codes, [1])
})

test('a second signal exits at once with 1', async (t) => {
  const app = createService({ name: 'test', level: 'silent' })
  t.after(() => app.close())
  const codes: number[] = []
  const stuck = deferred()
  const shutdown = createShutdown({
    app,
    deadlineMs: 60_000,
    exit: (code) => codes.push(code),
    closers: [{ name: 'slow-consumer', close: () => stuck.promise }],
  })
  const first = shutdown.run('SIGTERM')
  await shutdown.run('SIGINT')
  assert.deepEqual(codes, [1])
  stuck.resolve()
  await first
  assert.deepEqual(codes, [1], 'exit is called once')
})

test('installGracefulShutdown listens for the signals and uninstall removes the listeners', (t) => {
  const app = createService({ name: 'test', level: 'silent' })
  t.after(() => app.close())
  const before = process.listenerCount('SIGTERM')
  const shutdown = installGracefulShutdown({ app, closers: [] })
  assert.equal(process.listenerCount('SIGTERM'), before + 1)
  assert.equal(process.listenerCount('SIGINT') > 0, true)
  assert.equal(shutdown.started, false)
  shutdown.uninstall()
  assert.equal(process.listenerCount('SIGTERM'), before)
})
