#!/usr/bin/env node
/**
 * The ratelimiter benchmark (a measurement, not a test: it prints whether the targets of
 * docs/ratelimiter.md were met and never fails on them). In one run, one generator (k6,
 * loadtests/ratelimiter/bench.js), one machine:
 *
 *   1. throughput — closed model, 1 000 keys, a limit so high every request is admitted (so each
 *      request costs one full decision): a bare Fastify hello-world (the ceiling), our plugin with
 *      each algorithm, the two peers (@fastify/rate-limit with its Redis store,
 *      rate-limiter-flexible RateLimiterRedis) and the decision service (POST /v1/decide);
 *   2. accuracy — 4 instances of each limiter, one key, LIMIT per WINDOW_MS, offered 10× the limit:
 *      the most admitted in any window of the rule's length (a sliding window over the admitted
 *      timestamps the instances noted), divided by the limit;
 *   3. latency — our plugin (sliding log) and the hello-world at half the plugin's maximum, open
 *      model: the p99 a decision adds, with k6 and with vegeta (a lighter generator, see
 *      latency-run.ts);
 *   4. outage — our plugin through Toxiproxy with Redis gone (proxy disabled) and with Redis slow
 *      (a latency toxic far above the deadline), fail-open, DECISION_DEADLINE_MS: the p99 and max
 *      a request takes, next to the hello-world's at the same rate.
 *
 *   node services/ratelimiter/bench/compare.ts
 *   node services/ratelimiter/bench/compare.ts --duration 10 --vus 32 --parts throughput,accuracy
 *
 * Writes results/ratelimiter/bench/<timestamp>/{bench.json,bench.md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { linkLatest, machineInfo, machineLine, resultsDir, writeJson } from '@faultline/bench'
import { ensureK6, serviceEnv } from '@faultline/infra'
import { type Accuracy, measureAccuracy } from './accuracy-run.ts'
import { type Generator, generators, type LatencyAtHalf, measureLatencyAtHalf } from './latency-run.ts'
import { measureOutage, type OutageRun } from './outage-run.ts'
import { renderReport } from './report.ts'
import { measureThroughput, type Throughput } from './throughput-run.ts'

const usage = `Usage: node services/ratelimiter/bench/compare.ts [options]

Benchmarks the ratelimiter against a bare Fastify hello-world and two popular limiters (throughput,
accuracy with 4 instances, p99 added at half the max, decision time during a Redis outage).
Needs the native infra (./faultline infra up). Takes about 9 minutes with the defaults.

  --parts LIST      throughput,accuracy,latency,outage (default all)
  --duration N      seconds measured per throughput/latency run (default 10)
  --warmup N        seconds of load before each measured run (default 2)
  --vus N           closed-model users for the throughput runs (default 32)
  --generators LIST generators of the latency part: k6, vegeta (default both)
  --candidates LIST throughput candidates by label, comma-separated (default all): hello, plugin
                    <algorithm>, fastify-rate-limit, rate-limiter-flexible, decide-echo,
                    decide-floor (the decision service's ceilings), decision-service
  --limit N         the accuracy rule's limit (default 100)
  --window-ms N     the accuracy rule's window (default 1000)
  --accuracy-s N    seconds of load per accuracy run (default 8)
  --deadline-ms N   the plugin's decision deadline in the outage runs (default 5)
  --accuracy-deadline-ms N   the plugin's deadline in the accuracy runs (default 20, the library's: the runs
                    measure the algorithms; one extra run uses --deadline-ms to show fail-open)
  --out DIR         results root (default <repo>/results)
  -h, --help`

const { values } = parseArgs({
  options: {
    parts: { type: 'string', default: 'throughput,accuracy,latency,outage' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    vus: { type: 'string', default: '32' },
    candidates: { type: 'string' },
    generators: { type: 'string', default: 'k6,vegeta' },
    limit: { type: 'string', default: '100' },
    'window-ms': { type: 'string', default: '1000' },
    'accuracy-s': { type: 'string', default: '8' },
    'deadline-ms': { type: 'string', default: '5' },
    'accuracy-deadline-ms': { type: 'string', default: '20' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

function positive(name: string, raw: string | undefined): number {
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`bench: --${name} must be a positive number, got ${raw}\n`)
    process.exit(2)
  }
  return n
}
const parts = new Set((values.parts ?? '').split(',').map((p) => p.trim()))
for (const p of parts) {
  if (!['throughput', 'accuracy', 'latency', 'outage'].includes(p)) {
    process.stderr.write(`bench: unknown part ${p}\n${usage}\n`)
    process.exit(2)
  }
}
const latencyGenerators = (values.generators ?? '').split(',').map((g) => g.trim()) as Generator[]
if (latencyGenerators.length === 0 || latencyGenerators.some((g) => !generators.includes(g))) {
  process.stderr.write(`bench: --generators must list k6 and/or vegeta, got ${values.generators}\n`)
  process.exit(2)
}
const settings = {
  durationS: positive('duration', values.duration),
  warmupS: positive('warmup', values.warmup),
  vus: positive('vus', values.vus),
  limit: positive('limit', values.limit),
  windowMs: positive('window-ms', values['window-ms']),
  accuracyS: positive('accuracy-s', values['accuracy-s']),
  deadlineMs: positive('deadline-ms', values['deadline-ms']),
  accuracyDeadlineMs: positive('accuracy-deadline-ms', values['accuracy-deadline-ms']),
  ...(values.candidates ? { candidates: values.candidates.split(',').map((c) => c.trim()) } : {}),
}

await ensureK6()
const dir = resultsDir('ratelimiter', 'bench', values.out)
const logDir = join(dir, 'logs')
mkdirSync(logDir, { recursive: true })
const machine = await machineInfo()
const log = (line: string) => process.stdout.write(`[bench] ${line}\n`)
log(`machine: ${machineLine(machine)}`)
log(`results: ${dir}`)

// Candidates reach Redis on its own port (a deployment has no chaos proxy on its hot path); the
// outage runs go through Toxiproxy, which is how they take Redis away.
const directRedis = `redis://127.0.0.1:16379`
const proxiedRedis = serviceEnv().REDIS_URL as string
const runId = Date.now().toString(36)

let throughput: Throughput | undefined
let latency: LatencyAtHalf[] | undefined
let accuracy: Accuracy[] | undefined
let outage: OutageRun[] | undefined
const common = { logDir, log, redisUrl: directRedis, runId, ...settings }
if (parts.has('throughput')) throughput = await measureThroughput(common)
if (parts.has('latency')) latency = await measureLatencyAtHalf(common, throughput, latencyGenerators)
if (parts.has('accuracy')) accuracy = await measureAccuracy(common)
if (parts.has('outage')) outage = await measureOutage({ ...common, redisUrl: proxiedRedis })

const result = { machine, settings, throughput, latency, accuracy, outage }
writeJson(join(dir, 'bench.json'), result)
const markdown = renderReport(result, machineLine(machine))
writeFileSync(join(dir, 'bench.md'), markdown)
linkLatest(dir)
process.stdout.write(`\n${markdown}\n`)
