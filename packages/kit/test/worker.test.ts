import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createMetrics } from '../src/metrics.ts'
import { defineSwitches, SwitchState } from '../src/switches.ts'
import { bullmqWorkerReadinessCheck, runWorker, type WorkerOptions } from '../src/worker.ts'
import { captureLogger, deferred } from './helpers.ts'

const switches = defineSwitches({
  batchWrites: { description: 'writes go to the database in batches', default: true, defends: ['pm06'] },
})

/** A worker on a free port whose shutdown reports its exit code instead of ending the test process. */
async function start(
  t: { after: (fn: () => unknown) => void },
  overrides: Partial<WorkerOptions<string>> = {},
) {
  const { log, lines } = captureLogger()
  const exited = deferred<number>()
  const worker = await runWorker({
    name: 'toy-worker',
    log,
    port: 0,
    signals: [],
    handleErrors: false,
    exit: (code) => exited.resolve(code),
    deadlineMs: 5000,
    start: async () => {},
    stop: async () => {},
    ...overrides,
  })
  t.after(async () => {
    worker.shutdown.uninstall()
    await worker.app.close()
  })
  const get = async (path: string) => {
    const res = await fetch(worker.url + path)
    return { status: res.status, text: await res.text() }
  }
  return { worker, exited: exited.promise, lines, get }
}

test('serves /healthz at once, and /readyz once start resolved and every check passes', async (t) => {
  const running = deferred()
  let consumerJoined = false
  const { worker, get } = await start(t, {
    start: () => running.promise,
    readiness: {
      consumer: async () => {
        if (!consumerJoined) throw new Error('consumer has not joined its group yet')
      },
    },
  })
  assert.equal((await get('/healthz')).status, 200, 'live while it still waits for its broker')
  const starting = await get('/readyz')
  assert.equal(starting.status, 503)
  assert.deepEqual(JSON.parse(starting.text).failing, ['started', 'consumer'])
  assert.match(starting.text, /worker starting/)

  running.resolve()
  assert.equal(await worker.started, true)
  assert.deepEqual(JSON.parse((await get('/readyz')).text).failing, ['consumer'])
  consumerJoined = true
  assert.equal((await get('/readyz')).status, 200)
})

test("serves the worker's metrics and the switches, with their gauge", async (t) => {
  const metrics = createMetrics({ defaultMetrics: false })
  const processed = metrics.counter({ name: 'toy_jobs_processed_total', help: 'jobs done' })
  const state = new SwitchState(switches)
  const { get, worker } = await start(t, {
    metrics,
    switches: { state, adminToken: 't0ken' },
    start: async () => {
      processed.inc(3)
    },
  })
  await worker.started
  const scrape = (await get('/metrics')).text
  assert.match(scrape, /^toy_jobs_processed_total 3$/m)
  assert.match(scrape, /^faultline_mitigation_enabled\{switch="batchWrites"\} 1$/m)

  assert.equal((await get('/admin/mitigations')).status, 401)
  const put = await fetch(`${worker.url}/admin/mitigations`, {
    method: 'PUT',
    headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' },
    body: JSON.stringify({ batchWrites: false }),
  })
  assert.equal(put.status, 200)
  assert.equal(state.current.batchWrites, false)
  assert.match((await get('/metrics')).text, /^faultline_mitigation_enabled\{switch="batchWrites"\} 0$/m)
})

test('shutdown: probes fail, the listener closes, then stop, then the closers; exit 0', async (t) => {
  const order: string[] = []
  let url = ''
  const listenerClosed = async () => {
    try {
      await fetch(`${url}/healthz`)
      return false
    } catch {
      return true
    }
  }
  const { worker, exited, get } = await start(t, {
    drainMs: 50,
    stop: async () => {
      order.push(`stop (listener closed: ${await listenerClosed()})`)
    },
    closers: [
      { name: 'postgres', close: () => order.push('postgres') },
      { name: 'redis', close: () => order.push('redis') },
    ],
  })
  url = worker.url
  await worker.started
  assert.equal((await get('/readyz')).status, 200)
  const shutdown = worker.shutdown.run('test')
  // Within the drain, the process still listens but both probes say no.
  assert.equal((await get('/readyz')).status, 503)
  assert.equal((await get('/healthz')).status, 503)
  await shutdown
  assert.equal(await exited, 0)
  assert.deepEqual(order, ['stop (listener closed: true)', 'postgres', 'redis'])
})

test('shutdown while start still waits: the signal aborts it, stop still runs, exit 0', async (t) => {
  let sawAbort = false
  const stopped: string[] = []
  const { worker, exited, get } = await start(t, {
    start: (signal) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          sawAbort = true
          reject(signal.reason)
        })
      }),
    stop: () => stopped.push('stop'),
  })
  assert.equal((await get('/readyz')).status, 503)
  await worker.shutdown.run('test')
  assert.equal(await exited, 0)
  assert.equal(await worker.started, false)
  assert.ok(sawAbort)
  assert.deepEqual(stopped, ['stop'])
})

test('a start that fails shuts the worker down with exit 1', async (t) => {
  const { worker, exited, lines } = await start(t, {
    start: async () => {
      throw new Error('topic clicks does not exist')
    },
  })
  assert.equal(await worker.started, false)
  assert.equal(await exited, 1)
  const logged = lines().find((line) => line.msg === 'worker failed to start')
  assert.match((logged?.err as { message: string }).message, /topic clicks/)
})

test('a stop that hangs past the deadline exits 1', async (t) => {
  const { worker, exited } = await start(t, {
    deadlineMs: 100,
    stop: () => new Promise(() => {}),
  })
  await worker.started
  void worker.shutdown.run('test')
  assert.equal(await exited, 1)
})

test('the BullMQ readiness check follows isRunning and isPaused', async () => {
  const worker = {
    running: false,
    paused: false,
    isRunning() {
      return this.running
    },
    isPaused() {
      return this.paused
    },
  }
  const check = bullmqWorkerReadinessCheck(worker)
  const signal = new AbortController().signal
  await assert.rejects(check(signal), /not running/)
  worker.running = true
  await check(signal)
  worker.paused = true
  await assert.rejects(check(signal), /paused/)
})
