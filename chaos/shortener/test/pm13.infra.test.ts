import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm13-migration-lock.ts'

test('pm13 migration lock: fails naive, holds hardened (CI variant)', async () => {
  assertReproduces(await runExperiment(experiment, { ci: true }))
})
