/**
 * pm16's view of the shared Kafka broker, and its "small broker": a connection quota.
 *
 * The incident's broker ran out of heap under hundreds of thousands of producer connections. The
 * lab's broker is shared by every system and every helper and must not be restarted with another
 * heap (it already runs with -Xmx512m), and the connections a CI run can leak in a few seconds
 * (hundreds) cost it a few MB: an out-of-memory cannot be reproduced here. What runs out instead
 * is a quota set for the mode: the dynamic broker config `max.connections.per.ip`, set through
 * the admin API to the broker's connections at that moment plus a small headroom, and removed
 * again at the heal. Every client of this lab connects from 127.0.0.1, so the quota is the room
 * the whole broker has left for new connections: the "small broker". A broker over its per-IP
 * quota closes each new connection at once; a client then fails to connect.
 *
 * What climbs is read from the outside: the broker's established connections (`ss`, server side
 * of its three listeners) and its resident memory (/proc/<pid>/status of the process listening on
 * the client listener), sampled every second while the mode runs.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { type Action, action, type LabContext, type Mode } from '@faultline/lab'

/** The broker's listeners: CLIENT (through Toxiproxy), CONTROLLER, DIRECT (topology.ts). */
const brokerPorts = [19092, 19093, 19094]
/** kafkajs' ConfigResourceTypes.BROKER; DescribeConfigs' source DYNAMIC_BROKER_CONFIG. */
const brokerResource = 4
const dynamicBrokerConfig = 1
const quotaName = 'max.connections.per.ip'

/** Established TCP connections the broker holds (its side of them), on every listener. */
export function brokerConnections(): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established'], { encoding: 'utf8' })
  let n = 0
  for (const line of out.split('\n')) {
    const local = line.trim().split(/\s+/)[2] ?? ''
    const port = Number(local.slice(local.lastIndexOf(':') + 1))
    if (brokerPorts.includes(port)) n++
  }
  return n
}

/** Established TCP connections process `pid` holds to the broker's client port through Toxiproxy (29092). */
export function kafkaConnectionsOf(pid: number): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', 'dport', '=', ':29092'], {
    encoding: 'utf8',
  })
  return out.split('\n').filter((line) => line.includes(`pid=${pid},`)).length
}

function brokerPid(): number | undefined {
  const out = execFileSync('ss', ['-Hltnp', 'sport', '=', ':19092'], { encoding: 'utf8' })
  const m = /pid=(\d+)/.exec(out)
  return m ? Number(m[1]) : undefined
}

/** The broker's resident memory in MiB, or undefined when it cannot be read. */
export function brokerRssMiB(): number | undefined {
  try {
    const pid = brokerPid()
    if (pid === undefined) return undefined
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : undefined
  } catch {
    return undefined
  }
}

export interface BrokerReadings {
  /** The broker's connections when the sampler started (setup, before the load). */
  baseline: number
  peak: number
  /** The relay process' own connections to Kafka: at the start, at most. */
  relayStart: number
  relayPeak: number
  rssStartMiB: number | undefined
  rssPeakMiB: number | undefined
  /** The quota set for the mode, when the fault ran. */
  quota?: number
}

const readings = new Map<Mode, BrokerReadings>()
const samplers = new Map<Mode, NodeJS.Timeout>()

/**
 * Starts sampling the broker and the relay process `relayPid` every second for this mode (stopped
 * by stopSampling, or at the mode's next start).
 */
export function startSampling(mode: Mode, relayPid: number): void {
  stopSampling(mode)
  const rss = brokerRssMiB()
  const baseline = brokerConnections()
  const relay = kafkaConnectionsOf(relayPid)
  const r: BrokerReadings = {
    baseline,
    peak: baseline,
    relayStart: relay,
    relayPeak: relay,
    rssStartMiB: rss,
    rssPeakMiB: rss,
  }
  readings.set(mode, r)
  const timer = setInterval(() => {
    try {
      r.peak = Math.max(r.peak, brokerConnections())
      r.relayPeak = Math.max(r.relayPeak, kafkaConnectionsOf(relayPid))
      const now = brokerRssMiB()
      if (now !== undefined) r.rssPeakMiB = Math.max(r.rssPeakMiB ?? 0, now)
    } catch {
      // A failed reading is skipped; the next second reads again.
    }
  }, 1000)
  timer.unref()
  samplers.set(mode, timer)
}

export function stopSampling(mode: Mode): void {
  clearInterval(samplers.get(mode))
  samplers.delete(mode)
}

export function readingsOf(mode: Mode): BrokerReadings | undefined {
  return readings.get(mode)
}

type Admin = Awaited<ReturnType<LabContext['kafka']['admin']>>

/** The broker's id, whether it has a quota set, and its other dynamic configs. */
async function dynamicBrokerConfigs(admin: Admin) {
  const { brokers } = await admin.describeCluster()
  const name = String(brokers[0]?.nodeId ?? 1)
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: brokerResource, name }],
  })
  const dynamic = (described.resources[0]?.configEntries ?? []).filter(
    (e) => e.configSource === dynamicBrokerConfig && e.configValue !== null,
  )
  return {
    name,
    hasQuota: dynamic.some((e) => e.configName === quotaName),
    others: dynamic
      .filter((e) => e.configName !== quotaName)
      .map((e) => ({ name: e.configName, value: e.configValue })),
  }
}

/**
 * Removes a quota an aborted earlier run left on the shared broker (a lab killed before its heal),
 * so no mode starts on a broker that refuses connections. Returns whether there was one.
 */
export async function clearLeftoverQuota(ctx: LabContext): Promise<boolean> {
  const admin = await ctx.kafka.admin()
  const { name, hasQuota, others } = await dynamicBrokerConfigs(admin)
  if (!hasQuota) return false
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: brokerResource, name, configEntries: others }],
  })
  return true
}

/**
 * Sets `max.connections.per.ip` on the broker to its connections now plus `headroom`; the heal
 * puts back the broker's dynamic configs as they were (the admin API's AlterConfigs replaces a
 * resource's whole dynamic set, so the others are written back with it).
 */
export function connectionQuota(headroom: number): Action {
  return action(
    `${quotaName} = broker connections + ${headroom} (a broker with little room left)`,
    async (ctx) => {
      const admin = await ctx.kafka.admin()
      const { name, others } = await dynamicBrokerConfigs(admin)
      const quota = brokerConnections() + headroom
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: brokerResource,
            name,
            configEntries: [...others, { name: quotaName, value: String(quota) }],
          },
        ],
      })
      const r = readings.get(ctx.mode)
      if (r) r.quota = quota
      return {
        note: `${quotaName}=${quota} on broker ${name}`,
        heal: async () => {
          await admin.alterConfigs({
            validateOnly: false,
            resources: [{ type: brokerResource, name, configEntries: others }],
          })
          return `${quotaName} removed`
        },
      }
    },
  )
}
