import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm10-hot-key-stampede.ts'

test('pm10 hot-key stampede: fails naive, holds hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing means naive > 1; the stampede it shows must be ≫ 1, not a borderline 1.2.
  const fills = summary.modes.naive?.invariants.find((r) => r.name === 'Postgres fills per key per expiry')
  const perExpiry = Number.parseFloat(String(fills?.observed))
  assert.ok(perExpiry > 3, `naive fills per expiry should be ≫ 1, got ${fills?.observed}`)
})
