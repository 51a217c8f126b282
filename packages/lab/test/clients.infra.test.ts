// The lab context's clients against the native infra: the replica is a replica, the Kafka admin
// helper reports a group's lag, the S3 client reads back what it wrote.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, test } from 'node:test'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { createKafka } from '@faultline/kit/clients'
import { ClientRegistry } from '../src/clients/registry.ts'
import { nativeInfra } from '../src/infra.ts'

const registry = new ClientRegistry(nativeInfra(() => {}))
const { clients } = registry

after(() => registry.close())

test('pgReplica is the streaming replica, pg the primary', async () => {
  const replica = await clients.pgReplica.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')
  const primary = await clients.pg.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')
  assert.equal(replica.rows[0]?.r, true)
  assert.equal(primary.rows[0]?.r, false)
})

test('kafka: topics, a group that committed nothing lags by everything, then by nothing', async () => {
  const topic = `lab-test-${randomUUID().slice(0, 8)}`
  const group = `${topic}-group`
  const admin = await clients.kafka.admin()
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })
  try {
    assert.ok((await clients.kafka.topics()).includes(topic))
    const producer = createKafka({ brokers: clients.kafka.brokers, clientId: 'lab-test' }).producer()
    await producer.connect()
    const send = (n: number) =>
      producer.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: 'x' })) })
    await send(5)
    assert.equal(await clients.kafka.lag(group, topic), 5)
    assert.equal(await clients.kafka.moveGroupToEnd(group, topic), 5, 'the messages it skipped')
    assert.equal(await clients.kafka.lag(group, topic), 0)
    // Again once the group has committed offsets (the case kafkajs' resetOffsets leaves unmoved).
    await send(3)
    assert.equal(await clients.kafka.lag(group, topic), 3)
    assert.equal(await clients.kafka.moveGroupToEnd(group, topic), 3)
    const committed = await clients.kafka.groupOffsets(group, topic)
    assert.equal(
      committed.reduce((sum, p) => sum + p.offset, 0),
      8,
    )
    await producer.disconnect()
  } finally {
    await admin.deleteGroups([group]).catch(() => {})
    await admin.deleteTopics({ topics: [topic] })
  }
})

test('s3: a bucket, an object written and read back', async () => {
  const Bucket = `lab-test-${randomUUID().slice(0, 8)}`
  await clients.s3.send(new CreateBucketCommand({ Bucket }))
  try {
    await clients.s3.send(new PutObjectCommand({ Bucket, Key: 'a.txt', Body: 'hello' }))
    const got = await clients.s3.send(new GetObjectCommand({ Bucket, Key: 'a.txt' }))
    assert.equal(await got.Body?.transformToString(), 'hello')
    await clients.s3.send(new DeleteObjectCommand({ Bucket, Key: 'a.txt' }))
  } finally {
    await clients.s3.send(new DeleteBucketCommand({ Bucket }))
  }
})
