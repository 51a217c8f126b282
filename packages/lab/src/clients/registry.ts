/**
 * Every client the lab context offers, in one registry: each entry says how to create the client
 * (from the infra's direct URLs) and how to close it. A client is created the first time a
 * context reads it and closed once when the run ends, so an experiment that never touches S3
 * never opens a connection to it. Adding a client is one entry here: its type reaches every
 * context (`LabClients`) from the factory's return type.
 */
import { S3Client } from '@aws-sdk/client-s3'
import { credentials, redisClusterNatMap, redisClusterStartupNodes } from '@faultline/infra'
import { Cluster, Redis } from 'ioredis'
import pg from 'pg'
import { ToxiproxyApi } from '../faults/toxiproxy.ts'
import type { InfraControl } from '../infra.ts'
import { KafkaAdmin } from './kafka-admin.ts'

interface ClientFactory<T> {
  create(infra: InfraControl): T
  close?(client: T): unknown
}

function client<T>(factory: ClientFactory<T>): ClientFactory<T> {
  return factory
}

function pool(url: string | undefined, what: string): pg.Pool {
  if (!url) throw new Error(`no ${what} URL in the infra's direct env`)
  const created = new pg.Pool({ connectionString: url, max: 6, connectionTimeoutMillis: 5000 })
  // An idle client's error (Postgres killed by a fault) must not exit the lab; the next query fails instead.
  created.on('error', () => {})
  return created
}

function redis(url: string | undefined, fallback: string): Redis {
  const created = new Redis(url ?? fallback, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 3000,
  })
  created.on('error', () => {})
  return created
}

function redisCluster(seeds: string | undefined): Cluster {
  if (!seeds) throw new Error("no REDIS_CLUSTER_NODES in the infra's direct env")
  // natMap: under compose the nodes announce their container names; see redisClusterNatMap.
  const created = new Cluster(redisClusterStartupNodes(seeds), {
    lazyConnect: true,
    natMap: redisClusterNatMap(),
    redisOptions: { maxRetriesPerRequest: 2, connectTimeout: 3000 },
  })
  created.on('error', () => {})
  return created
}

/** Direct connections (never through Toxiproxy): a check must see the state, not the fault. */
export const clientFactories = {
  /** Postgres primary. Connects on first query. */
  pg: client({ create: (i) => pool(i.directEnv().DATABASE_URL, 'DATABASE_URL'), close: (p) => p.end() }),
  /** The streaming replica. */
  pgReplica: client({
    create: (i) => pool(i.directEnv().DATABASE_REPLICA_URL, 'DATABASE_REPLICA_URL'),
    close: (p) => p.end(),
  }),
  /** The cache Redis. Connects on first command. */
  redis: client({
    create: (i) => redis(i.directEnv().REDIS_URL, 'redis://127.0.0.1:16379'),
    close: (r) => r.disconnect(),
  }),
  /** The queue Redis (BullMQ). */
  queueRedis: client({
    create: (i) => redis(i.directEnv().QUEUE_REDIS_URL, 'redis://127.0.0.1:16380'),
    close: (r) => r.disconnect(),
  }),
  /** The Redis Cluster (3 masters + 3 replicas), seeded from REDIS_CLUSTER_NODES. Connects on first command. */
  redisCluster: client({
    create: (i) => redisCluster(i.directEnv().REDIS_CLUSTER_NODES),
    close: (c) => c.disconnect(),
  }),
  /** Kafka admin: topics, group offsets, lag. */
  kafka: client({
    create: (i) => new KafkaAdmin(i.directEnv().KAFKA_BROKERS ?? '127.0.0.1:19092'),
    close: (k) => k.close(),
  }),
  /** S3 (versitygw), path-style, with the infra's credentials. */
  s3: client({
    create: (i) => {
      const service = i.serviceEnv()
      return new S3Client({
        endpoint: i.directEnv().S3_ENDPOINT,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: {
          accessKeyId: service.S3_ACCESS_KEY ?? credentials.s3AccessKey,
          secretAccessKey: service.S3_SECRET_KEY ?? credentials.s3SecretKey,
        },
      })
    },
    close: (s) => s.destroy(),
  }),
  /** The typed `@faultline/toxiproxy` client, behind the lab's `lab-…` naming and cleanup. */
  toxiproxy: client({ create: (i) => new ToxiproxyApi(i.toxiproxyUrl()) }),
}

type Factories = typeof clientFactories

export type LabClients = { readonly [K in keyof Factories]: ReturnType<Factories[K]['create']> }

/** The clients of one run: created lazily, closed once. */
export class ClientRegistry {
  readonly clients: LabClients
  readonly #created = new Map<keyof Factories, unknown>()
  #closed: Promise<void> | undefined

  constructor(infra: InfraControl) {
    const clients = {}
    for (const name of Object.keys(clientFactories) as Array<keyof Factories>) {
      Object.defineProperty(clients, name, {
        enumerable: true,
        get: () => {
          if (this.#closed) throw new Error(`the lab's ${name} client is closed (the run has ended)`)
          if (!this.#created.has(name)) this.#created.set(name, clientFactories[name].create(infra))
          return this.#created.get(name)
        },
      })
    }
    this.clients = clients as LabClients
  }

  /** Whether a client has been created (for tests and cleanup that must not create one). */
  created(name: keyof Factories): boolean {
    return this.#created.has(name)
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const [name, created] of this.#created) {
        const factory = clientFactories[name] as ClientFactory<unknown>
        try {
          await factory.close?.(created)
        } catch {
          // Closing is best effort: a client whose server a fault took away may fail to say goodbye.
        }
      }
    })()
    return this.#closed
  }
}
