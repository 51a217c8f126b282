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
  /**
   * The Redis Cluster's nodes (three masters and three replicas once formed; `redisClusterNodes`
   * below). Each also listens on its cluster bus, port + 10000 (27001–27006), Redis's default.
   */
  redisCluster1: 17001,
  redisCluster2: 17002,
  redisCluster3: 17003,
  redisCluster4: 17004,
  redisCluster5: 17005,
  redisCluster6: 17006,
  toxiproxyApi: 8474,
  prometheus: 19090,
  grafana: 13000,
} as const

/**
 * Host ports of each system's processes, published by its compose file and used by
 * `./faultline up <system>` (the lab's fleets take free ports instead, so an experiment never
 * collides with a system left running). A new system adds one line. A key that names a process
 * is that process's PORT; any other key is an extra listener of the system (`grpc` →
 * `GRPC_PORT`), given as `<KEY>_PORT` to the system's processes under `up`, and published by the
 * compose service that listens on it.
 */
export const systemPorts = {
  shortener: { api: 18080, worker: 18081 },
  ratelimiter: { api: 18090, grpc: 18091, gateway: 18092 },
  feed: { api: 18100, relay: 18101, worker: 18102 },
  photos: { api: 18110, worker: 18111, reaper: 18112 },
  notifications: { api: 18120, relay: 18121, router: 18122, worker: 18123, providers: 18124 },
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

/**
 * Redis Cluster's node-to-node bus port is the client port + this offset (Redis's default when
 * `cluster-port` is 0). Not in `ports`: nothing but the nodes themselves connects to it.
 */
export const redisClusterBusOffset = 10000

export interface RedisClusterNode {
  /** Native component name and compose service name (`redis-cluster-1` … `redis-cluster-6`). */
  name: string
  port: number
  busPort: number
}

/**
 * The six Redis Cluster nodes, in formation order: `redis-cli --cluster create` makes the first
 * three masters and the last three their replicas (a failover swaps roles later). There is no
 * Toxiproxy in front of them: a cluster client follows the addresses the nodes announce in
 * CLUSTER SLOTS and MOVED replies, which are the nodes' own, so a proxy would see only the
 * first connection. Faults on the cluster are process faults (kill a node, stop it).
 */
export const redisClusterNodes: readonly RedisClusterNode[] = [
  ports.redisCluster1,
  ports.redisCluster2,
  ports.redisCluster3,
  ports.redisCluster4,
  ports.redisCluster5,
  ports.redisCluster6,
].map((port, index) => ({ name: `redis-cluster-${index + 1}`, port, busPort: port + redisClusterBusOffset }))

/**
 * For a client on the host against the compose cluster, whose nodes announce their compose
 * host names (`redis-cluster-1:17001`), which only containers resolve: ioredis' `natMap` turns
 * each back into the published 127.0.0.1 port. Natively the nodes announce 127.0.0.1 and the map
 * never matches, so one client config serves both.
 */
export function redisClusterNatMap(): Record<string, { host: string; port: number }> {
  return Object.fromEntries(redisClusterNodes.map((n) => [`${n.name}:${n.port}`, { host, port: n.port }]))
}

/** `REDIS_CLUSTER_NODES` as a cluster client's startup nodes: `a:1, b:2` → `[{host: 'a', port: 1}, …]`. */
export function redisClusterStartupNodes(value: string): Array<{ host: string; port: number }> {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => {
      const at = item.lastIndexOf(':')
      return { host: item.slice(0, at), port: Number(item.slice(at + 1)) }
    })
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

/** `127.0.0.1:17001,…,127.0.0.1:17006`: every node, so a client finds the cluster with any one down. */
function redisClusterSeeds(): string {
  return redisClusterNodes.map((node) => `${host}:${node.port}`).join(',')
}

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
    // Seeds, not a proxy: see redisClusterNodes.
    REDIS_CLUSTER_NODES: redisClusterSeeds(),
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
    REDIS_CLUSTER_NODES: redisClusterSeeds(),
  }
}
