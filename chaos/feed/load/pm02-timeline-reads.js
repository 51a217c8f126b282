// k6 load for feed/pm02 (cold timelines under steady read load): a constant arrival rate of home
// timeline reads, each of a user drawn uniformly from USERS_FILE (every one of them active: the
// experiment's setup built their timelines), spread round-robin over every API instance the lab
// started. Only a 200 is goodput: a 206 says the timeline is being rebuilt and the page is not the
// user's timeline yet. Each request is tagged op=read and bounded by a client timeout.
//
//   env: USERS_FILE (JSON {"users": ["<id>", …]}, written by the experiment's setup), USERS_MAX
//        (read only the file's first N users; default all of them), RATE
//        (reads/s, default 200), LIMIT (page size, default 20), TIMEOUT (default 2s),
//        DURATION / BASE_URLS (set by the lab)
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:18100'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const seeded = JSON.parse(open(envString('USERS_FILE', ''))).users
const users = seeded.slice(0, envNumber('USERS_MAX', seeded.length))
const rate = envNumber('RATE', 200)
const limit = envNumber('LIMIT', 20)
const timeout = envString('TIMEOUT', '2s')

export const options = {
  discardResponseBodies: true,
  scenarios: {
    steady: constantArrivalRate({
      rate,
      duration: envString('DURATION', '30s'),
      // Warm, a read takes a few ms; cold, it may hold its VU up to TIMEOUT.
      preAllocatedVUs: Math.max(20, Math.ceil(rate / 4)),
      maxVUs: Math.max(100, rate * 3),
      gracefulStop: '3s',
    }),
  },
}

const goodput = http.expectedStatuses(200)
let n = 0

export default function () {
  const base = targets[(__VU + n++) % targets.length]
  const user = users[Math.floor(Math.random() * users.length)]
  http.get(`${base}/api/users/${user}/timeline?limit=${limit}`, {
    timeout,
    responseCallback: goodput,
    tags: { op: 'read', name: 'GET /api/users/:id/timeline' },
  })
}
