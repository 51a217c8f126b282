import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createMetrics } from '../src/metrics.ts'
import { createService } from '../src/service.ts'

test('/metrics has the request histogram by method, route template and status after a request', async (t) => {
  const app = createService({ name: 'test', level: 'silent' })
  t.after(() => app.close())
  app.get('/links/:code', async () => ({ ok: true }))

  assert.equal((await app.inject('/links/abc123')).statusCode, 200)
  assert.equal((await app.inject('/nowhere/at/all')).statusCode, 404)

  const res = await app.inject('/metrics')
  assert.equal(res.statusCode, 200)
  assert.match(res.headers['content-type'] as string, /^text\/plain/)
  const text = res.body
  assert.match(text, /# TYPE http_request_duration_seconds histogram/)
  assert.match(
    text,
    /http_request_duration_seconds_count\{method="GET",route="\/links\/:code",status_code="200"\} 1/,
  )
  assert.match(
    text,
    /http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1/,
  )
  assert.doesNotMatch(text, /abc123|nowhere/, 'raw URLs never become labels')
  assert.match(text, /process_cpu_user_seconds_total/, 'default process metrics')
})

test('each app has its own registry, so many apps live in one process', async (t) => {
  const first = createService({
    name: 'a',
    level: 'silent',
    metrics: createMetrics({ defaultMetrics: false }),
  })
  const second = createService({
    name: 'b',
    level: 'silent',
    metrics: createMetrics({ defaultMetrics: false }),
  })
  t.after(() => Promise.all([first.close(), second.close()]))
  await first.inject('/healthz')
  const secondText = (await second.inject('/metrics')).body
  assert.doesNotMatch(secondText, /route="\/healthz"/)
  assert.match((await first.inject('/metrics')).body, /route="\/healthz"/)
})

test('custom metrics register on the app registry, once per name', async (t) => {
  const app = createService({
    name: 'test',
    level: 'silent',
    metrics: createMetrics({ defaultMetrics: false }),
  })
  t.after(() => app.close())
  const hits = app.metrics.counter({ name: 'cache_hits_total', help: 'cache hits', labelNames: ['layer'] })
  assert.equal(
    app.metrics.counter({ name: 'cache_hits_total', help: 'cache hits', labelNames: ['layer'] }),
    hits,
  )
  hits.inc({ layer: 'redis' }, 3)
  assert.match((await app.inject('/metrics')).body, /cache_hits_total\{layer="redis"\} 3/)
})
