/**
 * The notification service as the bench measures it (`node packages/bench/src/knee.ts --system
 * notifications`): the accept knee — `POST /api/notifications` with an Idempotency-Key, 202 — with
 * the whole pipeline running as deployed (API, outbox relay, router, channel worker and the
 * project's fake providers), so a plateau the API still answers fast but the pipeline cannot
 * drain is named by the pipeline's own signals: the outbox backlog (the relay behind), the channel
 * queues' waiting jobs (the workers behind), a pipeline process or Postgres busy near a core. The
 * end-to-end benchmark (services/notifications/bench/e2e.ts) and the soak
 * (scripts/soak.ts) start the system with `startNotifications` too. The bench finds this file by
 * convention (services/<system>/src/bench-target.ts); see packages/bench/src/target.ts.
 */
import { join } from 'node:path'
import {
  type Child,
  defineBenchTarget,
  named,
  type RunningSystem,
  type StartSystemOptions,
  startServiceProcess,
  stopChild,
} from '@faultline/bench'
import { directEnv, freePort, repoRoot } from '@faultline/infra'
import { inParallel } from '@faultline/resilience'

const serviceDir = join(repoRoot, 'services', 'notifications')

/**
 * Its own Postgres schema, Redis key prefix, queue prefix, Kafka topic and consumer group, so a
 * benchmark never reads or disturbs a test's, an experiment's or `./faultline up notifications`'
 * state — and vice versa.
 */
export const benchIsolationEnv = {
  DB_SCHEMA: 'notifications_bench',
  REDIS_KEY_PREFIX: 'ntf-bench',
  QUEUE_PREFIX: 'ntf-bench',
  NOTIFICATIONS_TOPIC: 'notifications-bench',
  ROUTER_GROUP_ID: 'notifications-bench-router',
} as const

/**
 * What a load run needs besides isolation: the per-recipient limit high enough that the measured
 * notifications are all delivered (the noisy-recipient load test measures the limit itself).
 */
export const benchLoadEnv = {
  RATE_LIMIT_PER_RECIPIENT: '10000',
} as const

/** The pipeline's processes besides the API, in the order they start. */
export const pipelineRoles = ['providers', 'relay', 'router', 'worker'] as const
export type PipelineRole = (typeof pipelineRoles)[number]

export interface NotificationProcesses extends RunningSystem {
  /** Each background process (with its probes/metrics URL). */
  roles: Record<PipelineRole, { child: Child; url: string }>
  /** The providers' base URL: `<providersUrl>/<name>/admin/stats` etc. */
  providersUrl: string
  /** The env every process got (connections, isolation, provider URLs, extras). */
  env: Record<string, string>
  /** Starts another process of a role with the same env (the soak restarts killed workers). */
  startRole(role: PipelineRole, name?: string): Promise<{ child: Child; url: string }>
}

/** Direct connections (no Toxiproxy on the measured path; see packages/bench/README.md). */
export function directConnectionEnv(): Record<string, string> {
  const env = directEnv()
  return {
    DATABASE_URL: env.DATABASE_URL as string,
    REDIS_URL: env.REDIS_URL as string,
    QUEUE_REDIS_URL: env.QUEUE_REDIS_URL as string,
    KAFKA_BROKERS: env.KAFKA_BROKERS as string,
  }
}

const entries: Record<PipelineRole | 'api', string> = {
  api: 'server.ts',
  providers: 'providers-server.ts',
  relay: 'relay.ts',
  router: 'router.ts',
  worker: 'worker.ts',
}

/**
 * Starts the five processes on loopback: the providers first (the worker's PROVIDER_*_URL point
 * at them), the API on `options.port` (it migrates the schema), then relay, router and worker;
 * resolves once every one answers /readyz (the router's once it joined its group). `extraEnv`
 * goes to all of them (PROVIDER_KNOBS, WORKER_CONCURRENCY …). `stop()` stops them API first, so
 * nothing new is accepted while the pipeline stops.
 */
export async function startNotifications(
  options: StartSystemOptions,
  extraEnv: Record<string, string> = {},
): Promise<NotificationProcesses> {
  const providersPort = await freePort()
  const providersUrl = `http://127.0.0.1:${providersPort}`
  const env: Record<string, string> = {
    ...(options.viaToxiproxy ? {} : directConnectionEnv()),
    ...benchIsolationEnv,
    ...benchLoadEnv,
    PROVIDER_EMAIL_URL: `${providersUrl}/email`,
    PROVIDER_SMS_URL: `${providersUrl}/sms-a`,
    PROVIDER_SMS_FALLBACK_URL: `${providersUrl}/sms-b`,
    PROVIDER_PUSH_URL: `${providersUrl}/push`,
    WEBHOOK_ALLOWLIST: `127.0.0.1:${providersPort}`,
    ...extraEnv,
    ...options.env,
  }
  const started: { child: Child; url: string }[] = []
  const stopAllStarted = async () => {
    for (const s of started) await stopChild(s.child)
  }
  // What every process shares (each is waited for 90 s unless the options say otherwise).
  const where = { repoRoot, serviceDir, env, startTimeoutMs: options.startTimeoutMs ?? 90_000 }
  // Every process started, also later (the soak's restarted workers), is stopped by stop().
  const startRole = async (role: PipelineRole, name: string = `notifications-${role}`) => {
    const port = role === 'providers' ? providersPort : undefined
    const p = await startServiceProcess({ ...where, entry: entries[role], name, port }, options)
    started.push(p)
    return p
  }
  try {
    const providers = await startRole('providers')
    const api = await startServiceProcess(
      { ...where, entry: entries.api, name: 'notifications-api', port: options.port },
      options,
    )
    started.push(api)
    const roles = { providers } as Record<PipelineRole, { child: Child; url: string }>
    for (const role of ['relay', 'router', 'worker'] as const) {
      if (role === 'worker' && options.worker === false) continue
      roles[role] = await startRole(role)
    }
    return {
      baseUrl: api.url,
      metricsUrl: `${api.url}/metrics`,
      pgApplicationPattern: `%bench-${process.pid}`,
      api: api.child,
      worker: roles.worker?.child,
      roles,
      providersUrl,
      env,
      startRole,
      // The API first (nothing new accepted), then the pipeline, the providers last.
      stop: async () => {
        const providersFirst = started[0]
        for (const s of [api, ...started.filter((p) => p !== api && p !== providersFirst)])
          await stopChild(s.child)
        if (providersFirst) await stopChild(providersFirst.child)
      },
    }
  } catch (err) {
    await stopAllStarted()
    throw err
  }
}

/** One JSON request; resolves with the status and the parsed body (or undefined). */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    parsed = text.slice(0, 200)
  }
  return { status: res.status, body: parsed }
}

/** The recipient every bench and load run uses: email, phone and push token, no quiet hours. */
export function benchRecipient(i: number): Record<string, unknown> {
  return {
    email: `bench${i}@example.test`,
    phone: `+1555${String(1_000_000 + (i % 9_000_000)).padStart(7, '0')}`,
    pushToken: `push-token-${i}`,
    timezone: 'UTC',
    quietHours: null,
    optOuts: {},
  }
}

/**
 * `count` recipients `<tag>-<i>` through the API (PUT, 200/201), 16 at a time; returns their ids.
 * Throws when fewer than 99 % were stored: a run over a fraction of them measures something else.
 */
export async function seedRecipients(
  baseUrl: string,
  count: number,
  log: (line: string) => void,
  tag = 'bench',
): Promise<string[]> {
  log(`creating ${count} recipients (email, phone, push) through the API`)
  const ids: string[] = []
  let first: string | undefined
  await inParallel(count, 16, async (i) => {
    const id = `${tag}-${i}`
    const r = await call(baseUrl, 'PUT', `/api/recipients/${id}`, benchRecipient(i)).catch((err: Error) => ({
      status: 0,
      body: err.message,
    }))
    if (r.status === 200 || r.status === 201) ids.push(id)
    else first ??= `PUT /api/recipients/${id} → ${r.status} ${JSON.stringify(r.body)}`
  })
  if (ids.length < count * 0.99) throw new Error(`seeding recipients: ${ids.length} of ${count} (${first})`)
  return ids
}

/** Waiting jobs summed over the channel queues above which the workers are behind. */
const queueWaitingJobs = 1000
/** Outbox rows not yet published above which the relay is behind. */
const outboxRows = 1000
/** A process's CPU, in cores, that is saturation (Node's event loop is one core). */
const processCores = 0.9

/** A pipeline process busy near a core, by the CPU group the sampler watches it under. */
function processSignal(role: PipelineRole | 'postgres', component: string) {
  return {
    id: `${role}-cpu`,
    component,
    threshold: processCores,
    unit: 'cores',
    value: (s: { cpuByGroup: Record<string, number> }) => s.cpuByGroup[role] ?? null,
  }
}

export default defineBenchTarget({
  name: 'notifications',
  request:
    'POST /api/notifications (Idempotency-Key, the welcome template to email + push of recipient {code}): one transaction of notification + outbox row, then relayed, routed and sent by the running pipeline',
  path: '/api/notifications?recipient={code}',
  scripts: {
    stepRamp: 'loadtests/notifications/step-ramp.js',
    throughput: 'loadtests/notifications/knee-throughput.js',
  },
  // Away from the services' 3000, ./faultline up notifications' 18120…, and the other bench ports
  // (shortener 3300, hello-world 3310, ratelimiter 3320, feed 3330/3331).
  port: 3340,
  seedCount: { knee: 1000, bench: 200 },
  ceiling: {
    targetRatio: 0.2,
    why: 'an accept is a Postgres transaction (idempotency lookup, notification and outbox inserts) plus a Redis marker, where the hello-world answers a constant; the pipeline behind it shares the same two cores',
  },
  p99ObjectiveMs: 50,
  start: (options) => startNotifications(options),
  seed: (baseUrl, count, log) => seedRecipients(baseUrl, count, log, `knee${Date.now().toString(36)}`),
  metrics: {
    accepted: { kind: 'counter', select: [named('notifications_accepted_total')] },
    replays: {
      kind: 'counter',
      select: [named('notifications_idempotency_total', { outcome: 'replay' })],
    },
  },
  signals: [
    processSignal('relay', 'the outbox relay (its process busy near a core)'),
    processSignal('router', 'the router (its process busy near a core: rules, inserts, enqueues)'),
    processSignal('worker', 'the channel worker (its process busy near a core)'),
    processSignal(
      'providers',
      'the fake providers (their process busy near a core: the lab, not the service)',
    ),
    processSignal('postgres', 'Postgres (CPU of its processes: accepts, delivery rows, claims)'),
    {
      id: 'outbox-backlog',
      component: 'the outbox relay (rows accepted but not yet published to Kafka)',
      threshold: outboxRows,
      unit: 'rows',
      value: (s) => s.system.outboxBacklog ?? null,
    },
    {
      id: 'queue-waiting',
      component: 'the channel workers (jobs waiting in the ntf-<channel> queues)',
      threshold: queueWaitingJobs,
      unit: 'jobs',
      value: (s) => s.system.queueWaiting ?? null,
    },
  ],
  // The backlogs are read by bench/e2e.ts (the relay's /metrics, BullMQ's counts), not from the
  // API's /metrics the knee finder scrapes: there they are "not measured".
  stepColumns: [],
  runCounters: [
    ['accepted', 'accepted'],
    ['replays', 'idempotent replays'],
  ],
})
