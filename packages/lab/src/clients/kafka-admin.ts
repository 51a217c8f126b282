/**
 * A Kafka admin helper for experiments: topics, a consumer group's committed offsets, and its lag
 * (how far the group is behind each partition's end) — what a settle condition or an invariant
 * about a consumer asks. It connects on first use, directly to the broker (never through
 * Toxiproxy, so a Kafka fault does not blind the checker), with the kit's client settings.
 */
import { createKafka } from '@faultline/kit/clients'
import type { Admin } from 'kafkajs'

export interface PartitionLag {
  partition: number
  /** The group's committed offset; -1 when it has committed nothing yet. */
  committed: number
  /** The partition's end (the offset the next message gets). */
  end: number
  lag: number
}

export class KafkaAdmin {
  readonly brokers: string
  #admin: Promise<Admin> | undefined

  constructor(brokers: string) {
    this.brokers = brokers
  }

  /** The connected kafkajs admin client, for anything the helpers below do not cover. */
  admin(): Promise<Admin> {
    this.#admin ??= (async () => {
      const admin = createKafka({ brokers: this.brokers, clientId: 'faultline-lab' }).admin()
      await admin.connect()
      return admin
    })()
    // A failed connect is not cached: the next call tries again (the broker may be back).
    this.#admin.catch(() => {
      this.#admin = undefined
    })
    return this.#admin
  }

  async topics(): Promise<string[]> {
    return (await (await this.admin()).listTopics()).sort()
  }

  /** Committed offsets of `groupId` on `topic`, one per partition. */
  async groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number }>> {
    const [entry] = await (await this.admin()).fetchOffsets({ groupId, topics: [topic] })
    return (entry?.partitions ?? []).map((p) => ({ partition: p.partition, offset: Number(p.offset) }))
  }

  /** Per-partition lag of `groupId` on `topic`; a partition it never committed counts from its start. */
  async partitionLag(groupId: string, topic: string): Promise<PartitionLag[]> {
    const admin = await this.admin()
    const [ends, committed] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      this.groupOffsets(groupId, topic),
    ])
    return ends.map((p) => {
      const end = Number(p.high)
      const done = committed.find((c) => c.partition === p.partition)?.offset ?? -1
      const from = done >= 0 ? done : Number(p.low)
      return { partition: p.partition, committed: done, end, lag: Math.max(0, end - from) }
    })
  }

  /** Messages on `topic` that `groupId` has not committed yet, over every partition. */
  async lag(groupId: string, topic: string): Promise<number> {
    return (await this.partitionLag(groupId, topic)).reduce((sum, p) => sum + p.lag, 0)
  }

  /**
   * Commits `groupId`'s offsets on `topic` at each partition's current end, so the group's next
   * member starts after every message already there (the events an earlier run left behind). The
   * offsets are explicit numbers: kafkajs' `resetOffsets` seeks to "latest" (-1), which a consumer
   * resolves only when it fetches, so nothing is committed and the group resumes where it was.
   * Kafka refuses while the group has a live member. Returns the messages skipped.
   */
  async moveGroupToEnd(groupId: string, topic: string): Promise<number> {
    const admin = await this.admin()
    const skipped = await this.lag(groupId, topic)
    const ends = await admin.fetchTopicOffsets(topic)
    await admin.setOffsets({
      groupId,
      topic,
      partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
    })
    const left = await this.lag(groupId, topic)
    if (left !== 0) throw new Error(`${groupId} is still ${left} messages behind the end of ${topic}`)
    return skipped
  }

  async close(): Promise<void> {
    const admin = this.#admin
    this.#admin = undefined
    if (admin) await (await admin.catch(() => undefined))?.disconnect()
  }
}
