#!/usr/bin/env node
/**
 * Runs one command against a notification service of its own: the five processes started on
 * loopback as the benchmark starts them (src/bench-target.ts startNotifications: schema
 * notifications_bench, prefixes ntf-bench, topic notifications-bench, direct connections, the
 * project's providers on a free port), the command run with BASE_URL set to the API, then
 * everything stopped. For the load tests when `./faultline up notifications` is someone else's:
 *
 *   flock /tmp/faultline-infra.lock node services/notifications/bench/with-system.ts -- \
 *     ~/.cache/faultline/bin/k6 run loadtests/notifications/smoke.js
 *   node services/notifications/bench/with-system.ts --env RATE_LIMIT_PER_RECIPIENT=20 -- k6 run loadtests/notifications/noisy.js
 *
 * Options before `--`: --port N (default 3344), --env NAME=VALUE (repeatable; to every process),
 * --logs DIR (default results/notifications/with-system/<time>). Exits with the command's code.
 */
import { spawn } from 'node:child_process'
import { parseArgs } from 'node:util'
import { resultsDir } from '@faultline/bench'
import { startNotifications } from '../src/bench-target.ts'

const split = process.argv.indexOf('--')
if (split < 0 || split === process.argv.length - 1) {
  process.stderr.write('usage: with-system.ts [--port N] [--env NAME=VALUE]… -- <command> [args…]\n')
  process.exit(2)
}
const { values } = parseArgs({
  args: process.argv.slice(2, split),
  options: {
    port: { type: 'string', default: '3344' },
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
const logDir = values.logs ?? resultsDir('notifications', 'with-system')
const sys = await startNotifications(
  { port: Number(values.port), logDir, env: { LOG_LEVEL: 'warn' } },
  extraEnv,
)
process.stderr.write(`notifications up at ${sys.baseUrl} (logs in ${logDir}); running ${command}\n`)
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
  await sys.stop()
}
process.exit(code)
