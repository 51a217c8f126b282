#!/usr/bin/env node
/**
 * The notification service's end-to-end benchmark (a measurement, not a test: it prints whether
 * issue 12's targets were met and never fails on them). In one run, on one machine:
 *
 *   1. ceiling   a no-op BullMQ worker (bench/noop-worker.ts, its own process, the real worker's
 *                concurrency per channel) completing delivery-shaped jobs added in bulk to the
 *                same queue Redis: BullMQ's own cost per job, nothing of the service's;
 *   2. drain     --notifications accepted by the API with the relay stopped (a backlog in the
 *                outbox), then the relay started: relay → Kafka → router → BullMQ → channel worker
 *                → fake provider 2xx (latency 0) drains it; deliveries/s from the worker's sent
 *                counter over the middle 80 %, and the ratio to the ceiling (target ≥ 0.5×); the
 *                component that saturated, named by @faultline/bench's signals
 *                (bench/saturation-watch.ts);
 *   3. with API  the same number posted with everything running (--concurrency in flight): the
 *                API's accepts/s and the deliveries/s when the API shares the machine;
 *   4. at half   notifications at half the max rate — min(accepts/s, deliveries/s ÷ channels) of
 *                run 3 —
 *                for --rate-seconds: accepted → sent p50/p99
 *                from the delivery rows (sent_at − the notification's created_at; target ≤ 1 s).
 *
 *   flock /tmp/faultline-infra.lock node services/notifications/bench/e2e.ts
 *   flock /tmp/faultline-infra.lock node services/notifications/bench/e2e.ts --notifications 6000 --rate-seconds 30
 *
 * Writes results/notifications/e2e/<timestamp>/{e2e.json,e2e.md}. The system runs isolated
 * (schema notifications_bench, prefixes ntf-bench, topic notifications-bench; direct connections),
 * emptied at the start and the end.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { linkLatest, machineInfo, machineLine, parseBenchCli, resultsDir, writeJson } from '@faultline/bench'
import { directEnv } from '@faultline/infra'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { benchIsolationEnv, seedRecipients, startNotifications } from '../src/bench-target.ts'
import { channels as allChannels, type Channel } from '../src/types.ts'
import { renderE2eReport } from './e2e-report.ts'
import { measureAtRate, measureBurst, measureCeiling, measureDrain } from './e2e-runs.ts'
import { channelQueueSet } from './pipeline-probe.ts'
import { watchSaturation } from './saturation-watch.ts'

const usage = `Usage: node services/notifications/bench/e2e.ts [options]

End-to-end deliveries/s vs a no-op BullMQ worker in the same run, the saturated component, and
accepted → sent p99 at half the max rate. Needs the native infra; run it under the infra lock.
About 3 minutes with the defaults.

  --notifications N       notifications in the max run (default 3000)
  --channels LIST         channels per notification (default email,sms,push)
  --concurrency N         API requests in flight in the max run (default 32)
  --ceiling-jobs N        jobs of the no-op ceiling and of the send floor (default max(20000,
                          notifications × channels))
  --worker-concurrency N  WORKER_CONCURRENCY, also the no-op worker's (default 50, the service's default)
  --recipients N          recipients the notifications go to, round robin (default 500)
  --rate-seconds N        length of the half-max run (default 20)
  --timeout-s N           longest drain wait per run (default 120)
  --port N                the API's port (default 3341)
  --out DIR               results root (default <repo>/results)
  -h, --help`

// An unknown or malformed flag: one line naming it and the usage, exit 2 (not a stack trace).
const { values, positive } = parseBenchCli(
  {
    notifications: { type: 'string', default: '3000' },
    channels: { type: 'string', default: 'email,sms,push' },
    concurrency: { type: 'string', default: '32' },
    'ceiling-jobs': { type: 'string' },
    'worker-concurrency': { type: 'string', default: '50' },
    recipients: { type: 'string', default: '500' },
    'rate-seconds': { type: 'string', default: '20' },
    'timeout-s': { type: 'string', default: '120' },
    port: { type: 'string', default: '3341' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  usage,
)
const channels = (values.channels as string).split(',').map((c) => c.trim()) as Channel[]
if (channels.length === 0 || channels.some((c) => !allChannels.includes(c) || c === 'webhook')) {
  process.stderr.write(`--channels: a list of email, sms, push, got ${values.channels}\n`)
  process.exit(2)
}
const notifications = positive('notifications')
const args = {
  notifications,
  channels,
  concurrency: positive('concurrency'),
  ceilingJobs:
    values['ceiling-jobs'] === undefined
      ? Math.max(20_000, notifications * channels.length)
      : positive('ceiling-jobs'),
  workerConcurrency: positive('worker-concurrency'),
  recipients: positive('recipients'),
  rateSeconds: positive('rate-seconds'),
  timeoutMs: positive('timeout-s') * 1000,
  port: positive('port'),
}

const out = resultsDir('notifications', 'e2e', values.out)
const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
const machine = await machineInfo()
log(machineLine(machine))

const direct = directEnv()
const pool = createPgPool(direct.DATABASE_URL as string, {
  max: 2,
  searchPath: benchIsolationEnv.DB_SCHEMA,
  applicationName: `notifications-e2e-bench-${process.pid}`,
})
const queueRedis = createRedis(direct.QUEUE_REDIS_URL as string, {
  name: 'notifications-e2e-bench',
  maxRetriesPerRequest: null,
})
const benchQueues = channelQueueSet(queueRedis, benchIsolationEnv.QUEUE_PREFIX, allChannels)

/** The bench's own state, emptied before and after: rows of its schema, jobs of its prefix. */
async function emptyBenchState(): Promise<void> {
  await pool
    .query('TRUNCATE deliveries, outbox, notifications')
    .catch((err: Error) => log(`(no bench tables to empty yet: ${err.message})`))
  await benchQueues.obliterate()
}

await emptyBenchState()
const sys = await startNotifications(
  { port: args.port, logDir: out, env: { LOG_LEVEL: 'warn' } },
  { WORKER_CONCURRENCY: String(args.workerConcurrency), WORKER_CHANNELS: channels.join(',') },
)
try {
  const recipients = await seedRecipients(sys.baseUrl, args.recipients, log, `e2e${Date.now().toString(36)}`)
  const workerUrl = sys.roles.worker.url
  log('warm-up: 100 notifications')
  await measureBurst({
    baseUrl: sys.baseUrl,
    workerUrl,
    pool,
    recipients,
    channels,
    notifications: 100,
    concurrency: 8,
    timeoutMs: 60_000,
  })

  const ceilingRun = {
    queueRedisUrl: direct.QUEUE_REDIS_URL as string,
    connection: queueRedis,
    channels,
    concurrency: args.workerConcurrency,
    jobs: args.ceilingJobs,
    logDir: out,
  }
  log(`ceiling: ${args.ceilingJobs} no-op jobs, concurrency ${args.workerConcurrency} per channel`)
  const ceiling = await measureCeiling({ ...ceilingRun, prefix: 'ntf-bench-noop' })
  log(`ceiling: ${ceiling.perSecond?.toFixed(0) ?? '-'} jobs/s`)
  log(`send floor: ${args.ceilingJobs} jobs that each make the provider request, nothing else`)
  const sendFloor = await measureCeiling({
    ...ceilingRun,
    prefix: 'ntf-bench-send',
    providersUrl: sys.providersUrl,
  })
  log(`send floor: ${sendFloor.perSecond?.toFixed(0) ?? '-'} jobs/s`)

  log(
    `drain: ${args.notifications} notifications × ${channels.length} channels accepted with the relay stopped, then drained`,
  )
  let watch: Awaited<ReturnType<typeof watchSaturation>> | undefined
  let drainStart = 0
  const drain = await measureDrain({
    sys,
    pool,
    recipients,
    channels,
    notifications: args.notifications,
    concurrency: args.concurrency,
    timeoutMs: args.timeoutMs,
    onRelayStarted: async () => {
      drainStart = Date.now()
      watch = await watchSaturation(sys, () => benchQueues.pending(), direct.QUEUE_REDIS_URL as string)
    },
  })
  const drainEnd = drainStart + (drain.deliveries.seconds ?? drain.deliveries.wallSeconds) * 1000
  const saturation = await (watch as NonNullable<typeof watch>).stop({ startMs: drainStart, endMs: drainEnd })
  const deliveriesPerSecond = drain.deliveries.perSecond ?? 0
  log(
    `drain: ${deliveriesPerSecond.toFixed(0)} deliveries/s (API ${drain.acceptPerSecond.toFixed(0)} accepts/s); saturated: ${saturation.attribution.saturated?.id ?? 'none'}`,
  )

  log(`with the API: ${args.notifications} notifications posted with everything running`)
  const burst = await measureBurst({
    baseUrl: sys.baseUrl,
    workerUrl,
    pool,
    recipients,
    channels,
    notifications: args.notifications,
    concurrency: args.concurrency,
    timeoutMs: args.timeoutMs,
  })
  log(
    `with the API: ${burst.acceptPerSecond.toFixed(0)} accepts/s, ${(burst.deliveries.perSecond ?? 0).toFixed(0)} deliveries/s`,
  )
  // The system's max is the run with everything sharing the machine: what the API accepted and
  // what the pipeline delivered meanwhile, whichever is lower (the drain alone is the pipeline's).
  const maxNotificationsPerSecond = Math.min(
    burst.acceptPerSecond,
    (burst.deliveries.perSecond ?? deliveriesPerSecond) / channels.length,
  )

  const halfRate = Math.max(1, Math.round((maxNotificationsPerSecond / 2) * 10) / 10)
  log(`at half: ${halfRate} notifications/s for ${args.rateSeconds} s`)
  const atHalf = await measureAtRate({
    baseUrl: sys.baseUrl,
    pool,
    recipients,
    channels,
    ratePerSecond: halfRate,
    seconds: args.rateSeconds,
    timeoutMs: args.timeoutMs,
  })

  const result = {
    schema: 'faultline.notifications-e2e/1',
    finishedAt: new Date().toISOString(),
    machine,
    command: `node services/notifications/bench/e2e.ts ${process.argv.slice(2).join(' ')}`.trim(),
    args,
    ceiling,
    sendFloor,
    drain,
    burst: { ...burst, ids: undefined },
    ratio: ceiling.perSecond ? deliveriesPerSecond / ceiling.perSecond : null,
    sendFloorRatio: ceiling.perSecond && sendFloor.perSecond ? sendFloor.perSecond / ceiling.perSecond : null,
    maxNotificationsPerSecond,
    saturation,
    atHalf,
  }
  writeJson(join(out, 'e2e.json'), result)
  const md = renderE2eReport(result, machineLine(machine))
  writeFileSync(join(out, 'e2e.md'), md)
  linkLatest(out)
  process.stdout.write(`\n${md}\nResults: ${out}\n`)
} finally {
  await sys.stop()
  await emptyBenchState()
  await benchQueues.close()
  queueRedis.disconnect()
  await pool.end()
}
