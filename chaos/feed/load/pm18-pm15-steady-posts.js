// k6 load for feed/pm18 (celebrity post) and feed/pm15 (fan-out worker stopped and killed):
// posts at a constant arrival rate through the API, each by an author drawn at random from the
// ones the experiment's setup seeded, spread round-robin over every API instance (BASE_URLS).
// Each request is tagged op=post and bounded by a client timeout; a 201 is the only success.
//
// The authors come from AUTHORS_FILE, a JSON file `{ "authors": ["12", …] }` that the
// experiment's setup writes before the load starts (user ids are made by Postgres, so they are not
// known when the experiment module is written).
//
//   env: AUTHORS_FILE (required), RATE (posts/s, default 20), TIMEOUT (default 2s),
//        DURATION (set by the lab), BASE_URLS / BASE_URL (set by the lab)
import { check } from 'k6'
import { SharedArray } from 'k6/data'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:18100'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const rate = envNumber('RATE', 20)
const timeout = envString('TIMEOUT', '2s')

const authors = new SharedArray('authors', () => {
  const path = envString('AUTHORS_FILE', '')
  if (path === '') throw new Error('AUTHORS_FILE is not set: the experiment writes it in setup')
  const parsed = JSON.parse(open(path))
  if (!Array.isArray(parsed.authors) || parsed.authors.length === 0)
    throw new Error(`${path}: expected { "authors": [ids…] } with at least one id`)
  return parsed.authors.map(String)
})

export const options = {
  discardResponseBodies: true,
  scenarios: {
    posts: constantArrivalRate({
      rate,
      duration: envString('DURATION', '30s'),
      // A post takes a few ms (one transaction); the pool only grows when the API slows down.
      preAllocatedVUs: Math.max(5, Math.ceil(rate / 5)),
      maxVUs: Math.max(20, rate * 2),
      gracefulStop: '3s',
    }),
  },
}

const created = http.expectedStatuses(201)
const json = { 'content-type': 'application/json' }
let n = 0

export default function () {
  const base = targets[(__VU + n++) % targets.length]
  const author = authors[Math.floor(Math.random() * authors.length)]
  const res = http.post(
    `${base}/api/users/${author}/posts`,
    JSON.stringify({ text: `steady ${__VU}-${__ITER}` }),
    {
      headers: json,
      timeout,
      responseCallback: created,
      tags: { op: 'post', name: 'POST /api/users/:id/posts' },
    },
  )
  check(res, { 'post: 201': (r) => r.status === 201 })
}
