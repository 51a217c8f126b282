#!/usr/bin/env node
/**
 * The soak (issue 12, "Load and performance"): --count notifications through the whole pipeline
 * (API → outbox → relay → Kafka → router → BullMQ → channel worker → the project's providers) while
 * the channel worker is SIGKILLed --kill-every-s seconds after each (re)start and restarted at
 * once (a cycle is that plus the restart, ≈ 3–4 s here), and every
 * provider drops --drop-reply-rate of its replies after recording the send (the client cannot
 * know it was sent). Then the kills stop, the pipeline drains, and it reports:
 *
 *   lost        accepted deliveries not terminal after the drain (and accepted notifications
 *               without delivery rows) — must be 0;
 *   duplicates  at the providers that honour the Idempotency-Key (email, sms-a, sms-b) — must be
 *               0 — and at the one that does not (push, honourIdempotencyKey false): reported, the
 *               leak "exactly once" cannot close without the provider's help;
 *   dead        dead letters by kind: `exhausted` here is mostly BullMQ's stall limit (a job whose
 *               worker was killed twice while it ran is failed "stalled more than allowable limit"
 *               with maxStalledCount 1), reported with the reasons.
 *
 *   flock /tmp/faultline-infra.lock node services/notifications/scripts/soak.ts --count 20000
 *   node services/notifications/scripts/soak.ts --count 200000 --rate 300     # the size
 *
 * Bounded: it posts --count at --rate at most, stops killing when the last is accepted, drains
 * for at most --drain-timeout-s, and stops everything it started. Isolated: schema
 * notifications_soak, prefixes ntf-soak, topic notifications-soak (emptied at the start and the
 * end). Writes results/notifications/soak/<timestamp>/soak.{json,md}.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { linkLatest, machineInfo, machineLine, resultsDir, writeJson } from '@faultline/bench'
import { directEnv } from '@faultline/infra'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { Queue } from 'bullmq'
import { channelQueueSet } from '../bench/pipeline-probe.ts'
import { seedRecipients, startNotifications } from '../src/bench-target.ts'
import { deadLetterQueueName } from '../src/keys.ts'
import { postAtRate, workerKiller } from '../src/soak/load.ts'
import { readSoakOutcome, renderSoakReport } from '../src/soak/outcome.ts'
import { channels as allChannels, type Channel } from '../src/types.ts'

const usage = `Usage: node services/notifications/scripts/soak.ts [options]

  --count N              notifications to accept (default 200000; a run on the shared lab machine: 20000)
  --rate N               notifications/s offered at most (default 200)
  --concurrency N        API requests in flight at most (default 32)
  --channels LIST        channels per notification (default email,sms,push)
  --recipients N         recipients, round robin (default 1000)
  --kill-every-s N       SIGKILL the channel worker N s after each (re)start, restart it at once (default 5)
  --drop-reply-rate F    each provider's dropReplyRate (default 0.05)
  --no-keys-provider P   the provider that ignores Idempotency-Key (default push)
  --latency-ms N         each provider's latencyMs (default 0): a job is in flight longer, so a
                         kill catches more, and a recovered job is likelier to be caught twice
  --drain-timeout-s N    longest wait for every delivery to be terminal (default 300)
  --out DIR              results root (default <repo>/results)
  -h, --help`

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200000' },
    rate: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '32' },
    channels: { type: 'string', default: 'email,sms,push' },
    recipients: { type: 'string', default: '1000' },
    'kill-every-s': { type: 'string', default: '5' },
    'drop-reply-rate': { type: 'string', default: '0.05' },
    'no-keys-provider': { type: 'string', default: 'push' },
    'latency-ms': { type: 'string', default: '0' },
    'drain-timeout-s': { type: 'string', default: '300' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

function number(name: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be a number from ${min} to ${max}, got ${raw}\n${usage}\n`)
    process.exit(2)
  }
  return n
}

const channels = (values.channels as string).split(',').map((c) => c.trim()) as Channel[]
if (channels.length === 0 || channels.some((c) => !allChannels.includes(c) || c === 'webhook')) {
  process.stderr.write(`--channels: a list of email, sms, push, got ${values.channels}\n`)
  process.exit(2)
}
const args = {
  count: Math.floor(number('count', values.count, 1, 1_000_000)),
  rate: number('rate', values.rate, 1, 10_000),
  concurrency: Math.floor(number('concurrency', values.concurrency, 1, 512)),
  channels,
  recipients: Math.floor(number('recipients', values.recipients, 1, 100_000)),
  killEveryS: number('kill-every-s', values['kill-every-s'], 0.5, 3600),
  dropReplyRate: number('drop-reply-rate', values['drop-reply-rate'], 0, 1),
  noKeysProvider: values['no-keys-provider'] as string,
  latencyMs: Math.floor(number('latency-ms', values['latency-ms'], 0, 60_000)),
  drainTimeoutS: number('drain-timeout-s', values['drain-timeout-s'], 1, 3600),
}
const providerNames = ['email', 'sms-a', 'sms-b', 'push']
if (!providerNames.includes(args.noKeysProvider)) {
  process.stderr.write(`--no-keys-provider: one of ${providerNames.join(', ')}\n`)
  process.exit(2)
}

const soakEnv = {
  DB_SCHEMA: 'notifications_soak',
  REDIS_KEY_PREFIX: 'ntf-soak',
  QUEUE_PREFIX: 'ntf-soak',
  NOTIFICATIONS_TOPIC: 'notifications-soak',
  ROUTER_GROUP_ID: 'notifications-soak-router',
  // Retries of dropped replies come back within seconds, not a minute: the drain stays bounded.
  JOB_BACKOFF_MS: '200',
  JOB_BACKOFF_MAX_MS: '5000',
  PROVIDER_KNOBS: JSON.stringify(
    Object.fromEntries(
      providerNames.map((name) => [
        name,
        {
          dropReplyRate: args.dropReplyRate,
          honourIdempotencyKey: name !== args.noKeysProvider,
          latencyMs: args.latencyMs,
        },
      ]),
    ),
  ),
}

const out = resultsDir('notifications', 'soak', values.out)
const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
const machine = await machineInfo()
log(machineLine(machine))

const direct = directEnv()
const pool = createPgPool(direct.DATABASE_URL as string, {
  max: 2,
  searchPath: soakEnv.DB_SCHEMA,
  applicationName: `notifications-soak-${process.pid}`,
})
const queueRedis = createRedis(direct.QUEUE_REDIS_URL as string, {
  name: 'notifications-soak',
  maxRetriesPerRequest: null,
})
const queues = channelQueueSet(queueRedis, soakEnv.QUEUE_PREFIX, [...allChannels])

async function emptySoakState(): Promise<void> {
  await pool
    .query('TRUNCATE deliveries, outbox, notifications')
    .catch((err: Error) => log(`(no soak tables to empty yet: ${err.message})`))
  await queues.obliterate()
  const dead = new Queue(deadLetterQueueName, { connection: queueRedis, prefix: soakEnv.QUEUE_PREFIX })
  await dead.obliterate({ force: true }).catch(() => undefined)
  await dead.close()
}

await emptySoakState()
const sys = await startNotifications({ port: 3343, logDir: out, env: { LOG_LEVEL: 'warn' } }, soakEnv)
const started = Date.now()
try {
  const recipients = await seedRecipients(sys.baseUrl, args.recipients, log, `soak${Date.now().toString(36)}`)
  const killer = workerKiller(sys, args.killEveryS * 1000, log)
  log(
    `posting ${args.count} notifications × ${channels.length} channels at ≤ ${args.rate}/s; killing the worker every ${args.killEveryS} s`,
  )
  const posted = await postAtRate({
    baseUrl: sys.baseUrl,
    recipients,
    channels,
    count: args.count,
    rate: args.rate,
    concurrency: args.concurrency,
    log,
  })
  const kills = await killer.stop()
  log(
    `accepted ${posted.ids.length} of ${args.count} (${posted.failed} failed); ${kills.kills} kills; draining`,
  )
  const outcome = await readSoakOutcome({
    pool,
    queueRedis,
    queuePrefix: soakEnv.QUEUE_PREFIX,
    providersUrl: sys.providersUrl,
    providerNames,
    ids: posted.ids,
    channels,
    drainTimeoutMs: args.drainTimeoutS * 1000,
    log,
  })
  const result = {
    schema: 'faultline.notifications-soak/1',
    finishedAt: new Date().toISOString(),
    machine,
    command: `node services/notifications/scripts/soak.ts ${process.argv.slice(2).join(' ')}`.trim(),
    args,
    wallSeconds: (Date.now() - started) / 1000,
    posted: { accepted: posted.ids.length, failed: posted.failed, seconds: posted.seconds },
    kills,
    outcome,
  }
  writeJson(join(out, 'soak.json'), result)
  const md = renderSoakReport(result, machineLine(machine))
  writeFileSync(join(out, 'soak.md'), md)
  linkLatest(out)
  process.stdout.write(`\n${md}\nResults: ${out}\n`)
} finally {
  await sys.stop()
  await emptySoakState()
  await queues.close()
  queueRedis.disconnect()
  await pool.end()
}
