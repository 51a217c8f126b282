/**
 * "Does it answer?" checks, one per component, each speaking the component's own protocol: a
 * Toxiproxy listener accepts TCP even when the component behind it is down, so a port check would
 * say healthy for a dead Postgres.
 */
import { Redis } from 'ioredis'
import { Kafka, logLevel } from 'kafkajs'
import pg from 'pg'

export async function withTimeout<T>(label: string, timeoutMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}

export async function probePostgres(url: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs })
  client.on('error', () => {})
  try {
    await withTimeout(
      'postgres',
      timeoutMs,
      client.connect().then(() => client.query('select 1')),
    )
  } finally {
    await client.end().catch(() => {})
  }
}

export async function probeRedis(url: string, timeoutMs: number): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await withTimeout(
      'redis',
      timeoutMs,
      client.connect().then(() => client.ping()),
    )
  } finally {
    client.disconnect()
  }
}

export async function probeKafka(brokers: string[], timeoutMs: number): Promise<void> {
  const admin = new Kafka({
    clientId: 'faultline-testkit-probe',
    brokers,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin()
  try {
    await withTimeout(
      'kafka',
      timeoutMs,
      admin.connect().then(() => admin.describeCluster()),
    )
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

/** Any HTTP answer counts: S3 answers 403 to an anonymous request, which still proves it is up. */
export async function probeHttp(url: string, timeoutMs: number): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  await res.body?.cancel()
}
