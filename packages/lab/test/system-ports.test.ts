/**
 * `./faultline up` takes every process's port from `systemPorts`, and turns a key that names no
 * process (the ratelimiter's `grpc`) into `<KEY>_PORT` for the system's processes, so a second
 * listener has one fixed host port without a system-specific line in the lab.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { systemPorts } from '@faultline/infra'
import { defineSystem } from '../src/system.ts'
import { extraPortEnv, systemProcesses } from '../src/systems/processes.ts'
import { selftestSwitches } from './fixtures/selftest.system.ts'

const ratelimiterLike = defineSystem({
  name: 'ratelimiter',
  switches: selftestSwitches,
  services: {
    api: { entry: 'packages/lab/test/fixtures/selftest-service.ts', role: 'http' },
    gateway: { entry: 'packages/lab/test/fixtures/selftest-service.ts', role: 'http' },
  },
})

test('a systemPorts key that names no process becomes <KEY>_PORT', () => {
  assert.deepEqual(extraPortEnv(ratelimiterLike), { GRPC_PORT: String(systemPorts.ratelimiter.grpc) })
})

test('a system whose keys are all processes gets no extra variables', () => {
  const shortenerLike = defineSystem({
    name: 'shortener',
    switches: selftestSwitches,
    services: {
      api: { entry: 'packages/lab/test/fixtures/selftest-service.ts', role: 'http' },
      worker: { entry: 'packages/lab/test/fixtures/selftest-service.ts', role: 'worker' },
    },
  })
  assert.deepEqual(extraPortEnv(shortenerLike), {})
})

test('each process listens on its own port; the extra port is not one of them', () => {
  const processes = systemProcesses(ratelimiterLike)
  assert.deepEqual(
    processes.map((p) => [p.service, p.port]),
    [
      ['api', systemPorts.ratelimiter.api],
      ['gateway', systemPorts.ratelimiter.gateway],
    ],
  )
})
