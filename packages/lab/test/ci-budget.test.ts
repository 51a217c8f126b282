/**
 * The CI budget of the experiments, checked before any of them runs. `./faultline test` must stay
 * under 40 minutes on the 2-core lab machine with all five systems; the experiments' CI variants
 * are most of it, and they run one at a time (they put toxics on shared proxies and stop shared
 * components), so their wall-clock time is the sum of their loads. The README's "What the test
 * command costs" gives the whole plan; these two rules keep a new experiment from growing it
 * quietly:
 * - one experiment's CI variant loads for at most 75 s over both modes (≈ 90 s with start-up,
 *   setup and settling, the brief's "each experiment's CI variant ≤ ~90 s");
 * - one system's experiments load for at most 300 s over both modes (≈ 6.5 min with start-up,
 *   settling and scrapes: the shortener's 280 s of load ran in 391 s on 2026-12-05);
 * - all systems' experiments together load for at most 1100 s (the shortener's 280 s plus
 *   ≈ 205 s for each of the four systems to come): ≈ 26 min of experiments, which with the
 *   shared part (≈ 4.5 min) and each system's unit and infra tests (≤ 1 min each) keeps the
 *   whole command near 35 minutes.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { resolveVariant } from '../src/experiment.ts'
import { experimentFiles, loadExperiment } from '../src/registry.ts'

export const maxExperimentLoadS = 75
export const maxSystemLoadS = 300
export const maxTotalLoadS = 1100

async function ciLoads(): Promise<{ name: string; system: string; loadS: number }[]> {
  const out = []
  for (const file of experimentFiles()) {
    const exp = resolveVariant(await loadExperiment(file), true)
    out.push({ name: exp.name, system: exp.system.name, loadS: 2 * exp.load.durationS })
  }
  return out
}

test('every experiment has a CI variant that loads ≤ 75 s over both modes', async () => {
  const loads = await ciLoads()
  assert.ok(loads.length > 0, 'no experiment found under chaos/')
  const over = loads.filter((l) => l.loadS > maxExperimentLoadS)
  assert.deepEqual(
    over.map((l) => `${l.name}: ${l.loadS} s`),
    [],
    'shorten these CI variants (ci.load.durationS) and re-run their tests',
  )
})

test("each system's experiments load ≤ 300 s in CI over both modes", async () => {
  const bySystem = new Map<string, number>()
  for (const l of await ciLoads()) bySystem.set(l.system, (bySystem.get(l.system) ?? 0) + l.loadS)
  const over = [...bySystem].filter(([, s]) => s > maxSystemLoadS)
  assert.deepEqual(
    over.map(([system, s]) => `${system}: ${s} s`),
    [],
    'a system over its CI budget pushes ./faultline test past 40 minutes with five systems',
  )
})

test('all systems together load ≤ 1100 s in CI (the 40-minute plan for five systems)', async () => {
  const loads = await ciLoads()
  const total = loads.reduce((sum, l) => sum + l.loadS, 0)
  assert.ok(
    total <= maxTotalLoadS,
    `the experiments' CI variants load for ${total} s over both modes; the plan allows ${maxTotalLoadS} s`,
  )
})
