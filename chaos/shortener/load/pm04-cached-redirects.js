// k6 load for shortener/pm04 (Kafka and Postgres down together): redirects of codes the
// experiment created and cached beforehand. Codes are `<CODE_PREFIX><n|h>-0000` …: the letter is
// the mode (LAB_MODE, set by the lab), so each mode counts clicks on its own codes and a click of
// one run can never be mistaken for one of another. The shape is ./redirects.js.
//
//   env: RATE (req/s, default 100), CODES (default 200), CODE_PREFIX (default pm04-),
//        TIMEOUT (default 2s), LAB_MODE, DURATION and BASE_URLS / BASE_URL (set by the lab)
import { envString } from '../../../loadtests/lib/env.js'
import { redirectLoad } from './redirects.js'

const modeLetter = envString('LAB_MODE', 'naive') === 'hardened' ? 'h' : 'n'

const load = redirectLoad({
  scenario: 'cached',
  rate: 100,
  codes: 200,
  prefix: 'pm04-',
  prefixSuffix: `${modeLetter}-`,
  timeout: '2s',
  // Cached redirects take ~1 ms and never wait on Kafka or Postgres.
  vusPerRate: { pre: 0.1, max: 2 },
  gracefulStop: '3s',
})

export const options = load.options
export default load.run
