import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm03-readiness-checks-postgres.ts'

test('pm03 readiness that checks Postgres: fails naive, holds hardened (CI variant)', async () => {
  assertReproduces(await runExperiment(experiment, { ci: true }))
})
