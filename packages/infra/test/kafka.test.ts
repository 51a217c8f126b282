/** Checks that need no broker: the pinned version is the one the POM resolves. */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { kafkaPomFile, kafkaVersion } from '../src/kafka.ts'

test('kafka.ts pins the Kafka version infra/kafka/pom.xml resolves', async () => {
  const pom = await readFile(kafkaPomFile, 'utf8')
  assert.equal(/<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1], kafkaVersion)
})
