import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm02-cold-cache.ts'

test('pm02 cold cache under steady load: fails naive, holds hardened (CI variant)', async () => {
  assertReproduces(await runExperiment(experiment, { ci: true }))
})
