/**
 * The outbox relay process: publishes committed outbox rows to NOTIFICATIONS_TOPIC (keyed by
 * recipient, so one recipient's notifications stay in order) and deletes them once Kafka
 * acknowledged them — `@faultline/kit/outbox-relay-process` (one leader, standbys, probes, graceful
 * shutdown, the `notifications_outbox_*` series), shared with the feed.
 *   node services/notifications/src/relay.ts      (pnpm --filter @faultline/notifications relay)
 */
import { runMain } from '@faultline/kit/config'
import { type Publish, runOutboxRelayProcess } from '@faultline/kit/outbox-relay-process'
import { type Kafka, type Message, Partitioners } from 'kafkajs'
import { loadConfig } from './config.ts'
import { runMigrations } from './migrate.ts'
import { createMitigationState, type MitigationState } from './mitigations.ts'

/**
 * The relay's send, by the `sharedProducer` switch (read per batch): on, the kit's one idempotent
 * producer of the process; off, pm16's naive publish — a new producer for every outbox row,
 * connected, used once and never disconnected, the leak of a service that builds a producer per
 * request. Its sockets stay open until the process exits; once the broker has no room left for a
 * new connection, the connect fails, the batch's send fails and the relay retries it.
 */
export function relayPublish(
  state: MitigationState,
  context: { kafka: Kafka; topic: string; shared: Publish },
): Publish {
  const { kafka, topic, shared } = context
  const producerPerRow: Publish = async (messages) => {
    for (const message of messages) {
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
      try {
        await producer.connect()
      } catch (err) {
        // A producer that never connected holds nothing worth leaking: release what it opened.
        await producer.disconnect().catch(() => {})
        throw err
      }
      await producer.send({ topic, acks: -1, messages: [message as Message] })
    }
  }
  return (messages) => (state.current.sharedProducer ? shared(messages) : producerPerRow(messages))
}

if (import.meta.main) {
  await runMain(loadConfig, async (config) => {
    const mitigations = createMitigationState(config.mitigations)
    await runOutboxRelayProcess({
      system: 'notifications',
      config,
      topic: config.topic,
      partitions: config.topicPartitions,
      migrate: (pool, log) => runMigrations({ pool, schema: config.dbSchema, log }),
      switches: { state: mitigations, adminToken: config.adminToken },
      publish: (context) => relayPublish(mitigations, context),
    })
  })
}
