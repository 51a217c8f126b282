/**
 * kafkajs 2.2.4 printed `TimeoutNegativeWarning` on Node ≥ 23 the moment a client got its first
 * response (tulios/kafkajs#1751): an idle request queue scheduled a timer of about -Date.now() ms.
 * `patches/kafkajs@2.2.4.patch` removes the cause. This test drives a producer, a consumer group
 * and an admin against the real broker through Toxiproxy (the route services take) and listens
 * for the warning; with the patch reverted it fails. Node emits the warning once per process,
 * and `node --test` runs each file in its own process, so nothing earlier can have used it up.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { proxies } from '../src/topology.ts'
import { ensureUp, upTimeoutMs } from './support.ts'

/** Idle time after the round trip: the unpatched timer fired within 1 ms of every response. */
const idleMs = 500

test(
  'a kafkajs producer, consumer and admin on the real broker print no TimeoutNegativeWarning',
  { timeout: upTimeoutMs + 60_000 },
  async (t) => {
    await ensureUp('toxiproxy', 'kafka')
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))

    const kafka = new Kafka({
      clientId: 'faultline-kafkajs-warning-test',
      brokers: [`127.0.0.1:${proxies.kafka.listenPort}`],
      logLevel: logLevel.NOTHING,
    })
    const topic = `faultline-kafkajs-warning-${randomUUID()}`
    const admin = kafka.admin()
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    const consumer = kafka.consumer({ groupId: `${topic}-group` })
    t.after(async () => {
      await consumer.disconnect()
      await producer.disconnect()
      await admin.deleteTopics({ topics: [topic] }).catch(() => {})
      await admin.disconnect()
    })

    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
    await producer.connect()
    await producer.send({ topic, messages: [{ key: 'k', value: 'hello' }] })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const received = new Promise<string>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) })
    })
    assert.equal(await received, 'hello')
    await sleep(idleMs)

    const negative = warnings.filter((warning) => warning.name === 'TimeoutNegativeWarning')
    assert.deepEqual(
      negative.map((warning) => warning.message),
      [],
      'kafkajs scheduled a negative timeout: is patches/kafkajs@2.2.4.patch applied (pnpm install)?',
    )
  },
)
