import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defaultWorkerPort, loadConfig } from '../src/config.ts'

test('the worker listens on PORT, else on the older WORKER_METRICS_PORT, else next to the API', () => {
  assert.equal(loadConfig({}).workerPort, defaultWorkerPort)
  assert.notEqual(
    defaultWorkerPort,
    loadConfig({}).port,
    'a worker and an API started by hand do not collide',
  )
  assert.equal(loadConfig({ WORKER_METRICS_PORT: '9100' }).workerPort, 9100)
  assert.equal(loadConfig({ WORKER_METRICS_PORT: '0' }).workerPort, defaultWorkerPort, '0 used to mean off')
  assert.equal(
    loadConfig({ PORT: '4000', WORKER_METRICS_PORT: '9100' }).workerPort,
    4000,
    'the lab gives PORT',
  )
  assert.equal(loadConfig({ PORT: ' ' }).workerPort, defaultWorkerPort, 'a blank PORT is unset')
})
