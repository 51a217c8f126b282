// Throughput of one GET: the script the redirect benchmark (`node packages/bench/src/redirect-vs-fastify.ts`)
// runs against both the shortener and a bare Fastify hello-world, so both are measured by the same
// generator with the same shape — only TARGET_PATH and BASE_URL differ.
//
//   SCENARIO=max   closed model: VUS virtual users (default 32), each sending its next request as
//                  soon as the previous answered, for DURATION (15s) after WARMUP (3s, not
//                  counted). Measures the maximum throughput: the `measure` scenario's count over
//                  its duration.
//   SCENARIO=rate  open model: RATE/s (default 1000) for DURATION (15s) after the same warm-up at
//                  that rate. Measures latency at a given load (the benchmark uses half the max).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 -e TARGET_PATH=/ loadtests/shortener/throughput.js
//   k6 run -e SCENARIO=rate -e RATE=3000 -e CODES_FILE=/abs/codes.json loadtests/shortener/throughput.js
//
// TARGET_PATH (default `/{code}`) and CODES_FILE / EXPECT_STATUS work as in step-ramp.js; codes are
// visited round robin (every VU from its own offset), so each request is an ordinary cache hit,
// not always the same key.

import { throughputScript } from '../lib/bench.js'
import { summaryHandler } from '../lib/summary.js'
import { benchTraffic } from './common.js'

// The max/rate scenarios, keys round robin and thresholds: lib/bench.js.
const script = throughputScript(benchTraffic(100))

export const options = script.options
export const setup = script.setup
export default script.iteration

export const handleSummary = summaryHandler('shortener-throughput')
