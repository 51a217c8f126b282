// The knee finder's step ramp (packages/bench/src/knee.ts --system notifications): POST
// /api/notifications (knee-request.js) in rising plateaus, every request tagged with its step.
//
//   flock /tmp/faultline-infra.lock node packages/bench/src/knee.ts --system notifications \
//     --start-rate 50 --step 50 --max-rate 500 --step-seconds 6
//
// Env: see loadtests/lib/bench.js (START_RATE, STEP, STEPS, STEP_DURATION …) and knee-request.js.

import { stepRampScript } from '../lib/bench.js'
import { summaryHandler } from '../lib/summary.js'
import { kneeTraffic } from './knee-request.js'

const script = stepRampScript(kneeTraffic())
export const options = script.options
export const setup = script.setup
export default script.iteration
export const handleSummary = summaryHandler('notifications-step-ramp')
