/**
 * What the ratelimiter's experiments (`chaos/ratelimiter/`) and tools need to set up and check
 * the decision service's state without knowing its Redis keys: the key prefix, one reset that
 * deletes every counter of this system, the applied rules version of a running instance, and where
 * a descriptor's counter lives (its keys; on a cluster, the master serving them).
 *
 * Functions take plain clients (a lab context, a test's ioredis client or Cluster), so nothing
 * here depends on the lab. The prefix is the service's default (no REDIS_KEY_PREFIX) unless given;
 * each chaos experiment runs under its own (experimentWorld).
 */
import { escapeGlob, type KeyUnlinker, redisClusterNodes, unlinkMatching } from '@faultline/infra'
import { escapeKey } from '@faultline/ratelimit'
import { limiterPrefix } from './engine.ts'
import { RulesStoreKeys } from './rules/store/keys.ts'
import { readStoredRules } from './rules/store/read.ts'
import type { RedisClient, StoredRules } from './rules/store/types.ts'

/** One Redis, or a Redis Cluster (each master is scanned on its own: SCAN is per node). */
export type FixtureRedis = KeyUnlinker | { nodes(role: 'master'): ClusterNode[] }

/** A cluster master's client, as much of it as the reset uses. */
export interface ClusterNode extends KeyUnlinker {
  pipeline(commands: string[][]): { exec(): Promise<Array<[Error | null, unknown]> | null> }
}

/**
 * A master's keys live in many slots, and a multi-key UNLINK across slots is refused (CROSSSLOT):
 * one UNLINK per key, pipelined, instead.
 */
function oneKeyAtATime(node: ClusterNode): KeyUnlinker {
  return {
    scan: (...args) => node.scan(...args),
    async unlink(...keys) {
      const replies = (await node.pipeline(keys.map((key) => ['unlink', key])).exec()) ?? []
      let removed = 0
      for (const [err, count] of replies) {
        if (err) throw err
        removed += Number(count)
      }
      return removed
    },
  }
}

export interface RatelimiterFixtureOptions {
  /** REDIS_KEY_PREFIX of the instances (default none). */
  keyPrefix?: string
}

export class RatelimiterFixture {
  /** Every limiter key of the instances starts with this (`ratelimiter` by default). */
  readonly limiterPrefix: string
  /** The rules distribution's keys (rules/store/keys.ts); `reset` deletes them with the counters. */
  readonly rulesKeys: RulesStoreKeys

  constructor(options: RatelimiterFixtureOptions = {}) {
    this.limiterPrefix = limiterPrefix(options.keyPrefix ?? '')
    this.rulesKeys = new RulesStoreKeys(options.keyPrefix ?? '')
  }

  /**
   * The applied ruleset in Redis as the instances read it now: the in-place layout
   * (`rulesCompareAndSet` off) or the generations one (on). pm07 samples its version, which must
   * never go backwards or be empty (version 0).
   */
  storedRules(redis: RedisClient, compareAndSet: boolean): Promise<StoredRules> {
    return readStoredRules(redis, this.rulesKeys, compareAndSet ? 'generations' : 'in-place')
  }

  /** SCAN MATCH pattern of every counter the decision service keeps. */
  pattern(): string {
    return `${escapeGlob(this.limiterPrefix)}:*`
  }

  /**
   * Deletes every counter of this system (SCAN + UNLINK, never KEYS), so a run starts from full
   * quotas. Give it a client without a keyPrefix. Returns how many keys were removed.
   */
  async reset(clients: { redis: FixtureRedis }): Promise<{ keys: number }> {
    const { redis } = clients
    const nodes = 'nodes' in redis ? redis.nodes('master').map(oneKeyAtATime) : [redis]
    let keys = 0
    for (const node of nodes) keys += await unlinkMatching(node, this.pattern())
    return { keys }
  }

  /** The rules version a running instance applies (GET /v1/rules); undefined before any. */
  async appliedVersion(baseUrl: string, timeoutMs = 2_000): Promise<number | undefined> {
    const response = await fetch(new URL('/v1/rules', baseUrl), { signal: AbortSignal.timeout(timeoutMs) })
    if (response.status === 503) return undefined
    if (!response.ok) throw new Error(`GET /v1/rules on ${baseUrl}: HTTP ${response.status}`)
    return ((await response.json()) as { version: number }).version
  }

  /**
   * The Redis keys counting one descriptor entry of `domain` (one per rule and algorithm that
   * counted it), found by SCAN: an experiment learns where its hot key lives without building the
   * key itself. The logical key is the engine's `limiterKey` (domain, then `key=value`, each
   * URI-encoded, `|`-separated) inside the limiter's hash tag.
   */
  async counterKeysOf(
    clients: { redis: FixtureRedis },
    domain: string,
    entry: { key: string; value: string },
  ): Promise<string[]> {
    const { redis } = clients
    const nodes = 'nodes' in redis ? redis.nodes('master') : [redis]
    const logical = `${encodeURIComponent(domain)}|${encodeURIComponent(entry.key)}=${encodeURIComponent(entry.value)}|`
    const pattern = `${escapeGlob(this.limiterPrefix)}:{*:${escapeGlob(escapeKey(logical))}*`
    const found: string[] = []
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        found.push(...keys)
      } while (cursor !== '0')
    }
    return found
  }

  /**
   * The Redis Cluster node serving `key` as master now (CLUSTER KEYSLOT, then CLUSTER SLOTS asked
   * of the first node that answers), with its infra component name (`redis-cluster-3`), so an
   * experiment can kill exactly the master holding its hot key (pm19).
   */
  async clusterMasterOf(nodes: readonly ClusterNodeCaller[], key: string): Promise<ClusterMaster> {
    let lastError: unknown
    for (const node of nodes) {
      try {
        const slot = Number(await node.call('CLUSTER', 'KEYSLOT', key))
        const ranges = (await node.call('CLUSTER', 'SLOTS')) as Array<
          [number, number, [string, number, string?]]
        >
        const range = ranges.find(([from, to]) => slot >= from && slot <= to)
        if (range === undefined) throw new Error(`no node serves slot ${slot} of ${key}`)
        const [host, port, id] = range[2]
        const component = redisClusterNodes.find((n) => n.port === Number(port))?.name
        return { slot, host, port: Number(port), ...(id ? { id } : {}), ...(component ? { component } : {}) }
      } catch (err) {
        lastError = err
      }
    }
    throw new Error(`no cluster node answered for ${key}: ${String(lastError)}`)
  }
}

/** The part of an ioredis client (a cluster node) `clusterMasterOf` uses. */
export interface ClusterNodeCaller {
  call(command: string, ...args: string[]): Promise<unknown>
}

export interface ClusterMaster {
  slot: number
  host: string
  port: number
  /** The node id, when CLUSTER SLOTS gives it. */
  id?: string
  /** The infra component (`redis-cluster-N`) listening on that port, when it is one of ours. */
  component?: string
}

/** An experiment's instances' settings and the fixture that reads and resets under them. */
export interface ExperimentWorld {
  env: { REDIS_KEY_PREFIX: string }
  fixture: RatelimiterFixture
}

/**
 * A chaos experiment's world: a key prefix of its own (`lab:<name>:`) for its instances' counters
 * and rules store, and the fixture under it. The rules store keeps the highest version it has
 * seen and an instance adopts it over an older RULES_FILE, so an experiment without one left its
 * ruleset in Redis for the next `./faultline up ratelimiter` (no prefix) to adopt.
 */
export function experimentWorld(name: string): ExperimentWorld {
  const keyPrefix = `lab:${name}:`
  return { env: { REDIS_KEY_PREFIX: keyPrefix }, fixture: new RatelimiterFixture({ keyPrefix }) }
}

/** What the system descriptor offers its experiments (as the notification service's `world`). */
export const fixture = { world: experimentWorld }
