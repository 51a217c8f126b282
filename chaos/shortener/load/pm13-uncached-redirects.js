// k6 load for shortener/pm13 (migration lock): redirects spread uniformly over many codes the
// experiment created. The experiment runs the services with a 1 s cache TTL, so most of these
// requests miss Redis and read `links` in Postgres — the table the migration alters. The client
// timeout is longer than the 1 s the invariant allows, so a blocked redirect shows as a slow one,
// not only as a failure. The shape is ./redirects.js.
//
//   env: RATE (req/s, default 100), CODES (default 500), CODE_PREFIX (default pm13-),
//        TIMEOUT (default 3s), DURATION and BASE_URLS / BASE_URL (set by the lab)
import { redirectLoad } from './redirects.js'

const load = redirectLoad({
  scenario: 'uncached',
  rate: 100,
  codes: 500,
  prefix: 'pm13-',
  timeout: '3s',
  // A redirect that reads Postgres takes a few ms; while the DDL blocks, requests pile up for up
  // to TIMEOUT, so the VU pool must cover rate × TIMEOUT to keep the offered load constant.
  vusPerRate: { pre: 0.2, max: 4 },
  gracefulStop: '5s',
})

export const options = load.options
export default load.run
