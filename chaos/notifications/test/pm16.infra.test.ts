import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm16-producer-per-request.ts'

test('pm16 a producer per outbox row: connections climb and sends fail naive, flat hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // The naive relay must have leaked well past the broker's headroom, not by a stray reconnect.
  const flat = summary.modes.naive?.invariants.find((i) => i.name === 'Kafka connections stay flat')
  const m = /relay's Kafka connections (\d+) → peak (\d+)/.exec(String(flat?.observed))
  assert.ok(
    m && Number(m[2]) - Number(m[1]) >= 20,
    `naive relay should leak ≥ 20 connections, got ${flat?.observed}`,
  )
})
