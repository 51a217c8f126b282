// The click worker as the lab runs it: its own process, given a PORT, against real Kafka and
// Postgres. It must answer the probes, expose its counters and switches there, and leave its group
// and exit 0 on SIGTERM.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createKafka, disconnectProducer, getProducer } from '@faultline/kit/clients'
import { encodeClickBatch } from '../src/clicks/batch.ts'
import { eventually, harness } from './helpers.ts'

const workerEntry = fileURLToPath(new URL('../src/worker.ts', import.meta.url))

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

async function get(url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    return { status: res.status, text: await res.text() }
  } catch (err) {
    return { status: 0, text: String(err) }
  }
}

/** The sum of every series of `name` in a Prometheus text scrape (0 when absent). */
function sample(scrape: string, name: string): number {
  let sum = 0
  for (const m of scrape.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1])
  return sum
}

test('the worker serves /healthz /readyz /metrics /admin/mitigations on PORT and exits 0 on SIGTERM', async (t) => {
  const h = await harness(t, { kafka: true })
  const topic = await h.infra.createTopic('clicks', 1)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const logs: string[] = []
  const child: ChildProcess = spawn(process.execPath, [workerEntry], {
    env: {
      ...h.env,
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      // The older name must lose to PORT (compose sets both).
      WORKER_METRICS_PORT: String(port === 65_535 ? port - 1 : port + 1),
      INSTANCE_ID: `worker-test-${randomUUID().slice(0, 8)}`,
      CLICKS_TOPIC: topic,
      CLICKS_GROUP_ID: `test-${randomUUID()}`,
      MITIGATION_CLICK_SPOOL: 'false',
      SHUTDOWN_DEADLINE_MS: '15000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (chunk: Buffer) => logs.push(String(chunk)))
  child.stderr?.on('data', (chunk: Buffer) => logs.push(String(chunk)))
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  h.infra.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const kafka = createKafka({ brokers: h.infra.urls.kafkaBrokers, clientId: `worker-test-${randomUUID()}` })
  h.infra.defer(() => disconnectProducer(kafka))
  const why = () => logs.join('').slice(-3000)

  await eventually(
    'the worker answers /healthz on PORT',
    async () => (await get(`${base}/healthz`)).status === 200,
  )
  await eventually(
    'the worker is ready (its consumer joined the group)',
    async () => (await get(`${base}/readyz`)).status === 200,
    45_000,
  ).catch((err: Error) => assert.fail(`${err.message}\n${why()}`))
  const ready = JSON.parse((await get(`${base}/readyz`)).text)
  assert.deepEqual(Object.keys(ready.checks).sort(), ['consumer', 'started'])

  // A click batch reaches the worker's counters on its /metrics, and Postgres.
  const producer = await getProducer(kafka)
  const now = Date.now()
  await producer.send({
    topic,
    messages: [
      encodeClickBatch({ producer: randomUUID(), firstSeq: 1, codes: ['wrk1', 'wrk1'], ts: [now, now] }),
    ],
  })
  await eventually('the worker counted the batch', async () => {
    const scrape = (await get(`${base}/metrics`)).text
    return sample(scrape, 'shortener_clicks_counted_total') === 2
  })
  const scrape = (await get(`${base}/metrics`)).text
  assert.equal(sample(scrape, 'shortener_clicks_consumed_total'), 2)
  assert.match(
    scrape,
    /^faultline_mitigation_enabled\{switch="clickSpool",service="shortener-worker",[^}]*\} 0$/m,
  )
  const counted = await h.db.query<{ count: string }>(`SELECT count FROM link_clicks WHERE code = 'wrk1'`)
  assert.equal(counted.rows[0]?.count, '2')

  // The switches: the env's value, flippable the same way as on the API.
  const switches = JSON.parse((await get(`${base}/admin/mitigations`)).text)
  assert.equal(switches.clickSpool, false)
  const put = await fetch(`${base}/admin/mitigations`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ clickSpool: true }),
  })
  assert.equal(put.status, 200)
  assert.equal(((await put.json()) as { clickSpool: boolean }).clickSpool, true)

  child.kill('SIGTERM')
  const [code, signal] = await exited
  assert.equal(signal, null, why())
  assert.equal(code, 0, why())
  const lines = logs
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string })
    .map((line) => line.msg)
  assert.ok(lines.includes('shutting down'), why())
  assert.ok(lines.includes('shut down'), why())
  assert.ok(!lines.includes('shutdown deadline passed, exiting'), why())
})
