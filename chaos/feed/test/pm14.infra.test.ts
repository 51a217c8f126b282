import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm14-replica-lag.ts'

test('pm14 replica lag: fails naive, holds hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing means one missed post naive; the lag must hide most of them, not one by chance.
  const naive = summary.modes.naive?.invariants.find((r) => r.name === 'a user sees their own post at once')
  const [, missed = 0, during = 0] =
    /\((\d+) of (\d+) while replay was paused\)/.exec(String(naive?.observed))?.map(Number) ?? []
  assert.ok(
    during > 0 && missed / during >= 0.5,
    `naive should miss most own posts while the replica is paused, got ${naive?.observed}`,
  )
  // Hardened kept them visible by reading the primary, not by luck: the route counter says so.
  const hardened = summary.modes.hardened
  // Series keys carry the instance's labels too: `feed_ryw_route_total{instance="api-0",…,target="primary"}`.
  const primaryReads = Object.values(hardened?.metrics.after ?? {})
    .flatMap((series) => Object.entries(series))
    .filter(([key]) => key.startsWith('feed_ryw_route_total{') && key.includes('target="primary"'))
    .reduce((sum, [, value]) => sum + value, 0)
  assert.ok(
    primaryReads > 0,
    'hardened should have sent own-post reads to the primary while the replica lagged',
  )
})
