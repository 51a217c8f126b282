/**
 * The testcontainers path: used only when the native infra is not running and a container engine
 * answers. testcontainers and its modules are optional dependencies, imported only here and only
 * when needed, so the native path never pays for loading them.
 *
 * Containers live as long as the test process: testcontainers' reaper (Ryuk) removes them when it
 * exits. node:test runs each test file in its own process, so each file that resolves through
 * this path starts its own containers; narrow `need` to what the file uses.
 *
 * Not exercised on the machines this repo is developed on (no Docker engine); written against the
 * testcontainers 12 module APIs (PostgreSqlContainer.getConnectionUri, RedisContainer.getConnectionUrl,
 * KafkaContainer on the Confluent image, whose client listener is container port 9093).
 */
import { credentials } from '@faultline/infra'
import { withTimeout } from './probes.ts'

/** Whether testcontainers can reach a container runtime (Docker, Podman …), answered within `timeoutMs`. */
export async function containerRuntimeAvailable(timeoutMs: number): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers')
    await withTimeout('container runtime', timeoutMs, getContainerRuntimeClient())
    return true
  } catch {
    return false
  }
}

export interface ContainerUrls {
  databaseUrl?: string
  redisUrl?: string
  queueRedisUrl?: string
  kafkaBrokers?: string
}

/** Images match what the native topology and compose run. */
export const images = {
  postgres: 'postgres:15',
  redis: 'redis:7',
  /** @testcontainers/kafka drives the Confluent image's start script; 8.x runs KRaft. */
  kafka: 'confluentinc/cp-kafka:8.2.0',
} as const

export async function startContainers(need: {
  postgres: boolean
  redis: boolean
  queueRedis: boolean
  kafka: boolean
}): Promise<ContainerUrls> {
  const [postgres, redis, queueRedis, kafka] = await Promise.all([
    need.postgres ? startPostgres() : undefined,
    need.redis ? startRedis() : undefined,
    need.queueRedis ? startRedis() : undefined,
    need.kafka ? startKafka() : undefined,
  ])
  return { databaseUrl: postgres, redisUrl: redis, queueRedisUrl: queueRedis, kafkaBrokers: kafka }
}

async function startPostgres(): Promise<string> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql')
  const container = await new PostgreSqlContainer(images.postgres)
    .withDatabase(credentials.postgresDb)
    .withUsername(credentials.postgresUser)
    .withPassword(credentials.postgresPassword)
    .start()
  return container.getConnectionUri()
}

async function startRedis(): Promise<string> {
  const { RedisContainer } = await import('@testcontainers/redis')
  const container = await new RedisContainer(images.redis).start()
  return container.getConnectionUrl()
}

async function startKafka(): Promise<string> {
  const { KafkaContainer } = await import('@testcontainers/kafka')
  const container = await new KafkaContainer(images.kafka).start()
  return `${container.getHost()}:${container.getMappedPort(9093)}`
}
