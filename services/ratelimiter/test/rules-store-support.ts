/**
 * What the rules-store tests share: real Redis clients (single, and the Redis Cluster of the
 * native topology), isolated key prefixes, rulesets of any size, and a gate that holds an applier
 * between two write batches so two appliers interleave the same way on every run.
 */
import { redisClusterNodes, unlinkMatching } from '@faultline/infra'
import { keyPrefix, type TestInfra, testInfra } from '@faultline/testkit'
import { Cluster, Redis } from 'ioredis'
import { fingerprintOf } from '../src/rules/compile.ts'
import type { RulesDocument } from '../src/rules/schema.ts'
import { GenerationRulesStore } from '../src/rules/store/generation-store.ts'
import { InPlaceRulesStore } from '../src/rules/store/in-place-store.ts'
import { RulesStoreKeys } from '../src/rules/store/keys.ts'
import type { ApplyHooks, ApplyPacing, RedisClient, RulesStore } from '../src/rules/store/types.ts'

type AfterHost = { after(fn: () => unknown): void }

/** Small batches and no pause: an apply of 8 domains is 4 write steps, fast but interleavable. */
export const pacing: ApplyPacing = { batch: 2, pauseMs: 0 }

/** A single Redis (through Toxiproxy, as the service reaches it) and a fresh key prefix. */
export async function singleRedis(
  t: AfterHost,
): Promise<{ infra: TestInfra; redis: Redis; keys: RulesStoreKeys }> {
  const infra = await testInfra(t, { need: ['redis'] })
  const redis = new Redis(infra.urls.redisUrl, { maxRetriesPerRequest: 1 })
  infra.defer(() => redis.disconnect())
  return { infra, redis, keys: new RulesStoreKeys(infra.keyPrefix()) }
}

/** The native Redis Cluster (REDIS_CLUSTER_NODES, else the topology's nodes) and a fresh prefix. */
export async function clusterRedis(t: AfterHost): Promise<{ redis: Cluster; keys: RulesStoreKeys }> {
  const seeds = process.env.REDIS_CLUSTER_NODES
    ? process.env.REDIS_CLUSTER_NODES.split(',').map((node) => {
        const at = node.trim().lastIndexOf(':')
        return { host: node.trim().slice(0, at), port: Number(node.trim().slice(at + 1)) }
      })
    : redisClusterNodes.map((node) => ({ host: '127.0.0.1', port: node.port }))
  const redis = new Cluster(seeds, { redisOptions: { maxRetriesPerRequest: 1 } })
  const keys = new RulesStoreKeys(keyPrefix())
  t.after(async () => {
    for (const node of redis.nodes('master')) await unlinkMatching(node, keys.pattern())
    redis.disconnect()
  })
  return { redis, keys }
}

export function stores(redis: RedisClient, keys: RulesStoreKeys) {
  return {
    inPlace: new InPlaceRulesStore(redis, keys, pacing),
    generations: new GenerationRulesStore(redis, keys, { pacing, retentionMs: 60_000, stagingTtlMs: 60_000 }),
  }
}

/** Version `version` of a ruleset of `domains` domains; `limit` tells two contents apart. */
export function ruleset(version: number, domains = 8, limit = version * 10): RulesDocument {
  return {
    version,
    domains: Array.from({ length: domains }, (_, i) => ({
      domain: `d${i}`,
      descriptors: [{ key: 'tenant', rate_limit: { requests_per_unit: limit, unit: 'second' as const } }],
    })),
  }
}

export const fingerprint = (document: RulesDocument) => fingerprintOf(document)

export function apply(store: RulesStore, document: RulesDocument, hooks?: ApplyHooks) {
  return store.apply(document, fingerprint(document), hooks)
}

/**
 * Holds an applier before write batch `index` until `release()`: `reached` resolves once it is
 * held there, i.e. mid-apply, with batches 0…index-1 written.
 */
export function gate(index: number) {
  let release!: () => void
  let reached!: () => void
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  const atGate = new Promise<void>((resolve) => {
    reached = resolve
  })
  const hooks: ApplyHooks = {
    async beforeBatch(i) {
      if (i !== index) return
      reached()
      await released
    },
  }
  return { hooks, reached: atGate, release }
}

/** The limit every domain of a stored ruleset has (one number when it is one ruleset's content). */
export function limitsOf(domains: RulesDocument['domains']): number[] {
  return [...new Set(domains.map((d) => d.descriptors[0]?.rate_limit?.requests_per_unit ?? -1))].sort(
    (a, b) => a - b,
  )
}
