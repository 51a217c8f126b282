import pg from 'pg'
import { type ResolvedInfra, type ResolveOptions, resolveInfra } from './infra.ts'
import {
  createTopic,
  deleteKeysWithPrefix,
  deleteTopics,
  isolatedSchema,
  keyPrefix,
  uniqueTopic,
} from './isolation.ts'

/** Anything with node:test's `after`: a test's `t`, or `{ after }` imported from node:test for a whole file. */
export interface AfterHost {
  after(fn: () => unknown): void
}

export interface SchemaHandle {
  schema: string
  /** Connection string whose sessions use the schema (hand it to the code under test). */
  url: string
  /** A pool on `url`, closed before the schema is dropped. */
  pool: pg.Pool
}

export interface TestInfra extends ResolvedInfra {
  /** A fresh schema `t_<random>` with a pool on it; dropped (cascade) after the test. */
  schema(): Promise<SchemaHandle>
  /** A fresh `t:<random>:` prefix; its keys are deleted from both Redis instances after the test. */
  keyPrefix(): string
  /** A fresh topic name from `base` (not created); deleted after the test if something created it. */
  topic(base: string): string
  /** Like `topic`, and creates it with `numPartitions` before returning. */
  createTopic(base: string, numPartitions?: number): Promise<string>
  /**
   * Runs `fn` at cleanup, before everything acquired earlier through this object (last in,
   * first out). Register the app's close here so it stops writing before its schema, keys and
   * topics go: node:test runs `t.after` hooks in registration order, so a `t.after` registered
   * after `testInfra(t)` would run after the cleanup instead.
   */
  defer(fn: () => unknown): void
}

/**
 * Real infrastructure for one test (or one file), with isolation helpers whose cleanups run in
 * `host.after`:
 *
 *   const infra = await testInfra(t, { need: ['postgres', 'redis'] })
 *   const { url } = await infra.schema()
 *   const app = buildApp({ databaseUrl: url, redisKeyPrefix: infra.keyPrefix() })
 *   infra.defer(() => app.close())
 */
export async function testInfra(host: AfterHost, options: ResolveOptions = {}): Promise<TestInfra> {
  const resolved = await resolveInfra(options)
  const cleanups: Array<() => unknown> = []
  const defer = (fn: () => unknown) => {
    cleanups.push(fn)
  }
  host.after(async () => {
    const errors: unknown[] = []
    for (const fn of cleanups.reverse()) {
      try {
        await fn()
      } catch (err) {
        errors.push(err)
      }
    }
    if (errors.length === 1) throw errors[0]
    if (errors.length > 1) throw new AggregateError(errors, 'testkit: several cleanups failed')
  })

  return {
    ...resolved,
    defer,
    async schema() {
      const isolated = await isolatedSchema(resolved.urls.databaseUrl)
      defer(() => isolated.drop())
      const pool = new pg.Pool({ connectionString: isolated.url, max: 4 })
      defer(() => pool.end())
      return { schema: isolated.schema, url: isolated.url, pool }
    },
    keyPrefix() {
      const prefix = keyPrefix()
      // Both Redis instances that this test may write to (a prefix is unique, so cleaning one
      // that was never written is harmless); only those checked to answer, so cleanup cannot hang.
      const redisUrls = new Set<string>()
      if (resolved.need.includes('redis')) redisUrls.add(resolved.urls.redisUrl)
      if (resolved.need.includes('queueRedis')) redisUrls.add(resolved.urls.queueRedisUrl)
      defer(async () => {
        for (const url of redisUrls) await deleteKeysWithPrefix(url, prefix)
      })
      return prefix
    },
    topic(base) {
      const topic = uniqueTopic(base)
      defer(() => deleteTopics(resolved.urls.kafkaBrokers, [topic]))
      return topic
    },
    async createTopic(base, numPartitions = 1) {
      const topic = uniqueTopic(base)
      defer(() => deleteTopics(resolved.urls.kafkaBrokers, [topic]))
      await createTopic(resolved.urls.kafkaBrokers, topic, numPartitions)
      return topic
    },
  }
}
