import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm19-cluster-master-killed.ts'

test('pm19 cluster master killed: fails naive, holds hardened (CI variant)', async () => {
  assertReproduces(await runExperiment(experiment, { ci: true }))
})
