/**
 * A Redis Cluster of six nodes, three masters and three replicas, beside the single Redis
 * instances. Each node is its own component (`redis-cluster-1` … `redis-cluster-6`), so a fault
 * can kill or stop one node by name and `infra up <node>` restarts it; `redis-cluster` is the
 * formation step, which depends on all six: on fresh nodes it runs `redis-cli --cluster create`,
 * on a formed cluster it only waits until the cluster is whole again.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureDebianPackage } from '../apt.ts'
import type { Component, ComponentStatus, InfraContext } from '../component.ts'
import { componentDir, daemonComponent } from '../daemon.ts'
import { run } from '../process.ts'
import { type RedisClusterNode, redisClusterNodes } from '../topology.ts'
import { redisBulkReply, redisPing, waitUntil } from '../wait.ts'

const redisServer = '/usr/bin/redis-server'
/** From the `redis-tools` package, which `redis-server` depends on. */
const redisCli = '/usr/bin/redis-cli'
export const clusterSlotCount = 16384
export const clusterMasterCount = 3

/**
 * How long a node may be unreachable before its peers mark it failing and a replica of a failed
 * master stands for election. Redis's default, 15 s, would make every "master killed" experiment
 * (pm19) wait 15 s before the failover even starts; 2 s gives a failover in about 3–4 s (the
 * timeout, the FAIL agreement, the replica's 0.5–1 s election delay), and is still long enough
 * that a busy two-core machine pausing a node for a few hundred milliseconds does not trigger one.
 */
export const clusterNodeTimeoutMs = 2000

/**
 * Directives of every node. `cluster-require-full-coverage no`: while a master is down and not
 * yet replaced, only the keys in its slots fail; with the default (yes) every node refuses every
 * key (CLUSTERDOWN) until the failover ends, which would turn "one master lost" into "the whole
 * store lost" for the experiments. `cluster_state` then stays ok while slots are uncovered, so
 * health reads `cluster_slots_ok` as well. No persistence: a rate limiter's counters live for a
 * window, and a restarted node takes its data from its master. `noeviction`: an evicted counter
 * silently admits again; a full node must answer with an error the failure policy sees.
 */
function nodeDirectives(ctx: InfraContext, node: RedisClusterNode): string[] {
  return [
    '# Written by packages/infra at every start: edit the source, not this file.',
    'bind 127.0.0.1',
    `port ${node.port}`,
    'daemonize no',
    // Protected mode only guards non-loopback clients without a password; we bind loopback only.
    'protected-mode no',
    `dir ${componentDir(ctx, node.name)}`,
    // Empty logfile = stdout, which the CLI appends to <name>.log.
    'logfile ""',
    'cluster-enabled yes',
    // The node's identity and its view of the cluster, kept across restarts (relative to dir):
    // a killed node that comes back rejoins as the same node, which is what lets it find its place.
    'cluster-config-file nodes.conf',
    `cluster-node-timeout ${clusterNodeTimeoutMs}`,
    'cluster-require-full-coverage no',
    'maxmemory 128mb',
    'maxmemory-policy noeviction',
    'save ""',
    'appendonly no',
    '',
  ]
}

/** What one node says about itself, for `status`: its role and, for a master, its slots. */
async function nodeDetail(node: RedisClusterNode): Promise<string | undefined> {
  const view = parseClusterNodes((await redisBulkReply(node.port, ['CLUSTER', 'NODES'])) ?? '')
  const self = view.find((n) => n.flags.includes('myself'))
  if (self === undefined) return undefined
  if (self.flags.includes('slave')) {
    const master = view.find((n) => n.id === self.masterId)
    return `replica of ${master === undefined ? 'an unknown master' : `127.0.0.1:${master.port}`}`
  }
  return self.slots === 0 ? 'master without slots (not formed yet)' : `master, ${self.slots} slots`
}

function nodeComponent(node: RedisClusterNode): Component {
  const confFile = (ctx: InfraContext) => join(componentDir(ctx, node.name), 'redis.conf')
  return daemonComponent({
    name: node.name,
    dependsOn: [],
    ports: [node.port, node.busPort],
    address: `127.0.0.1:${node.port}`,
    executable: () => redisServer,
    install: (ctx) => ensureDebianPackage(ctx, node.name, 'redis-server', redisServer),
    async prepare(ctx) {
      writeFileSync(confFile(ctx), nodeDirectives(ctx, node).join('\n'))
    },
    command: (ctx) => ({ command: redisServer, args: [confFile(ctx)], cwd: componentDir(ctx, node.name) }),
    healthy: () => redisPing(node.port),
    detail: () => nodeDetail(node),
    startTimeoutMs: 30_000,
  })
}

/** The six node components, in formation order. */
export const redisClusterNodeComponents: Component[] = redisClusterNodes.map(nodeComponent)

/** One line of CLUSTER NODES. */
export interface ClusterNodeLine {
  id: string
  port: number
  flags: string[]
  /** For a replica, its master's id. */
  masterId: string | undefined
  connected: boolean
  /** The slot ranges it serves (a master), inclusive: `[[0, 5460]]`. */
  ranges: Array<[number, number]>
  /** How many slots it serves. */
  slots: number
}

/**
 * Parses CLUSTER NODES: `<id> <ip:port@bus[,hostname]> <flags> <master|-> <ping> <pong> <epoch>
 * <link> <slot ranges…>`; `[slot->-id]` entries are slots being migrated, not served.
 */
export function parseClusterNodes(text: string): ClusterNodeLine[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '')
  return lines.map((line) => {
    const [id = '', address = '', flags = '', master = '-', , , , link = '', ...slotFields] = line
      .trim()
      .split(' ')
    const ranges = slotFields
      .filter((field) => !field.startsWith('['))
      .map((field): [number, number] => {
        const [from = 0, to = from] = field.split('-').map(Number)
        return [from, to]
      })
    const slots = ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0)
    return {
      id,
      port: Number(address.slice(address.lastIndexOf(':', address.indexOf('@')) + 1, address.indexOf('@'))),
      flags: flags.split(','),
      masterId: master === '-' ? undefined : master,
      connected: link === 'connected',
      ranges,
      slots,
    }
  })
}

/** CLUSTER INFO as a map (`cluster_state` → `ok`). */
export function parseClusterInfo(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
  )
}

const failing = (n: ClusterNodeLine) => n.flags.some((f) => f === 'fail' || f === 'fail?' || f === 'noaddr')

export interface ClusterHealth {
  healthy: boolean
  /** How many of the six nodes answered. */
  answering: number
  /** E.g. `3 masters (17001, 17002, 17003), 3 replicas`, from the first node that answers. */
  summary: string
  /** Everything that keeps it from being healthy, one sentence each. */
  problems: string[]
}

/** What one node says is wrong with the cluster (state, slots served, nodes known); undefined: no answer. */
async function nodeInfoProblems(node: RedisClusterNode): Promise<string[] | undefined> {
  const text = await redisBulkReply(node.port, ['CLUSTER', 'INFO'])
  if (text === undefined) return undefined
  const info = parseClusterInfo(text)
  const problems: string[] = []
  if (info.cluster_state !== 'ok') problems.push(`${node.name}: cluster_state ${info.cluster_state}`)
  if (info.cluster_slots_ok !== String(clusterSlotCount))
    problems.push(`${node.name}: ${info.cluster_slots_ok ?? 0} of ${clusterSlotCount} slots served`)
  if (info.cluster_known_nodes !== String(redisClusterNodes.length))
    problems.push(`${node.name}: knows ${info.cluster_known_nodes ?? 0} of ${redisClusterNodes.length} nodes`)
  return problems
}

/** Roles as one node sees them: 3 masters covering every slot, each with a replica. */
function roleProblems(view: ClusterNodeLine[]): { summary: string; problems: string[] } {
  const masters = view.filter((n) => n.flags.includes('master') && !failing(n) && n.slots > 0)
  const replicas = view.filter((n) => n.flags.includes('slave') && !failing(n))
  const problems: string[] = []
  if (masters.length !== clusterMasterCount)
    problems.push(`${masters.length} masters serve slots, want ${clusterMasterCount}`)
  for (const master of masters) {
    if (!replicas.some((r) => r.masterId === master.id))
      problems.push(`master 127.0.0.1:${master.port} has no replica`)
  }
  for (const node of view.filter((n) => failing(n) || !n.connected)) {
    if (!node.flags.includes('myself')) problems.push(`127.0.0.1:${node.port} is ${node.flags.join(',')}`)
  }
  const ports = masters.map((m) => m.port).sort((a, b) => a - b)
  return { summary: `${masters.length} masters (${ports.join(', ')}), ${replicas.length} replicas`, problems }
}

/**
 * Healthy = formed and whole: every node answers, says `cluster_state:ok`, serves all 16384 slots
 * and knows all six nodes; three masters serve the slots, each with a replica. A master killed and
 * restarted rejoins as a replica of the node that replaced it, which is just as healthy.
 */
export async function redisClusterHealth(): Promise<ClusterHealth> {
  const perNode = await Promise.all(redisClusterNodes.map(nodeInfoProblems))
  const answering = perNode.filter((p) => p !== undefined).length
  const problems = perNode.flatMap((p, i) => p ?? [`${redisClusterNodes[i]?.name} does not answer`])
  let summary = 'no node answers'
  for (const node of redisClusterNodes) {
    const text = await redisBulkReply(node.port, ['CLUSTER', 'NODES'])
    if (text === undefined) continue
    const roles = roleProblems(parseClusterNodes(text))
    summary = roles.summary
    problems.push(...roles.problems)
    break
  }
  return { healthy: problems.length === 0, answering, summary, problems }
}

/** A node that has never been part of a cluster: it knows only itself and serves no slot. */
async function isFresh(node: RedisClusterNode): Promise<boolean> {
  const text = await redisBulkReply(node.port, ['CLUSTER', 'INFO'])
  if (text === undefined) throw new Error(`${node.name} does not answer CLUSTER INFO`)
  const info = parseClusterInfo(text)
  return info.cluster_known_nodes === '1' && info.cluster_slots_assigned === '0'
}

const formationName = 'redis-cluster'
const formationLog = (ctx: InfraContext) => join(componentDir(ctx, formationName), `${formationName}.log`)

/** `redis-cli --cluster create`: the first three nodes become masters, one replica each. */
async function createCluster(ctx: InfraContext): Promise<void> {
  const addresses = redisClusterNodes.map((node) => `127.0.0.1:${node.port}`)
  const args = ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes']
  ctx.log(`${formationName}: forming the cluster (redis-cli ${args.join(' ')})…`)
  const result = await run(redisCli, args, { timeoutMs: 60_000 })
  appendFileSync(formationLog(ctx), `$ redis-cli ${args.join(' ')}\n${result.stdout}${result.stderr}\n`)
  if (result.code !== 0) {
    throw new Error(`redis-cli --cluster create exited with ${result.code}; see ${formationLog(ctx)}`)
  }
}

const resetHint =
  'reset the cluster: `./faultline infra down redis-cluster && rm -rf .faultline/infra/redis-cluster-*`, then `infra up`'

async function formationUp(ctx: InfraContext): Promise<void> {
  mkdirSync(componentDir(ctx, formationName), { recursive: true })
  const fresh = await Promise.all(redisClusterNodes.map(isFresh))
  if (fresh.every(Boolean)) await createCluster(ctx)
  else if (fresh.some(Boolean)) {
    const names = redisClusterNodes.filter((_, i) => fresh[i]).map((n) => n.name)
    throw new Error(
      `${names.join(', ')} never joined the cluster the others form (state dir removed?); ${resetHint}`,
    )
  }
  const started = Date.now()
  await waitUntil(formationName, async () => (await redisClusterHealth()).healthy, {
    timeoutMs: 60_000,
    intervalMs: 250,
  }).catch(async (err: Error) => {
    const health = await redisClusterHealth()
    throw new Error(`${err.message}: ${health.problems.join('; ')}\n(if it stays so, ${resetHint})`)
  })
  const health = await redisClusterHealth()
  const took = ((Date.now() - started) / 1000).toFixed(1)
  ctx.log(`${formationName}: healthy, ${health.summary} (waited ${took} s)`)
}

/**
 * The formation step as a component: no process of its own. `down` stops the six nodes (each
 * keeps its nodes.conf, so the next `up` finds the cluster formed; the keys are not persisted);
 * `status` is the cluster's health.
 */
export const redisCluster: Component = {
  name: formationName,
  dependsOn: redisClusterNodes.map((node) => node.name),
  install: (ctx) => ensureDebianPackage(ctx, formationName, 'redis-tools', redisCli),
  logFile: formationLog,
  up: formationUp,
  async down(ctx) {
    for (const node of [...redisClusterNodeComponents].reverse()) await node.down(ctx)
  },
  async status(): Promise<ComponentStatus> {
    const health = await redisClusterHealth()
    const first = redisClusterNodes[0]?.port
    const last = redisClusterNodes.at(-1)?.port
    return {
      name: formationName,
      running: health.answering > 0,
      healthy: health.healthy,
      address: `127.0.0.1:${first}-${last}`,
      detail:
        health.answering === 0
          ? 'no node answers'
          : health.healthy
            ? health.summary
            : `${health.summary}; ${health.problems.join('; ')}`,
    }
  },
}
