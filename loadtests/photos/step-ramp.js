// The knee finder's step ramp (packages/bench/src/knee.ts --system photos): POST /api/photos
// (knee-request.js) in rising plateaus, every request tagged with its step.
//
//   flock /tmp/faultline-infra.lock node packages/bench/src/knee.ts --system photos \
//     --start-rate 10 --step 10 --max-rate 80 --step-seconds 8
//
// Env: see loadtests/lib/bench.js (START_RATE, STEP, STEPS, STEP_DURATION …) and knee-request.js.

import { stepRampScript } from '../lib/bench.js'
import { summaryHandler } from '../lib/summary.js'
import { kneeTraffic } from './knee-request.js'

const script = stepRampScript(kneeTraffic())
export const options = script.options
export const setup = script.setup
export default script.iteration
export const handleSummary = summaryHandler('photos-step-ramp')
