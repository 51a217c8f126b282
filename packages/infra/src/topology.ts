/**
 * The one port table of Faultline. docker-compose.yml publishes the same ports (a test checks
 * it), so a service or test finds the infrastructure at the same address whichever way it was
 * started. Ports are away from the standard ones so a Postgres on 5432 or a Redis on 6379 that
 * the user already runs is never touched.
 *
 * Services never talk to a component directly: they go through a Toxiproxy proxy, so an
 * experiment can add latency, hang or reset a connection at run time without restarting
 * anything. The direct ports are for the infra CLI's health checks and for admin work.
 */
export const ports = {
  postgresPrimary: 15432,
  postgresReplica: 15433,
  redisCache: 16379,
  redisQueue: 16380,
  /** Kafka's client listener; it advertises the Toxiproxy address (proxies.kafka.listenPort). */
  kafka: 19092,
  kafkaController: 19093,
  /** A second Kafka listener that advertises itself: admin and health checks, never toxics. */
  kafkaDirect: 19094,
  s3: 17070,
  toxiproxyApi: 8474,
  prometheus: 19090,
  grafana: 13000,
} as const

/**
 * Host ports of each system's processes, published by its compose file and used by
 * `./faultline up <system>` (the lab's fleets take free ports instead, so an experiment never
 * collides with a system left running). A new system adds one line.
 */
export const systemPorts = {
  shortener: { api: 18080, worker: 18081 },
} as const satisfies Record<string, Record<string, number>>

export type ProxyName = 'postgres' | 'postgres-replica' | 'redis-cache' | 'redis-queue' | 'kafka' | 's3'

export interface ProxySpec {
  name: ProxyName
  /** Port Toxiproxy listens on (what services connect to). */
  listenPort: number
  /** Direct port of the component behind it. */
  upstreamPort: number
  /** Compose service name of the component behind it (compose upstream is `<service>:<containerPort>`). */
  composeService: string
  containerPort: number
}

export const proxies: Record<ProxyName, ProxySpec> = {
  postgres: {
    name: 'postgres',
    listenPort: 25432,
    upstreamPort: ports.postgresPrimary,
    composeService: 'postgres',
    containerPort: 5432,
  },
  'postgres-replica': {
    name: 'postgres-replica',
    listenPort: 25433,
    upstreamPort: ports.postgresReplica,
    composeService: 'postgres-replica',
    containerPort: 5432,
  },
  'redis-cache': {
    name: 'redis-cache',
    listenPort: 26379,
    upstreamPort: ports.redisCache,
    composeService: 'redis-cache',
    containerPort: 6379,
  },
  'redis-queue': {
    name: 'redis-queue',
    listenPort: 26380,
    upstreamPort: ports.redisQueue,
    composeService: 'redis-queue',
    containerPort: 6379,
  },
  kafka: {
    name: 'kafka',
    listenPort: 29092,
    upstreamPort: ports.kafka,
    composeService: 'kafka',
    containerPort: 9092,
  },
  s3: { name: 's3', listenPort: 27070, upstreamPort: ports.s3, composeService: 's3', containerPort: 7070 },
}

/** Credentials used by both the native topology and compose. Local lab only. */
export const credentials = {
  postgresUser: 'faultline',
  postgresPassword: 'faultline',
  postgresDb: 'faultline',
  replicationUser: 'replicator',
  replicationPassword: 'replicator',
  s3AccessKey: 'faultline',
  s3SecretKey: 'faultline-secret',
} as const

const host = '127.0.0.1'

/**
 * Connection URLs a service uses by default: every one goes through its Toxiproxy proxy.
 * The env var names are the ones the shared config schema reads.
 */
export function serviceEnv(): Record<string, string> {
  const c = credentials
  return {
    DATABASE_URL: `postgres://${c.postgresUser}:${c.postgresPassword}@${host}:${proxies.postgres.listenPort}/${c.postgresDb}`,
    DATABASE_REPLICA_URL: `postgres://${c.postgresUser}:${c.postgresPassword}@${host}:${proxies['postgres-replica'].listenPort}/${c.postgresDb}`,
    REDIS_URL: `redis://${host}:${proxies['redis-cache'].listenPort}`,
    QUEUE_REDIS_URL: `redis://${host}:${proxies['redis-queue'].listenPort}`,
    KAFKA_BROKERS: `${host}:${proxies.kafka.listenPort}`,
    S3_ENDPOINT: `http://${host}:${proxies.s3.listenPort}`,
    S3_ACCESS_KEY: c.s3AccessKey,
    S3_SECRET_KEY: c.s3SecretKey,
    TOXIPROXY_URL: `http://${host}:${ports.toxiproxyApi}`,
  }
}

/** Direct (un-proxied) URLs, for admin work and health checks. */
export function directEnv(): Record<string, string> {
  const c = credentials
  return {
    DATABASE_URL: `postgres://${c.postgresUser}:${c.postgresPassword}@${host}:${ports.postgresPrimary}/${c.postgresDb}`,
    DATABASE_REPLICA_URL: `postgres://${c.postgresUser}:${c.postgresPassword}@${host}:${ports.postgresReplica}/${c.postgresDb}`,
    REDIS_URL: `redis://${host}:${ports.redisCache}`,
    QUEUE_REDIS_URL: `redis://${host}:${ports.redisQueue}`,
    KAFKA_BROKERS: `${host}:${ports.kafkaDirect}`,
    S3_ENDPOINT: `http://${host}:${ports.s3}`,
  }
}
