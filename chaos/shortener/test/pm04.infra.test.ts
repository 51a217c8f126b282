import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm04-kafka-and-postgres-down.ts'

test('pm04 Kafka and Postgres down together: fails naive, holds hardened (CI variant)', async () => {
  assertReproduces(await runExperiment(experiment, { ci: true }))
})
