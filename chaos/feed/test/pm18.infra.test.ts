import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm18-celebrity-post.ts'

test('pm18 celebrity post: regular deliveries starve naive, not with hybrid fan-out (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing means naive > 1.5× idle; a backlog behind the celebrity's pushes is seconds, not a
  // borderline 1.6×, and it is the celebrity's posts, not the machine, that cause it.
  const p99 = summary.modes.naive?.invariants.find(
    (r) => r.name === 'regular post → delivered p99 while the celebrity posts',
  )
  const ratio = Number.parseFloat(/\(([\d.]+)×\)/.exec(String(p99?.observed))?.[1] ?? 'NaN')
  assert.ok(ratio > 10, `naive regular p99 should be ≫ 1.5× idle, got ${p99?.observed}`)
})
