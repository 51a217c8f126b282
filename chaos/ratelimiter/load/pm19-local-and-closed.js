// k6 load for ratelimiter/pm19 (a Redis Cluster master killed under load): two keys decided at a
// constant arrival rate each, both well over their limit of 20/s, both counted on the master the
// experiment kills —
//   - the hot key (KEY, at RATE/s) under the `pm19` domain's rule, `failure_policy: local`;
//   - a second key (read from CLOSED_KEY_FILE, {"key": "<value>"}, written by the experiment's
//     setup, which picks a value whose counter lives on the hot key's master) under CLOSED_DOMAIN's
//     rule, `failure_policy: closed`, at CLOSED_RATE/s.
// The decision service's metrics count each domain apart (ratelimiter_decisions_total{domain,code}),
// which is what the invariants read; requests are tagged `policy` (local or closed) for k6's summary.
//
//   env: KEY, RATE (default 200), CLOSED_DOMAIN (default pm19-closed), CLOSED_KEY_FILE,
//        CLOSED_RATE (default 60), DURATION / BASE_URLS (set by the lab), and the target knobs of
//        loadtests/ratelimiter/common.js (DOMAIN, DESCRIPTOR_KEY, TIMEOUT …)
import { check } from 'k6'
import { envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'
import { limitedRequest, target } from '../../../loadtests/ratelimiter/common.js'

const local = target()
const closed = { ...local, domain: envString('CLOSED_DOMAIN', 'pm19-closed') }
const hotKey = envString('KEY', 'hot')
const closedValue = JSON.parse(open(envString('CLOSED_KEY_FILE', ''))).key
const duration = envString('DURATION', '30s')
const rate = envNumber('RATE', 200)
const closedRate = envNumber('CLOSED_RATE', 60)

// A naive decision may wait seconds (every attempt of the naive retry policy): VUs for the client
// timeout at the full rate, so a hang shows as latency, not as dropped iterations.
const vusFor = (perS) => ({
  preAllocatedVUs: Math.max(10, Math.ceil(perS / 20)),
  maxVUs: Math.max(50, perS * 3),
})

export const options = {
  scenarios: {
    local: constantArrivalRate({ rate, duration, exec: 'localKey', gracefulStop: '3s', ...vusFor(rate) }),
    closed: constantArrivalRate({
      rate: closedRate,
      duration,
      envPrefix: 'CLOSED_',
      exec: 'closedKey',
      gracefulStop: '3s',
      ...vusFor(closedRate),
    }),
  },
}

export function localKey() {
  const { verdict } = limitedRequest(local, hotKey, { policy: 'local' })
  check(verdict, { 'answered (admitted or denied)': (v) => v !== 'failed' })
}

export function closedKey() {
  const { verdict } = limitedRequest(closed, closedValue, { policy: 'closed' })
  check(verdict, { 'answered (admitted or denied)': (v) => v !== 'failed' })
}
