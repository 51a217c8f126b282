#!/usr/bin/env node
/**
 * Upload ack p99 while a backlog drains (issue 13: ≤ 2× the idle p99). A measurement, not a test:
 * it prints whether the target was met and never fails on it. In one run, on one machine, against
 * the system started as deployed (API and worker processes, direct connections, a schema, bucket
 * and queue prefix of the run's own, removed at the end — src/bench-target.ts startPhotos):
 *
 *   1. idle    --probe-rate uploads/s (open model: each sent on its tick whatever the previous did)
 *              for --idle-seconds, with the worker running and nothing queued: the idle ack
 *              latency (request sent → 201 with its body read), the ceiling of this run;
 *   2. backlog the worker stopped, --backlog uploads through the API (the same small JPEG,
 *              each from an owner of its own, so each is a photo and a job on the new lane) —
 *              a real backlog, as after a worker outage (pm07);
 *   3. drain   the worker started again, and the same probes while it works through the backlog,
 *              until the lane is empty or --max-drain-seconds: the ack latency under drain.
 *
 * The ratio is drain p99 ÷ idle p99. The probes' own jobs join the lane in both phases (new
 * uploads behind the backlog, as in production). Both phases share the machine with this process
 * (the probe client) and the infrastructure, so what the drain costs the API — CPU taken by the
 * worker's sharp threads, Postgres and S3 busy with the jobs' writes — is what the ratio shows.
 *
 *   flock /tmp/faultline-infra.lock node services/photos/bench/ack-during-drain.ts
 *   flock /tmp/faultline-infra.lock node services/photos/bench/ack-during-drain.ts --backlog 500 --idle-seconds 10
 *
 * Writes results/photos/ack-drain/<timestamp>/{ack-drain.json,ack-drain.md} and the processes' logs.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  deriveSamples,
  envPairs,
  linkLatest,
  machineInfo,
  machineLine,
  parseBenchCli,
  resultsDir,
  Sampler,
  writeJson,
} from '@faultline/bench'
import { repoRoot } from '@faultline/infra'
import { summarizeLatency } from '@faultline/measure'
import { inParallel } from '@faultline/resilience'
import { type PhotoProcesses, type QueueState, startPhotos } from '../src/bench-target.ts'
import { cpuInWindow, type DrainTrace, type ProbeResult, renderMarkdown } from './ack-drain-report.ts'

const usage = `Usage: node services/photos/bench/ack-during-drain.ts [options]

Upload ack p99 while a backlog of --backlog jobs drains vs the idle ack p99 of the same run
(target ≤ 2×). Starts the photo system (API + worker) isolated; needs the native infra; run it
under the infra lock. Up to 10 minutes with the defaults on 2 cores (the drain is bounded by
--max-drain-seconds; what is left then is reported).

  --backlog N             jobs in the backlog, uploaded with the worker stopped (default 5000)
  --probe-rate N          probe uploads per second in both phases (default 5)
  --idle-seconds N        length of the idle phase (default 40)
  --max-drain-seconds N   stop the drain phase after this long even if jobs remain (default 480)
  --seed-concurrency N    uploads in flight while the backlog is built (default 16)
  --image PATH            the JPEG uploaded (default loadtests/photos/fixtures/gps-oriented.jpg,
                          480×320)
  --env NAME=VALUE        extra env for the API and the worker (repeatable), e.g.
                          VIPS_CONCURRENCY=1 or WORKER_CONCURRENCY_NEW=1
  --port N                the API's port (default 3351)
  --out DIR               results root (default <repo>/results)
  -h, --help`

// An unknown or malformed flag: one line naming it and the usage, exit 2 (not a stack trace).
const { values, positive, fail } = parseBenchCli(
  {
    backlog: { type: 'string', default: '5000' },
    'probe-rate': { type: 'string', default: '5' },
    'idle-seconds': { type: 'string', default: '40' },
    'max-drain-seconds': { type: 'string', default: '480' },
    'seed-concurrency': { type: 'string', default: '16' },
    image: { type: 'string', default: join(repoRoot, 'loadtests', 'photos', 'fixtures', 'gps-oriented.jpg') },
    port: { type: 'string', default: '3351' },
    env: { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  usage,
)
const args = {
  backlog: positive('backlog', 50_000),
  probeRate: positive('probe-rate', 100),
  idleSeconds: positive('idle-seconds', 300),
  maxDrainSeconds: positive('max-drain-seconds', 1800),
  seedConcurrency: positive('seed-concurrency', 64),
  port: positive('port', 65_535),
}
const extraEnv = envPairs(fail, values.env as string[])
const image = (() => {
  try {
    return readFileSync(values.image as string)
  } catch (err) {
    return fail(`--image: ${(err as Error).message}`)
  }
})()

const log = (line: string) => process.stderr.write(`ack-during-drain: ${line}\n`)
const runTag = Date.now().toString(36)
/** Targets: drain p99 at most this many times the idle p99. */
const targetRatio = 2

/** One upload from `owner`; resolves with its status and the time to the answer's last byte. */
async function uploadOnce(baseUrl: string, owner: string): Promise<{ status: number; ms: number }> {
  const form = new FormData()
  form.append('file', new Blob([image], { type: 'image/jpeg' }), 'probe.jpg')
  const started = performance.now()
  try {
    const res = await fetch(`${baseUrl}/api/photos`, {
      method: 'POST',
      headers: { 'x-user-id': owner },
      body: form,
      signal: AbortSignal.timeout(30_000),
    })
    await res.arrayBuffer()
    return { status: res.status, ms: performance.now() - started }
  } catch {
    return { status: 0, ms: performance.now() - started }
  }
}

/**
 * Probe uploads at `rate`/s until `until()` says stop (checked every tick) or `maxSeconds`; each
 * probe is sent on its tick (at most 64 in flight: beyond that a tick is skipped and counted).
 */
async function probe(
  baseUrl: string,
  phase: string,
  rate: number,
  maxSeconds: number,
  until: () => boolean = () => false,
): Promise<ProbeResult> {
  const latencies: number[] = []
  let sent = 0
  let failed = 0
  let skipped = 0
  let inFlight = 0
  const pending = new Set<Promise<void>>()
  const started = performance.now()
  const interval = 1000 / rate
  for (let tick = 0; ; tick++) {
    const due = started + tick * interval
    await sleep(Math.max(0, due - performance.now()))
    const elapsed = (performance.now() - started) / 1000
    if (elapsed >= maxSeconds || until()) break
    if (inFlight >= 64) {
      skipped++
      continue
    }
    inFlight++
    const p = uploadOnce(baseUrl, `probe-${runTag}-${phase}-${sent++}`).then((r) => {
      inFlight--
      if (r.status === 201) latencies.push(r.ms)
      else failed++
    })
    pending.add(p)
    void p.finally(() => pending.delete(p))
  }
  const seconds = (performance.now() - started) / 1000
  await Promise.all(pending)
  return { sent, acked: latencies.length, failed, skipped, latency: summarizeLatency(latencies), seconds }
}

const queued = (q: QueueState) => q.waiting.new + q.active.new

/** Waits until the new lane is empty (at most `maxMs`). */
async function waitEmpty(system: PhotoProcesses, maxMs: number): Promise<QueueState> {
  const deadline = Date.now() + maxMs
  for (;;) {
    const q = await system.queueState()
    if (queued(q) === 0 || Date.now() > deadline) return q
    await sleep(500)
  }
}

/** The backlog: `count` uploads through the API with the worker stopped. */
async function buildBacklog(
  system: PhotoProcesses,
): Promise<{ seconds: number; failed: number; queued: number }> {
  await system.stopWorker()
  const started = performance.now()
  let failed = 0
  await inParallel(args.backlog, args.seedConcurrency, async (i) => {
    const r = await uploadOnce(system.baseUrl, `backlog-${runTag}-${i}`)
    if (r.status !== 201) failed++
    if ((i + 1) % 1000 === 0) log(`backlog: ${i + 1} of ${args.backlog} uploaded`)
  })
  const seconds = (performance.now() - started) / 1000
  return { seconds, failed, queued: queued(await system.queueState()) }
}

/** Restarts the worker and probes until the lane is empty; traces the backlog every second. */
async function drain(
  system: PhotoProcesses,
  onWorker: (pid: number) => void,
): Promise<{ probes: ProbeResult; trace: DrainTrace }> {
  const trace: DrainTrace = { points: [], drainedAtS: null, left: Number.NaN }
  let empty = false
  const started = performance.now()
  onWorker((await system.startWorker()).pid)
  const watching = (async () => {
    while (!empty) {
      const left = queued(await system.queueState())
      const at = (performance.now() - started) / 1000
      trace.points.push([Math.round(at), left])
      trace.left = left
      if (left === 0) {
        empty = true
        trace.drainedAtS = at
      } else if (at >= args.maxDrainSeconds) break
      if (trace.points.length % 15 === 0) log(`drain: ${left} jobs left after ${at.toFixed(0)} s`)
      await sleep(1000)
    }
  })()
  const probes = await probe(system.baseUrl, 'drain', args.probeRate, args.maxDrainSeconds, () => empty)
  empty = true
  await watching
  return { probes, trace }
}

async function main(): Promise<void> {
  const machine = await machineInfo()
  const dir = resultsDir('photos', 'ack-drain', values.out)
  log(machineLine(machine))
  log(`results in ${dir}`)
  const system = await startPhotos({ port: args.port, logDir: dir, env: { LOG_LEVEL: 'warn' } }, extraEnv)
  // Interrupted (Ctrl-C, a timeout): the system is stopped and its state removed all the same.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void system.stop().finally(() => process.exit(130)))
  // CPU of the API (its event loop apart), the worker, the infrastructure and everything else,
  // once a second: what the drain takes from the API is read from it, not guessed.
  const sampler = new Sampler({ redisUrl: null, databaseUrl: null, maxSamples: 3000 })
  if (system.api) sampler.watch('api', system.api.pid, { mainThread: true })
  if (system.worker) sampler.watch('worker', system.worker.pid)
  await sampler.start()
  try {
    log(`idle: ${args.probeRate} uploads/s for ${args.idleSeconds} s, the worker running, nothing queued`)
    const idleWindow = { startMs: Date.now(), endMs: 0 }
    const idle = await probe(system.baseUrl, 'idle', args.probeRate, args.idleSeconds)
    idleWindow.endMs = Date.now()
    await waitEmpty(system, 60_000)
    log(`backlog: ${args.backlog} uploads with the worker stopped (${args.seedConcurrency} in flight)`)
    const backlog = await buildBacklog(system)
    log(
      `backlog: ${backlog.queued} jobs queued in ${backlog.seconds.toFixed(1)} s (${backlog.failed} failed)`,
    )
    // An upload is acknowledged even when its enqueue failed (the reaper re-enqueues it later):
    // a backlog short of its jobs would measure a drain that is not there.
    if (backlog.queued < args.backlog * 0.99)
      throw new Error(
        `only ${backlog.queued} of ${args.backlog} jobs are queued: the enqueues failed (is the queue Redis full? see ${join(dir, 'photos-api.log')})`,
      )
    log(`drain: worker started; ${args.probeRate} uploads/s until the lane is empty`)
    const drainWindow = { startMs: Date.now(), endMs: 0 }
    const { probes, trace } = await drain(system, (pid) => sampler.watch('worker', pid))
    drainWindow.endMs = Date.now()
    const samples = deriveSamples(await sampler.stop())
    const cpu = { idle: cpuInWindow(samples, idleWindow), drain: cpuInWindow(samples, drainWindow) }
    const ratio = probes.latency.p99Ms / idle.latency.p99Ms
    const report = {
      benchmark: 'photos ack during drain',
      command: `node services/photos/bench/ack-during-drain.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine,
      args: { ...args, image: values.image, imageBytes: image.length },
      idle,
      backlog,
      drain: probes,
      trace,
      cpu,
      extraEnv,
      drainJobsPerSecond:
        trace.drainedAtS === null ? null : (backlog.queued + probes.acked) / trace.drainedAtS,
      ratio,
      target: `≤ ${targetRatio}×`,
      met: ratio <= targetRatio,
    }
    writeJson(join(dir, 'ack-drain.json'), report)
    const md = renderMarkdown(report, machine)
    writeFileSync(join(dir, 'ack-drain.md'), md)
    linkLatest(dir)
    process.stdout.write(`\n${md}\nwrote ${join(dir, 'ack-drain.json')} and ack-drain.md\n`)
  } finally {
    await sampler.stop().catch(() => [])
    await system.stop()
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`ack-during-drain: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
