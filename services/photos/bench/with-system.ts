#!/usr/bin/env node
/**
 * Runs one command against a photo system of its own: the API and the worker started on loopback
 * as the benchmarks start them (src/bench-target.ts startPhotos: a schema, bucket and prefixes of
 * the run's own, direct connections), the command run with BASE_URL set to the API, then
 * everything stopped and the run's schema, objects and queues removed. For the load tests when
 * `./faultline up photos` is someone else's — and for backfill.js, whose "reprocess all" takes
 * every photo of the system:
 *
 *   flock /tmp/faultline-infra.lock node services/photos/bench/with-system.ts -- \
 *     ~/.cache/faultline/bin/k6 run loadtests/photos/backfill.js
 *   node services/photos/bench/with-system.ts --env WORKER_CONCURRENCY_NEW=1 -- k6 run loadtests/photos/burst.js
 *
 * Options before `--`: --port N (default 3354), --env NAME=VALUE (repeatable; to both processes),
 * --logs DIR (default results/photos/with-system/<time>). Prints the lanes' backlog every 5 s
 * while it changes (stderr). Exits with the command's code.
 */
import { spawn } from 'node:child_process'
import { parseArgs } from 'node:util'
import { resultsDir } from '@faultline/bench'
import { startPhotos } from '../src/bench-target.ts'

const split = process.argv.indexOf('--')
if (split < 0 || split === process.argv.length - 1) {
  process.stderr.write('usage: with-system.ts [--port N] [--env NAME=VALUE]… -- <command> [args…]\n')
  process.exit(2)
}
const { values } = parseArgs({
  args: process.argv.slice(2, split),
  options: {
    port: { type: 'string', default: '3354' },
    env: { type: 'string', multiple: true, default: [] },
    logs: { type: 'string' },
  },
})
const extraEnv: Record<string, string> = {}
for (const pair of values.env as string[]) {
  const eq = pair.indexOf('=')
  if (eq < 1) {
    process.stderr.write(`--env ${pair}: expected NAME=VALUE\n`)
    process.exit(2)
  }
  extraEnv[pair.slice(0, eq)] = pair.slice(eq + 1)
}
const [command, ...args] = process.argv.slice(split + 1) as [string, ...string[]]
const logDir = values.logs ?? resultsDir('photos', 'with-system')
const sys = await startPhotos({ port: Number(values.port), logDir, env: { LOG_LEVEL: 'warn' } }, extraEnv)
process.stderr.write(`photos up at ${sys.baseUrl} (logs in ${logDir}); running ${command}\n`)
// Interrupted (Ctrl-C, a timeout): the system is stopped and its state removed all the same.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void sys.stop().finally(() => process.exit(130)))
// The lanes' backlog every 5 s while it changes (what a load test cannot see through the API:
// how far behind the worker is, and how far a backfill got).
let last = ''
const watch = setInterval(() => {
  void sys.queueState().then(
    (q) => {
      const line = `queues: new ${q.waiting.new} waiting + ${q.active.new} active (oldest ${q.oldestNewWaitS.toFixed(1)} s), backfill ${q.waiting.backfill} waiting + ${q.active.backfill} active`
      if (line !== last) process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
      last = line
    },
    () => {},
  )
}, 5000)
let code = 1
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, BASE_URL: sys.baseUrl } })
    child.once('exit', (c) => resolve(c ?? 1))
    child.once('error', (err) => {
      process.stderr.write(`${command}: ${err.message}\n`)
      resolve(1)
    })
  })
} finally {
  clearInterval(watch)
  await sys.stop()
}
process.exit(code)
