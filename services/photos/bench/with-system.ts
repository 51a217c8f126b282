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
import { runWithSystem } from '@faultline/bench'
import { startPhotos } from '../src/bench-target.ts'

await runWithSystem({
  system: 'photos',
  defaultPort: 3354,
  start: startPhotos,
  // The lanes' backlog every 5 s while it changes (what a load test cannot see through the API:
  // how far behind the worker is, and how far a backfill got).
  watch: (sys) => {
    let last = ''
    const timer = setInterval(() => {
      void sys.queueState().then(
        (q) => {
          const line = `queues: new ${q.waiting.new} waiting + ${q.active.new} active (oldest ${q.oldestNewWaitS.toFixed(1)} s), backfill ${q.waiting.backfill} waiting + ${q.active.backfill} active`
          if (line !== last) process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
          last = line
        },
        () => {},
      )
    }, 5000)
    return () => clearInterval(timer)
  },
})
