/**
 * Apache Kafka as a plain JVM process: one KRaft node that is both broker and controller.
 *
 * Version: 4.1.2, the latest 4.1 patch on Maven Central. Kafka 4.x removed old protocol versions
 * (KIP-896), so we checked that kafkajs 2.2.4 still speaks everything it needs, and it does:
 * - kafkajs sends min(its newest implemented version, the broker's max) and never goes below
 *   what 4.1.2 still accepts. Versions it negotiated against 4.1.2 (broker range in brackets):
 *   Produce 7 [0-13], Fetch 11 [4-18], ListOffsets 3 [1-10], Metadata 6 [0-13], OffsetCommit 5
 *   [2-9], OffsetFetch 4 [1-9], FindCoordinator 2 [0-6], JoinGroup 5 [0-9], SyncGroup 3 [0-5],
 *   Heartbeat 3 [0-4], LeaveGroup 3 [0-5], CreateTopics 3 [2-7], DeleteTopics 1 [1-6],
 *   DescribeConfigs 2 [1-4], AlterConfigs 1 [0-2], InitProducerId 1, AddPartitionsToTxn 1,
 *   AddOffsetsToTxn 1, TxnOffsetCommit 1, EndTxn 1, DescribeGroups 2, ListGroups 2, DeleteGroups 1.
 *   The clients that broke on 4.0 (kafka-go, brod, kafka_ex: apache/kafka#20116, KAFKA-19444)
 *   sent JoinGroup v0/v1; kafkajs sends v5, and 4.0.1+/4.1.0+ accept v0/v1 again anyway.
 * - test/kafka.infra.test.ts passes on 4.1.2: keyed produce, a group joins, consumes, commits, is
 *   restarted, a second member joins (rebalance to 2 members), both resume from the committed
 *   offsets with no re-delivery — on the DIRECT listener and through Toxiproxy.
 * - A one-off probe also passed: transactional produce + sendOffsets + abort (read_committed
 *   consumer sees only committed records), idempotent gzip produce, createPartitions,
 *   describe/alterConfigs, fetchTopicOffsetsByTimestamp, seek, listGroups, setOffsets,
 *   resetOffsets, deleteGroups, deleteTopics.
 * Nothing failed, so 3.9.x (the fallback) is not needed. The one wart was kafkajs' own
 * `TimeoutNegativeWarning` on Node ≥ 23 (tulios/kafkajs#1751), with any broker: an idle request
 * queue scheduled a timer of about -Date.now() ms that rescheduled itself, a 1 ms loop per
 * connection. `patches/kafkajs@2.2.4.patch` fixes it (test/kafkajs-warning.infra.test.ts).
 *
 * Route: no Docker and no tarball download. The broker's jars come from Maven Central through
 * `infra/kafka/pom.xml` (kafka_2.13, its runtime dependencies, and the Log4j 2 SLF4J binding the
 * published POM leaves out), copied by `mvn dependency:copy-dependencies` into
 * `<cacheDir>/kafka-<version>/libs`, retried with backoff (download.ts). A marker file holds the
 * POM's hash, so a second `install` does nothing and an edited POM resolves again.
 *
 * Listeners (ports from topology.ts):
 * - CLIENT 127.0.0.1:19092, advertised as 127.0.0.1:29092 — the Toxiproxy proxy `kafka`. A client
 *   that bootstraps through the proxy is told to come back through the proxy, so every reconnect
 *   (and the group coordinator connection) crosses it and toxics apply to all of them.
 * - DIRECT 127.0.0.1:19094, advertised as itself: health checks and admin work, never toxics.
 * - CONTROLLER 127.0.0.1:19093: the KRaft quorum of one.
 *
 * State lives in `<stateDir>/kafka/`: server.properties (rewritten on every start), data/,
 * kafka.pid and kafka.log.
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { runInstallingIfAbsent } from './apt.ts'
import {
  type Component,
  type ComponentStatus,
  type InfraContext,
  MissingPrerequisiteError,
} from './component.ts'
import { retryDownload } from './download.ts'
import { assertPortsFree } from './ports.ts'
import {
  describeProcess,
  isAlive,
  readPidFile,
  runChecked,
  spawnDetached,
  stopProcess,
  tailFile,
} from './process.ts'
import { ports, proxies } from './topology.ts'
import { waitUntil } from './wait.ts'

/** Must match `<kafka.version>` in infra/kafka/pom.xml (test/kafka.test.ts checks it). */
export const kafkaVersion = '4.1.2'

const host = '127.0.0.1'
const infraDir = fileURLToPath(new URL('../../../infra/kafka/', import.meta.url))
export const kafkaPomFile = join(infraDir, 'pom.xml')
const log4jConfigFile = join(infraDir, 'log4j2.properties')

/** How long `up` waits for the broker to answer metadata on the DIRECT listener. */
const startTimeoutMs = 90_000
/** How long `down` waits after SIGTERM before SIGKILL (a controlled shutdown takes a few seconds). */
const stopTimeoutMs = 30_000
/** A cold ~/.m2 downloads ~45 MB of jars. */
const resolveTimeoutMs = 10 * 60_000

interface KafkaPaths {
  dir: string
  dataDir: string
  config: string
  pidFile: string
  log: string
  home: string
  libs: string
  marker: string
}

function kafkaPaths(ctx: InfraContext): KafkaPaths {
  const dir = join(ctx.stateDir, 'kafka')
  const home = join(ctx.cacheDir, `kafka-${kafkaVersion}`)
  return {
    dir,
    dataDir: join(dir, 'data'),
    config: join(dir, 'server.properties'),
    pidFile: join(dir, 'kafka.pid'),
    log: join(dir, 'kafka.log'),
    home,
    libs: join(home, 'libs'),
    marker: join(home, 'resolved.json'),
  }
}

/**
 * Single-node settings: every internal topic has replication factor 1 (there is no second
 * broker), consumer groups rebalance at once instead of waiting 3 s for more members, topics
 * appear on first use with 3 partitions, and retention is small because this is a lab.
 */
function serverProperties(p: KafkaPaths): string {
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@${host}:${ports.kafkaController}`,
    'controller.listener.names': 'CONTROLLER',
    listeners: `CLIENT://${host}:${ports.kafka},DIRECT://${host}:${ports.kafkaDirect},CONTROLLER://${host}:${ports.kafkaController}`,
    'advertised.listeners': `CLIENT://${host}:${proxies.kafka.listenPort},DIRECT://${host}:${ports.kafkaDirect}`,
    'listener.security.protocol.map': 'CLIENT:PLAINTEXT,DIRECT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    // The broker's own connections (to itself, to the controller) must never cross a toxic.
    'inter.broker.listener.name': 'DIRECT',
    'log.dirs': p.dataDir,
    'num.partitions': 3,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    // The default 50 offsets partitions make the first consumer group wait for 50 partitions.
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 10,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': true,
    'delete.topic.enable': true,
    'log.retention.ms': 60 * 60 * 1000,
    'log.retention.bytes': 100 * 1024 * 1024,
    'log.segment.bytes': 16 * 1024 * 1024,
    'log.retention.check.interval.ms': 60_000,
    // Two cores on the lab machines: the defaults (3 network, 8 I/O threads) only add contention.
    'num.network.threads': 2,
    'num.io.threads': 4,
  }
  const lines = Object.entries(settings).map(([key, value]) => `${key}=${value}`)
  return `# Written by packages/infra/src/kafka.ts on every start; edit that file, not this one.\n${lines.join('\n')}\n`
}

/** JVM options shared by the broker and StorageTool: the classpath and where Log4j 2 writes. */
function jvmBaseArgs(p: KafkaPaths): string[] {
  return [
    `-Dlog4j2.configurationFile=${log4jConfigFile}`,
    `-Dkafka.logs.dir=${p.dir}`,
    '-cp',
    // The JVM expands `dir/*` itself; no shell is involved.
    join(p.libs, '*'),
  ]
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

// ---------------------------------------------------------------------------------------------
// Prerequisites and jar resolution

/**
 * Java 17+ for the broker. A machine with no `java` at all gets Debian's default JRE (17 on
 * bookworm, 21 on trixie) when we may run apt; an older Java is the user's to replace.
 */
async function checkJava(ctx: InfraContext): Promise<void> {
  const hint = 'apt-get install openjdk-17-jre-headless'
  const jre = { name: 'default-jre-headless', probeFile: '/usr/bin/java' }
  const result = await runInstallingIfAbsent(ctx, 'kafka', 'java', ['-version'], jre, 30_000)
  if (result.code !== 0) throw new MissingPrerequisiteError('java (JDK 17+)', hint)
  // `openjdk version "17.0.15"`, or `"1.8.0_392"` for Java 8.
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`)
  const major = match === null ? 0 : Number(match[1]) === 1 ? Number(match[2]) : Number(match[1])
  if (major < 17) {
    const found = match === null ? 'an unrecognised `java -version`' : `Java ${major}`
    throw new MissingPrerequisiteError(`java (JDK 17+), found ${found}`, hint)
  }
}

/** Maven resolves the broker's jars from Central (once; they are cached under ~/.m2). */
async function checkMaven(ctx: InfraContext): Promise<void> {
  const maven = { name: 'maven', probeFile: '/usr/bin/mvn' }
  const result = await runInstallingIfAbsent(ctx, 'kafka', 'mvn', ['-v'], maven, 60_000)
  if (result.code !== 0) throw new MissingPrerequisiteError('maven', 'apt-get install maven')
}

interface ResolvedMarker {
  kafkaVersion: string
  pomSha256: string
}

async function isResolved(p: KafkaPaths, pomSha256: string): Promise<boolean> {
  try {
    const marker = JSON.parse(await readFile(p.marker, 'utf8')) as ResolvedMarker
    return (
      marker.kafkaVersion === kafkaVersion &&
      marker.pomSha256 === pomSha256 &&
      existsSync(join(p.libs, `kafka_2.13-${kafkaVersion}.jar`))
    )
  } catch {
    return false
  }
}

/** Copies the broker's jars into `<cacheDir>/kafka-<version>/libs`; a no-op when already there. */
async function resolveJars(ctx: InfraContext, p: KafkaPaths): Promise<void> {
  const pomSha256 = createHash('sha256')
    .update(await readFile(kafkaPomFile))
    .digest('hex')
  if (await isResolved(p, pomSha256)) return
  await checkMaven(ctx)
  const startedAt = Date.now()
  ctx.log(`kafka: resolving Kafka ${kafkaVersion} jars from Maven Central into ${p.libs}…`)
  // Copy into a staging dir and rename, so an interrupted download never looks resolved.
  const staging = `${p.libs}.partial-${process.pid}`
  await rm(staging, { recursive: true, force: true })
  await mkdir(p.home, { recursive: true })
  try {
    await retryDownload(
      `Kafka ${kafkaVersion} jars (Maven Central, ${kafkaPomFile})`,
      ({ attempt }) =>
        runChecked(
          'mvn',
          [
            '--batch-mode',
            '--quiet',
            '-Dstyle.color=never',
            // Maven remembers a failed download in ~/.m2 and refuses to try again until its update
            // interval passes; a retry must force the check or it fails on the remembered failure.
            ...(attempt > 1 ? ['--update-snapshots'] : []),
            '--file',
            kafkaPomFile,
            'dependency:copy-dependencies',
            `-DoutputDirectory=${staging}`,
            '-DincludeScope=runtime',
          ],
          { timeoutMs: resolveTimeoutMs },
        ),
      { log: ctx.log },
    )
    if (!existsSync(join(staging, `kafka_2.13-${kafkaVersion}.jar`))) {
      throw new Error(`kafka: mvn finished but ${staging} has no kafka_2.13-${kafkaVersion}.jar`)
    }
    await rm(p.libs, { recursive: true, force: true })
    await rename(staging, p.libs)
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  const marker: ResolvedMarker = { kafkaVersion, pomSha256 }
  await writeFile(p.marker, `${JSON.stringify(marker, null, 2)}\n`)
  ctx.log(`kafka: resolved ${(await readdir(p.libs)).length} jars in ${seconds(Date.now() - startedAt)}`)
}

// ---------------------------------------------------------------------------------------------
// Storage format, health, processes

/** A KRaft cluster id: 16 random bytes, base64url without padding, never starting with '-'. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

/** Formats the data dir once; `meta.properties` there means it is done. */
async function formatStorage(ctx: InfraContext, p: KafkaPaths): Promise<void> {
  if (existsSync(join(p.dataDir, 'meta.properties'))) return
  const clusterId = newClusterId()
  ctx.log(`kafka: formatting ${p.dataDir} (cluster id ${clusterId})`)
  await runChecked(
    'java',
    [
      ...jvmBaseArgs(p),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      p.config,
      '--ignore-formatted',
    ],
    { timeoutMs: 120_000 },
  )
}

export type KafkaHealth = { healthy: true; clusterId: string } | { healthy: false; reason: string }

/**
 * Asks for cluster metadata on the DIRECT listener, bounded by `timeoutMs`. Healthy means node 1
 * is a registered broker and a controller is elected, so clients can produce and join groups.
 */
export async function probeKafka(timeoutMs = 3_000): Promise<KafkaHealth> {
  const client = new Kafka({
    clientId: 'faultline-infra-health',
    brokers: [`${host}:${ports.kafkaDirect}`],
    connectionTimeout: Math.min(timeoutMs, 1_000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  })
  const admin = client.admin({ retry: { retries: 0 } })
  const attempt = async (): Promise<KafkaHealth> => {
    await admin.connect()
    const cluster = await admin.describeCluster()
    if (!cluster.brokers.some((broker) => broker.nodeId === 1)) {
      return { healthy: false, reason: 'node 1 is not a registered broker yet' }
    }
    if (cluster.controller === null) return { healthy: false, reason: 'no active controller yet' }
    return { healthy: true, clusterId: cluster.clusterId }
  }
  const timedOut = sleep(
    timeoutMs + 500,
    { healthy: false, reason: `no metadata within ${timeoutMs} ms` } as const,
    {
      ref: false,
    },
  )
  try {
    return await Promise.race([
      attempt().catch((err: Error): KafkaHealth => ({ healthy: false, reason: err.message })),
      timedOut,
    ])
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

/**
 * Our broker JVMs: the pid in the pid file when it still runs our command line, plus any
 * `kafka.Kafka <our server.properties>` process (the pid file may be lost), so `down` leaves no
 * stray broker behind.
 */
function brokerPids(p: KafkaPaths): number[] {
  const isOurs = (cmdline: string) => cmdline.includes(' kafka.Kafka ') && cmdline.endsWith(p.config)
  const pids = new Set<number>()
  const fromFile = readPidFile(p.pidFile)
  if (fromFile !== undefined && isAlive(fromFile) && isOurs(describeProcess(fromFile).cmdline))
    pids.add(fromFile)
  let entries: string[] = []
  try {
    entries = readdirSync('/proc')
  } catch {}
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const pid = Number(entry)
    if (isOurs(describeProcess(pid).cmdline) && isAlive(pid)) pids.add(pid)
  }
  return [...pids]
}

async function start(ctx: InfraContext, p: KafkaPaths): Promise<number> {
  assertPortsFree('kafka', [ports.kafka, ports.kafkaController, ports.kafkaDirect])
  await mkdir(p.dataDir, { recursive: true })
  await writeFile(p.config, serverProperties(p))
  await formatStorage(ctx, p)
  const pid = spawnDetached({
    command: 'java',
    args: [
      // Capped so the whole topology fits a small machine; plenty for a lab broker.
      '-Xmx512m',
      '-Xms256m',
      // kafka-run-class.sh's default JVM flags, minus JMX.
      '-server',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35',
      '-XX:+ExplicitGCInvokesConcurrent',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      ...jvmBaseArgs(p),
      'kafka.Kafka',
      p.config,
    ],
    cwd: p.dir,
    logFile: p.log,
  })
  await writeFile(p.pidFile, `${pid}\n`)
  ctx.log(`kafka: started Kafka ${kafkaVersion} (pid ${pid}), log ${p.log}`)
  return pid
}

// ---------------------------------------------------------------------------------------------
// The component

export const kafka: Component = {
  name: 'kafka',
  // The broker starts without Toxiproxy; only clients of the CLIENT listener need the proxy.
  dependsOn: [],

  async install(ctx) {
    await checkJava(ctx)
    await resolveJars(ctx, kafkaPaths(ctx))
  },

  async up(ctx) {
    if ((await probeKafka(2_000)).healthy) return
    const p = kafkaPaths(ctx)
    const startedAt = Date.now()
    await kafka.install(ctx)
    const running = brokerPids(p)
    const pid = running[0] ?? (await start(ctx, p))
    if (running.length > 0) ctx.log(`kafka: pid ${pid} already running, waiting for it to become healthy`)
    let last: KafkaHealth = { healthy: false, reason: 'not probed yet' }
    try {
      await waitUntil(
        'kafka',
        async () => {
          last = await probeKafka(2_000)
          return last.healthy
        },
        {
          timeoutMs: startTimeoutMs,
          intervalMs: 500,
          abortIf: () => (isAlive(pid) ? undefined : 'the broker exited during start-up'),
        },
      )
    } catch (err) {
      const reason = last.healthy ? '' : ` (last probe: ${last.reason})`
      throw new Error(`${(err as Error).message}${reason}; last lines of ${p.log}:\n${tailFile(p.log, 25)}`)
    }
    ctx.log(`kafka: healthy after ${seconds(Date.now() - startedAt)}`)
  },

  async down(ctx) {
    const p = kafkaPaths(ctx)
    const pids = brokerPids(p)
    for (const pid of pids) {
      ctx.log(`kafka: stopping pid ${pid}`)
      if ((await stopProcess(pid, 'SIGTERM', stopTimeoutMs)) === 'killed') {
        ctx.log(`kafka: pid ${pid} ignored SIGTERM for ${seconds(stopTimeoutMs)}, killed it`)
      }
    }
    const left = brokerPids(p)
    if (left.length > 0) throw new Error(`kafka: pid ${left.join(', ')} still running after SIGKILL`)
    await rm(p.pidFile, { force: true })
  },

  async status(ctx): Promise<ComponentStatus> {
    const p = kafkaPaths(ctx)
    const pids = brokerPids(p)
    const health = await probeKafka(2_000)
    return {
      name: 'kafka',
      running: pids.length > 0,
      healthy: health.healthy,
      ...(pids[0] === undefined ? {} : { pid: pids[0] }),
      address: `${host}:${proxies.kafka.listenPort} (toxiproxy → ${host}:${ports.kafka}), direct ${host}:${ports.kafkaDirect}`,
      detail: health.healthy ? `Kafka ${kafkaVersion} KRaft, cluster ${health.clusterId}` : health.reason,
    }
  },

  logFile(ctx) {
    return kafkaPaths(ctx).log
  },
}
