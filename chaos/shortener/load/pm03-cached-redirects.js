// k6 load for shortener/pm03 (readiness that checks Postgres): redirects of codes the experiment
// created and cached beforehand, sent to the lab's readiness-aware balancer, so an instance that
// reports "not ready" gets no traffic. The shape is ./redirects.js.
//
//   env: RATE (req/s, default 150), CODES (default 200), CODE_PREFIX (default pm03-),
//        TIMEOUT (default 2s), DURATION and BASE_URLS / BASE_URL (set by the lab)
import { redirectLoad } from './redirects.js'

const load = redirectLoad({
  scenario: 'cached',
  rate: 150,
  codes: 200,
  prefix: 'pm03-',
  timeout: '2s',
  // Cached redirects take ~1 ms; the pool grows only if requests hang (they should not).
  vusPerRate: { pre: 0.1, max: 2 },
  gracefulStop: '3s',
})

export const options = load.options
export default load.run
