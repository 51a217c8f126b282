import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm02-cold-timelines.ts'

test('pm02 cold timelines under steady reads: fails naive, holds hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing means naive wasted some work; the storm must waste most of it, not a few queries.
  const work = summary.modes.naive?.invariants.find(
    (r) => r.name === 'Postgres work that refilled a timeline',
  )
  const perRebuild = Number.parseFloat(String(work?.observed))
  assert.ok(
    !(perRebuild <= 3),
    `naive should send many rebuild queries per timeline it manages to rebuild, got ${work?.observed}`,
  )
})
