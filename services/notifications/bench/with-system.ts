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
import { runWithSystem } from '@faultline/bench'
import { startNotifications } from '../src/bench-target.ts'

await runWithSystem({ system: 'notifications', defaultPort: 3344, start: startNotifications })
