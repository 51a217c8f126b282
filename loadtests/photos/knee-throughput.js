// The benchmark's run of one request (packages/bench/src/redirect-vs-fastify.ts --system photos):
// POST /api/photos (knee-request.js) as fast as VUS users can (SCENARIO=max) or at RATE
// (SCENARIO=rate), after a warm-up; the same script against the bare Fastify hello-world with
// TARGET_PATH=/.
//
// Env: see loadtests/lib/bench.js (SCENARIO, VUS, RATE, DURATION, WARMUP) and knee-request.js.

import { throughputScript } from '../lib/bench.js'
import { summaryHandler } from '../lib/summary.js'
import { kneeTraffic } from './knee-request.js'

const script = throughputScript(kneeTraffic())
export const options = script.options
export const setup = script.setup
export default script.iteration
export const handleSummary = summaryHandler('photos-knee-throughput')
