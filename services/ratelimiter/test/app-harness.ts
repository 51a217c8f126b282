/**
 * Builds the decision service for one test the way server.ts does (createRatelimiter over a
 * fail-fast limiter client and a FileRulesSource), on real Redis or Redis Cluster, with a rules
 * file in a temporary directory and a random key prefix — all removed afterwards.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { Logger } from '@faultline/kit/logging'
import {
  closeLimiterRedis,
  createLimiterCluster,
  createLimiterRedis,
  waitForRedisReady,
} from '@faultline/ratelimit'
import { testInfra } from '@faultline/testkit'
import type { FastifyInstance } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { buildApp } from '../src/app.ts'
import { createRatelimiter, type Ratelimiter } from '../src/components.ts'
import { type Config, loadConfig } from '../src/config.ts'
import { RatelimiterFixture } from '../src/fixture.ts'
import { FileRulesSource } from '../src/rules/file-source.ts'

export const silentLog = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child() {
    return silentLog
  },
} as unknown as Logger

export interface Harness {
  app: FastifyInstance
  ratelimiter: Ratelimiter
  config: Config
  rules: FileRulesSource
  redis: Redis | Cluster
  /** Rewrites the rules file (then reload through SIGHUP's path, the route or `rules.reload()`). */
  writeRules(text: string): Promise<void>
  /** POST /v1/decide, the parsed body and status. */
  // biome-ignore lint/suspicious/noExplicitAny: a test reads the JSON answer's fields freely
  decide(body: unknown): Promise<{ status: number; body: Record<string, any> }>
  /** Sum of every series of a metric of this instance (optionally matching labels). */
  metric(name: string, labels?: Record<string, string>): Promise<number>
}

export interface HarnessOptions {
  rules: string
  env?: Record<string, string>
  /** Skip waiting for Redis (a test of the failure policy points REDIS_URL at nothing). */
  waitForRedis?: boolean
}

/** The decision service on real infrastructure (REDIS_URL, or the cluster with RATELIMIT_STORE=cluster). */
export async function harness(t: TestContext, options: HarnessOptions): Promise<Harness> {
  const infra = await testInfra(t, { need: ['redis'] })
  const dir = await mkdtemp(join(tmpdir(), 'ratelimiter-test-'))
  infra.defer(() => rm(dir, { recursive: true, force: true }))
  const rulesPath = join(dir, 'rules.yaml')
  const writeRules = (text: string) => writeFile(rulesPath, text)
  await writeRules(options.rules)
  const keyPrefix = infra.keyPrefix()
  const config = loadConfig({
    REDIS_URL: infra.urls.redisUrl,
    REDIS_KEY_PREFIX: keyPrefix,
    RULES_FILE: rulesPath,
    ...options.env,
  })
  const redis =
    config.store === 'cluster'
      ? createLimiterCluster({ nodes: config.redisClusterNodes })
      : createLimiterRedis({ url: config.redisUrl })
  infra.defer(() => closeLimiterRedis(redis))
  if (config.store === 'cluster') {
    // testkit cleans the single Redis only: the cluster's keys of this prefix go here.
    const fixture = new RatelimiterFixture({ keyPrefix })
    infra.defer(() => fixture.reset({ redis: redis as Cluster }))
  }
  if (options.waitForRedis ?? true) await waitForRedisReady(redis, 10_000)
  const rules = await FileRulesSource.open(rulesPath)
  infra.defer(() => rules.close())
  const ratelimiter = createRatelimiter(config, { redis, rules, log: silentLog })
  const app = await buildApp(ratelimiter.appDeps)
  infra.defer(() => app.close())

  return {
    app,
    ratelimiter,
    config,
    rules,
    redis,
    writeRules,
    async decide(body) {
      const response = await app.inject({ method: 'POST', url: '/v1/decide', payload: body as object })
      return { status: response.statusCode, body: response.json() }
    },
    async metric(name, labels = {}) {
      const metric = ratelimiter.metrics.registry.getSingleMetric(name)
      if (!metric) return 0
      const { values } = await metric.get()
      return values
        .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
        .reduce((sum, v) => sum + v.value, 0)
    },
  }
}
