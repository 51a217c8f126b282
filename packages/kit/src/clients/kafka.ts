/**
 * Kafka through kafkajs, with ONE producer per process. A producer holds a connection per broker
 * and its metadata; creating one per request (pm16) multiplies connections and metadata requests
 * until the brokers fall over. `getProducer` makes the right thing the easy thing.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import {
  type Consumer,
  Kafka,
  type LogEntry,
  logLevel,
  Partitioners,
  type Producer,
  type ProducerConfig,
  type RetryOptions,
} from 'kafkajs'
import { envList } from '../config.ts'
import type { Logger } from '../logging.ts'
import type { ReadinessCheck } from '../readiness.ts'

export type { Consumer, Kafka, Producer } from 'kafkajs'

export interface KafkaOptions {
  /** `host:port` list, or the raw comma-separated `KAFKA_BROKERS`. */
  brokers: string | string[]
  clientId: string
  /** @default 3000 */
  connectionTimeoutMs?: number
  /** @default 10000 */
  requestTimeoutMs?: number
  /** kafkajs' retry of a failed request or connect. @default { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 } */
  retry?: RetryOptions
  /** kafkajs' own log lines go here (warn and above) instead of to the console. */
  log?: Logger
}

/** The brokers and client id of each Kafka made by `createKafka`, the key of its producer. */
const identities = new WeakMap<Kafka, string>()
/** One connecting-or-connected producer per `brokers|clientId`, for the whole process. */
const producers = new Map<string, Promise<Producer>>()
let anonymousKafkas = 0

export function createKafka(options: KafkaOptions): Kafka {
  const brokers = typeof options.brokers === 'string' ? envList(options.brokers) : options.brokers
  const log = options.log
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers,
    // kafkajs' defaults retry 5 times up to 30 s: a Kafka outage would hold a request that long.
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    retry: options.retry ?? { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      if (!log) return
      const { message, timestamp: _timestamp, ...fields } = entry.log
      const object = { kafka: entry.namespace, ...fields }
      if (entry.level === logLevel.ERROR) log.error(object, message)
      else if (entry.level === logLevel.WARN) log.warn(object, message)
      else log.debug(object, message)
    },
  })
  identities.set(kafka, `${[...brokers].sort().join(',')}|${options.clientId}`)
  return kafka
}

function identityOf(kafka: Kafka): string {
  let identity = identities.get(kafka)
  if (identity === undefined) {
    // Not made by createKafka: its config is private to kafkajs, so the instance is its own key.
    anonymousKafkas += 1
    identity = `anonymous-${anonymousKafkas}`
    identities.set(kafka, identity)
  }
  return identity
}

/**
 * The process' connected producer for this Kafka's brokers and client id; every call returns the
 * same instance. `config` applies only to the call that creates it. A failed connect (or a later
 * disconnect) is forgotten, so the next call tries again: calling `getProducer` per send keeps a
 * service up while Kafka is down (pm04) without ever holding two producers.
 */
export function getProducer(kafka: Kafka, config: ProducerConfig = {}): Promise<Producer> {
  const key = identityOf(kafka)
  const existing = producers.get(key)
  if (existing) return existing
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...config })
  const connecting = producer.connect().then(
    () => producer,
    (err: unknown) => {
      producers.delete(key)
      throw err
    },
  )
  producers.set(key, connecting)
  // Disconnected by anyone (a closer, kafkajs giving up): the next call connects a new one.
  producer.on(producer.events.DISCONNECT, () => {
    if (producers.get(key) === connecting) producers.delete(key)
  })
  return connecting
}

/** Disconnects this Kafka's producer, if there is one; the next `getProducer` makes a new one. */
export async function disconnectProducer(kafka: Kafka): Promise<void> {
  const key = identityOf(kafka)
  const connecting = producers.get(key)
  if (!connecting) return
  producers.delete(key)
  const producer = await connecting.catch(() => undefined)
  await producer?.disconnect()
}

/** Disconnects every producer of the process: a shutdown closer. */
export async function disconnectProducers(): Promise<void> {
  const all = [...producers.values()]
  producers.clear()
  await Promise.all(all.map(async (connecting) => (await connecting.catch(() => undefined))?.disconnect()))
}

/**
 * Ready when the cluster answers a metadata request. It opens an admin connection per run, so
 * give it a generous timeout; add it only when the service cannot work without Kafka.
 */
export function kafkaReadinessCheck(kafka: Kafka): ReadinessCheck {
  return async () => {
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.describeCluster()
    } finally {
      await admin.disconnect()
    }
  }
}

/**
 * Ready while the consumer is a member of its group: from its `GROUP_JOIN` until a rebalance,
 * crash, stop or disconnect (a crash kafkajs restarts from rejoins, and is ready again at the
 * join). Attach it before `connect()`, so no event is missed. It asks no broker: a worker's
 * readiness says whether this process consumes, and a check that opened a connection per probe
 * would add load to a broker that is already struggling.
 */
export function kafkaConsumerReadinessCheck(consumer: Consumer): ReadinessCheck {
  let state = 'has not joined its group yet'
  const { events } = consumer
  consumer.on(events.GROUP_JOIN, () => {
    state = 'joined'
  })
  consumer.on(events.REBALANCING, () => {
    state = 'is rebalancing'
  })
  consumer.on(events.CRASH, (event) => {
    state = event.payload.restart ? 'crashed and is restarting' : 'crashed'
  })
  consumer.on(events.STOP, () => {
    state = 'stopped'
  })
  consumer.on(events.DISCONNECT, () => {
    state = 'disconnected'
  })
  return async () => {
    if (state !== 'joined') throw new Error(`consumer ${state}`)
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The producer registered by `kafkaProducerPlugin` under the default decorator name. */
    kafkaProducer: Producer
  }
}

export interface KafkaProducerPluginOptions extends Partial<KafkaOptions> {
  /** An existing Kafka; otherwise one is created from `brokers` and `clientId`. */
  kafka?: Kafka
  /** @default 'kafkaProducer' */
  decorator?: string
  producer?: ProducerConfig
}

/**
 * Decorates the process' producer (connecting it while the app boots, so the app fails to start
 * if Kafka is unreachable) and disconnects it in `onClose`.
 */
export const kafkaProducerPlugin = fp(
  async (app: FastifyInstance, options: KafkaProducerPluginOptions) => {
    let kafka = options.kafka
    if (kafka === undefined) {
      if (options.brokers === undefined || options.clientId === undefined) {
        throw new TypeError('kafkaProducerPlugin needs `kafka` or `brokers` and `clientId`')
      }
      kafka = createKafka({ brokers: options.brokers, clientId: options.clientId, log: app.log as Logger })
    }
    const producer = await getProducer(kafka, options.producer)
    app.decorate(options.decorator ?? 'kafkaProducer', producer)
    const owner = kafka
    app.addHook('onClose', async () => disconnectProducer(owner))
  },
  { name: '@faultline/kit/kafka', fastify: '5.x' },
)

/**
 * Creates the topic if it is missing, with `numPartitions` (the producer's auto-creation would
 * use the broker's default, usually 1, which caps a consumer group at one member). Resolves once
 * the new topic's partitions have leaders, so a first send or subscribe right after finds them.
 */
export async function ensureTopic(kafka: Kafka, topic: string, numPartitions: number): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = await admin.listTopics()
    if (!existing.includes(topic)) {
      // createTopics resolves false (no throw) when the topic appeared meanwhile.
      await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true })
    }
  } finally {
    await admin.disconnect()
  }
}
