import type { Kafka } from 'kafkajs'

/**
 * Creates the topic if it is missing, with `numPartitions` (the producer's auto-creation would
 * use the broker's default, usually 1, which caps the worker group at one consumer).
 * A candidate for @faultline/kit/clients.
 */
export async function ensureTopic(kafka: Kafka, topic: string, numPartitions: number): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = await admin.listTopics()
    if (!existing.includes(topic)) {
      await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true })
    }
  } finally {
    await admin.disconnect()
  }
}
