/**
 * Proves the pinned broker speaks kafkajs end to end: produce with keys, consume in a group,
 * commit, restart the consumer and add a second one (a rebalance), and resume from the
 * committed offsets without re-delivery. Runs on the DIRECT listener always, and through the
 * Toxiproxy proxy `kafka` too when that proxy exists.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { before, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Admin, type Consumer, Kafka, logLevel, Partitioners } from 'kafkajs'
import { kafka, probeKafka } from '../src/kafka.ts'
import { withInfraLock } from '../src/lock.ts'
import { defaultContext } from '../src/paths.ts'
import { ports, proxies } from '../src/topology.ts'

const partitions = 3
const messagesPerBatch = 30
const distinctKeys = 7
/** Bounded waits: long enough for a rebalance on a loaded 2-core machine, short enough to fail fast. */
const waitTimeoutMs = 30_000
/** After the expected count arrived, wait this long for duplicates before asserting exactly-once. */
const duplicateGraceMs = 1_000

before(
  async () => {
    // A cold cache resolves ~45 MB of jars through Maven first.
    if ((await probeKafka()).healthy) return
    // The lock keeps this from racing an `infra up` started at the same time.
    const ctx = defaultContext()
    await withInfraLock(ctx, () => kafka.up(ctx))
  },
  { timeout: 15 * 60_000 },
)

test('produce / consume-in-a-group round trip on the DIRECT listener', { timeout: 180_000 }, async (t) => {
  await roundTrip(t, `127.0.0.1:${ports.kafkaDirect}`)
})

test('the same round trip through the Toxiproxy proxy `kafka`', { timeout: 180_000 }, async (t) => {
  if (!(await isToxiproxyKafkaProxyUp())) {
    t.skip(`no Toxiproxy proxy \`kafka\` on 127.0.0.1:${ports.toxiproxyApi}`)
    return
  }
  await roundTrip(t, `127.0.0.1:${proxies.kafka.listenPort}`)
})

async function isToxiproxyKafkaProxyUp(): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${ports.toxiproxyApi}/proxies/kafka`, {
      signal: AbortSignal.timeout(2_000),
    })
    if (!response.ok) return false
    const proxy = (await response.json()) as { enabled?: boolean }
    return proxy.enabled === true
  } catch {
    return false
  }
}

interface Delivery {
  consumer: string
  partition: number
  offset: bigint
  key: string
  seq: number
}

async function roundTrip(t: TestContext, broker: string): Promise<void> {
  const runId = randomUUID().slice(0, 8)
  const topic = `infra-kafka-test-${runId}`
  const groupId = `infra-kafka-test-${runId}`
  const client = new Kafka({
    clientId: `infra-kafka-test-${runId}`,
    brokers: [broker],
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 5, initialRetryTime: 200 },
    logLevel: logLevel.NOTHING,
  })

  // Clients close in reverse order of creation; the topic and group go last.
  const closers: Array<() => Promise<unknown>> = []
  t.after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {})
  })

  const admin = client.admin()
  await admin.connect()
  closers.push(() => admin.disconnect())
  // The broker advertises the address we came in on, so every reconnect (and the group
  // coordinator connection) takes the same path: through the proxy, or around it.
  const cluster = await admin.describeCluster()
  assert.deepEqual(
    cluster.brokers.map((b) => `${b.host}:${b.port}`),
    [broker],
  )
  closers.push(async () => {
    await admin.deleteGroups([groupId]).catch(() => {})
    await admin.deleteTopics({ topics: [topic], timeout: 10_000 })
  })
  assert.equal(
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
      timeout: 10_000,
    }),
    true,
  )

  const producer = client.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  })
  await producer.connect()
  closers.push(() => producer.disconnect())
  const produce = async (fromSeq: number) => {
    const messages = Array.from({ length: messagesPerBatch }, (_, index) => {
      const seq = fromSeq + index
      return { key: `key-${seq % distinctKeys}`, value: String(seq) }
    })
    await producer.send({ topic, acks: -1, messages })
  }

  const deliveries: Delivery[] = []
  const assignments = new Map<string, number[]>()
  const startConsumer = async (name: string): Promise<Consumer> => {
    const consumer = client.consumer({
      groupId,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 200,
    })
    closers.push(() => consumer.disconnect())
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      assignments.set(name, event.payload.memberAssignment[topic] ?? [])
    })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        deliveries.push({
          consumer: name,
          partition,
          offset: BigInt(message.offset),
          key: message.key?.toString() ?? '',
          seq: Number(message.value?.toString()),
        })
      },
    })
    return consumer
  }

  // Phase 1: one consumer joins a new group and reads the first batch from the beginning.
  const first = await startConsumer('first')
  await produce(0)
  await waitFor('the first batch', () => deliveries.length >= messagesPerBatch)
  await sleep(duplicateGraceMs)
  assertExactlyOnceInOrder(deliveries, 0)
  await first.commitOffsets(nextOffsets(topic, deliveries))
  await assertCommittedToEnd(admin, groupId, topic)
  const firstBatch = deliveries.splice(0)
  assert.deepEqual([...(assignments.get('first') ?? [])].sort(), [0, 1, 2])

  // Restart the first consumer and add a second one: the group rebalances to two members and
  // both resume from the committed offsets, so nothing of the first batch comes back.
  await first.disconnect()
  assignments.clear()
  const restarted = await startConsumer('first')
  const second = await startConsumer('second')
  await waitFor('a rebalance that gives both members partitions', () => {
    const a = assignments.get('first') ?? []
    const b = assignments.get('second') ?? []
    return (
      a.length > 0 &&
      b.length > 0 &&
      new Set([...a, ...b]).size === partitions &&
      a.length + b.length === partitions
    )
  })
  const description = await admin.describeGroups([groupId])
  assert.equal(description.groups[0]?.members.length, 2)

  // Phase 2: the second batch, produced after the group is stable.
  await produce(messagesPerBatch)
  await waitFor('the second batch', () => deliveries.length >= messagesPerBatch)
  await sleep(duplicateGraceMs)
  assertExactlyOnceInOrder(deliveries, messagesPerBatch)
  for (const delivery of deliveries) {
    const owner = delivery.consumer === 'first' ? assignments.get('first') : assignments.get('second')
    assert.ok(owner?.includes(delivery.partition), `partition ${delivery.partition} went to its owner`)
  }
  // Each member commits the partitions it owns.
  await restarted.commitOffsets(
    nextOffsets(
      topic,
      deliveries.filter((d) => d.consumer === 'first'),
    ),
  )
  await second.commitOffsets(
    nextOffsets(
      topic,
      deliveries.filter((d) => d.consumer === 'second'),
    ),
  )
  await assertCommittedToEnd(admin, groupId, topic)

  // Keys stick to partitions across both batches (the partitioner is deterministic).
  const partitionOfKey = new Map<string, number>()
  for (const delivery of [...firstBatch, ...deliveries]) {
    const seen = partitionOfKey.get(delivery.key)
    if (seen === undefined) partitionOfKey.set(delivery.key, delivery.partition)
    else assert.equal(delivery.partition, seen, `key ${delivery.key} stays on partition ${seen}`)
  }
}

/** Every sequence number of the batch exactly once, and per partition in produce order with no offset gaps. */
function assertExactlyOnceInOrder(deliveries: Delivery[], fromSeq: number): void {
  const seqs = deliveries.map((d) => d.seq).sort((a, b) => a - b)
  assert.deepEqual(
    seqs,
    Array.from({ length: messagesPerBatch }, (_, index) => fromSeq + index),
  )
  for (let partition = 0; partition < partitions; partition++) {
    const inPartition = deliveries.filter((d) => d.partition === partition)
    for (let index = 1; index < inPartition.length; index++) {
      const previous = inPartition[index - 1] as Delivery
      const current = inPartition[index] as Delivery
      assert.ok(
        current.seq > previous.seq,
        `partition ${partition}: seq ${current.seq} after ${previous.seq}`,
      )
      assert.equal(current.offset, previous.offset + 1n, `partition ${partition}: no offset gap`)
    }
  }
}

function nextOffsets(topic: string, deliveries: Delivery[]) {
  const last = new Map<number, bigint>()
  for (const d of deliveries) if ((last.get(d.partition) ?? -1n) < d.offset) last.set(d.partition, d.offset)
  return [...last].map(([partition, offset]) => ({ topic, partition, offset: String(offset + 1n) }))
}

/** The group's committed offset of every partition equals the partition's high watermark. */
async function assertCommittedToEnd(admin: Admin, groupId: string, topic: string): Promise<void> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
  const ends = await admin.fetchTopicOffsets(topic)
  const byPartition = (rows: Array<{ partition: number; offset: string }>) =>
    Object.fromEntries(rows.map((row) => [row.partition, row.offset]))
  assert.deepEqual(byPartition(committed?.partitions ?? []), byPartition(ends))
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = waitTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}
