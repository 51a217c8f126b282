/**
 * pm19's fault on the Redis Cluster: kill -9 the master serving the hot key's slot, watch its
 * replica take over, and make the cluster whole again afterwards — the killed node restarts and
 * rejoins as a replica of the node that replaced it. The cluster is one infra component per node
 * (`redis-cluster-1` … `-6`), so the kill is the lab's own `kill(infra(node))`, with its heal; this
 * only finds which node to kill at the moment of the fault (a failover in an earlier mode or run
 * moves masters around) and waits for the formation step's health (`cluster_state:ok`, every slot
 * served, each master with a replica) so the next mode starts on a healthy cluster.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type Action,
  action,
  type FaultContext,
  type HookContext,
  infra,
  kill,
  type LabContext,
} from '@faultline/lab'
import type { ClusterMaster, RatelimiterFixture } from '@faultline/ratelimiter/fixture'
import type { HotKeyLimit } from './decision-rules.ts'

/** The formation component: `up` on it waits until the cluster is healthy (up to 60 s). */
const formation = 'redis-cluster'
/** How long a failover may take before the action says none happened (node timeout 2 s + election). */
const failoverTimeoutMs = 20_000

type ClusterClient = LabContext['redisCluster']

/**
 * The lab's cluster client, connected (it is lazy: before its first command it knows no node) and
 * with a fresh slot map: after a failover its view of the masters is stale until refreshed.
 */
export async function connectedCluster(ctx: LabContext): Promise<ClusterClient> {
  const cluster = ctx.redisCluster
  if (cluster.status === 'wait') await cluster.connect()
  if (cluster.status !== 'ready') await cluster.ping()
  await new Promise<void>((resolve, reject) =>
    cluster.refreshSlotsCache((err) => (err ? reject(err) : resolve())),
  )
  return cluster
}

/** Starts whatever node is down and waits until the cluster is healthy again. */
export async function healCluster(ctx: HookContext): Promise<void> {
  await ctx.infra.start(formation)
}

/**
 * The Redis key of `value`'s counter under `limit` (a decision made it: setup's, for the hot key),
 * looked for on every node (a replica holds its master's keys too), so a node that is down does
 * not hide it.
 */
export async function counterKeyOf(
  ctx: LabContext,
  fixture: RatelimiterFixture,
  limit: HotKeyLimit,
  value: string,
): Promise<string> {
  const cluster = await connectedCluster(ctx)
  const entry = { key: limit.descriptorKey, value }
  const found = new Set<string>()
  for (const node of cluster.nodes('all')) {
    const keys = await fixture.counterKeysOf({ redis: node }, limit.domain, entry).catch(() => [])
    for (const key of keys) found.add(key)
  }
  if (found.size !== 1) {
    throw new Error(
      `expected one counter of ${limit.domain} ${limit.descriptorKey}=${value}, found ${found.size}`,
    )
  }
  return [...found][0] as string
}

/** The master serving `key` now, asked of every node the client knows until one answers. */
export async function masterOf(
  ctx: LabContext,
  fixture: RatelimiterFixture,
  key: string,
): Promise<ClusterMaster> {
  const cluster = await connectedCluster(ctx)
  return fixture.clusterMasterOf(cluster.nodes('all'), key)
}

async function waitForFailover(
  ctx: FaultContext,
  fixture: RatelimiterFixture,
  key: string,
  killedPort: number,
): Promise<ClusterMaster | undefined> {
  const deadline = Date.now() + failoverTimeoutMs
  while (Date.now() < deadline && !ctx.signal.aborted) {
    const master = await masterOf(ctx, fixture, key).catch(() => undefined)
    if (master && master.port !== killedPort) return master
    await sleep(100, undefined, { signal: ctx.signal }).catch(() => {})
  }
  return undefined
}

/** The note that says a replica took over; the invariant reads it back from the event. */
export const tookOverNote = 'took over'

/**
 * kill -9 of the master serving `value`'s counter under `limit`; the action returns once a
 * replica serves the slot (or after 20 s), its note saying which node and how fast. Healed by
 * the lab's kill heal (the node starts again), then the wait for a healthy cluster.
 */
export function killHotKeyMaster(fixture: RatelimiterFixture, limit: HotKeyLimit, value: string): Action {
  return action(
    `kill -9 the cluster master serving ${limit.domain} ${limit.descriptorKey}=${value}`,
    async (ctx) => {
      const key = await counterKeyOf(ctx, fixture, limit, value)
      const master = await masterOf(ctx, fixture, key)
      if (!master.component)
        throw new Error(`127.0.0.1:${master.port} is not one of the infra's cluster nodes`)
      const killedAtMs = Date.now()
      const killed = await kill(infra(master.component)).run(ctx)
      const replica = await waitForFailover(ctx, fixture, key, master.port)
      const tookS = ((Date.now() - killedAtMs) / 1000).toFixed(1)
      const what = `killed ${master.component} (127.0.0.1:${master.port}, master of slot ${master.slot})`
      return {
        note: replica
          ? `${what}; replica 127.0.0.1:${replica.port} ${tookOverNote} in ${tookS} s`
          : `${what}; no replica took over within ${failoverTimeoutMs / 1000} s`,
        heal: async (reason) => {
          const note = await killed?.heal?.(reason)
          await healCluster(ctx)
          return `${note ?? `${master.component} started`}; cluster healthy`
        },
      }
    },
  )
}
