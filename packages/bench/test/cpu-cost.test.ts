import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cpuMicrosPerRequest, formatCpuCost } from '../src/cpu-cost.ts'

test('µs of CPU per request: cores ÷ req/s, averaged over runs, per part', () => {
  const micros = cpuMicrosPerRequest([
    { rps: 10_000, cores: { server: 0.5, k6: 0.7, machine: 1.8 } },
    { rps: 5_000, cores: { server: 0.3, k6: null, machine: 1.0 } },
  ])
  assert.equal(micros.server, (50 + 60) / 2)
  assert.equal(micros.k6, 70, 'a part not measured in a run is averaged over the runs that measured it')
  assert.equal(micros.machine, (180 + 200) / 2)
})

test('runs without throughput are skipped, not divided by', () => {
  assert.deepEqual(cpuMicrosPerRequest([{ rps: 0, cores: { server: 1 } }]), {})
})

test('the text puts the total first, then the parts largest first, dropping the negligible', () => {
  assert.equal(
    formatCpuCost({ machine: 199.4, server: 46.6, k6: 69.2, redis: 8.7, other: 0.2 }),
    '199 µs (k6 69, server 47, redis 9)',
  )
  assert.equal(formatCpuCost({ server: 10 }), 'n/a (server 10)')
})
