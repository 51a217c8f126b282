// Throughput of one decision: the script the system benchmark (`node packages/bench/src/
// redirect-vs-fastify.ts --system ratelimiter`) runs against both the decision service and a bare
// Fastify hello-world, so both are measured by the same generator with the same shape — only
// BASE_URL and TARGET_PATH differ (see knee-request.js for the request). The ratelimiter's own
// comparison with the peer limiters is bench.js (services/ratelimiter/bench/compare.ts), which
// takes BASE_URLS and MODE instead of the bench's BASE_URL, TARGET_PATH and CODES_FILE.
//
//   SCENARIO=max   closed model: VUS virtual users (default 32), each sending its next request as
//                  soon as the previous answered, for DURATION (15s) after WARMUP (3s, not counted).
//   SCENARIO=rate  open model: RATE/s (default 1000) for DURATION after the same warm-up at that rate.
//
//   k6 run -e BASE_URL=http://127.0.0.1:3320 loadtests/ratelimiter/knee-throughput.js
//   k6 run -e SCENARIO=rate -e RATE=3000 -e CODES_FILE=/abs/keys.json loadtests/ratelimiter/knee-throughput.js
//
// Keys are visited round robin (every VU from its own offset), so each request is an ordinary
// full decision, not always the same key.

import { throughputScript } from '../lib/bench.js'
import { summaryHandler } from '../lib/summary.js'
import { kneeTraffic } from './knee-request.js'

// The max/rate scenarios, keys round robin and thresholds: lib/bench.js.
const script = throughputScript(kneeTraffic())

export const options = script.options
export default script.iteration

export const handleSummary = summaryHandler('ratelimiter-knee-throughput')
