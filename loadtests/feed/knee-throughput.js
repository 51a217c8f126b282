// Throughput of one timeline read: the script the system benchmark
// (`node packages/bench/src/redirect-vs-fastify.ts --system feed`) runs against both the feed and a
// bare Fastify hello-world, so both are measured by the same generator with the same shape — only
// BASE_URL and TARGET_PATH differ (see knee-request.js for the request).
//
//   SCENARIO=max   closed model: VUS virtual users (default 32), each sending its next request as
//                  soon as the previous answered, for DURATION (15s) after WARMUP (3s, not counted).
//   SCENARIO=rate  open model: RATE/s (default 1000) for DURATION after the same warm-up at that
//                  rate (services/feed/bench/fanout.ts uses it for the read p99 at half the knee).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3330 -e CODES_FILE=/abs/users.json loadtests/feed/knee-throughput.js
//   k6 run -e SCENARIO=rate -e RATE=500 loadtests/feed/knee-throughput.js
//
// Users are visited round robin (every VU from its own offset), so each request is an ordinary warm
// timeline, not always the same one.

import { throughputScript } from '../lib/bench.js'
import { summaryHandler } from '../lib/summary.js'
import { kneeTraffic } from './knee-request.js'

// The max/rate scenarios, keys round robin and thresholds: lib/bench.js.
const script = throughputScript(kneeTraffic())

export const options = script.options
export const setup = script.setup
export default script.iteration

export const handleSummary = summaryHandler('feed-knee-throughput')
