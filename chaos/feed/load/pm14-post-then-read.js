// k6 load for feed/pm14 (replica lag): each iteration is one user's session — publish a post, read
// the home timeline at once, read it again REREAD_MS later, open the post. One VU is one user
// (users[__VU - 1]), so a VU remembers every post id it has been shown and notices one that a later
// read no longer shows ("reads never go backwards"). The write and the reads of a session go to
// different API instances (round-robin over BASE_URLS), as behind a load balancer.
//
// What the user saw cannot be a tag of the read itself (k6 tags a request before its answer), so
// the session's last request — opening the post, GET /api/posts/:id — carries it:
//   own_read    seen | missing | error   the post in the read right after it was published
//   own_reread  seen | missing | error   the post in the read REREAD_MS later
//   lost        n                         ids shown before, within this page's range, now missing
//
//   env: USERS_FILE (JSON {"users": ["<id>", …]}, written by the experiment's setup), RATE
//        (sessions/s, default 10), REREAD_MS (default 300), LIMIT (page size, default 100),
//        TIMEOUT (default 2s), DURATION / BASE_URLS (set by the lab)
import { sleep } from 'k6'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:18100'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const users = JSON.parse(open(envString('USERS_FILE', ''))).users
const rate = envNumber('RATE', 10)
const rereadS = envNumber('REREAD_MS', 300) / 1000
const limit = envNumber('LIMIT', 100)
const timeout = envString('TIMEOUT', '2s')
const json = { 'content-type': 'application/json' }

export const options = {
  scenarios: {
    sessions: constantArrivalRate({
      rate,
      duration: envString('DURATION', '30s'),
      // A VU is a user: never more VUs than users, so no two sessions of one user overlap.
      preAllocatedVUs: users.length,
      maxVUs: users.length,
      gracefulStop: '3s',
    }),
  },
}

// Per VU (one user): every id a read has shown, and the sessions run so far.
const seen = new Set()
let sessions = 0

/** Ids shown before that this page should show (newer than its oldest item, or the page is not full) and does not. */
function lostIds(items) {
  const present = new Set(items.map((p) => p.id))
  const oldest = items.length >= limit ? Number(items[items.length - 1].id) : 0
  let lost = 0
  for (const id of seen) if (!present.has(id) && Number(id) > oldest) lost++
  return lost
}

/** Reads the timeline and says whether `postId` is on it and how many earlier ids went missing. */
function readTimeline(base, user, postId, op) {
  const res = http.get(`${base}/api/users/${user}/timeline?limit=${limit}`, {
    timeout,
    responseCallback: http.expectedStatuses(200),
    tags: { op, name: 'GET /api/users/:id/timeline' },
  })
  if (res.status !== 200) return { own: 'error', lost: 0 }
  const items = res.json('items')
  const lost = lostIds(items)
  for (const p of items) seen.add(p.id)
  return { own: items.some((p) => p.id === postId) ? 'seen' : 'missing', lost }
}

export default function () {
  const user = users[(__VU - 1) % users.length]
  const writeBase = targets[sessions % targets.length]
  const readBase = targets[(sessions + 1) % targets.length]
  sessions++
  const created = http.post(
    `${writeBase}/api/users/${user}/posts`,
    JSON.stringify({ text: `pm14 session ${sessions} of user ${user}` }),
    {
      headers: json,
      timeout,
      responseCallback: http.expectedStatuses(201),
      tags: { op: 'post', name: 'POST /api/users/:id/posts' },
    },
  )
  if (created.status !== 201) return
  const postId = created.json('id')
  // At once: the fan-out is asynchronous, so only read-your-writes can put the post on this page.
  const first = readTimeline(readBase, user, postId, 'read')
  sleep(rereadS)
  const again = readTimeline(writeBase, user, postId, 'reread')
  http.get(`${readBase}/api/posts/${postId}`, {
    timeout,
    responseCallback: http.expectedStatuses(200),
    tags: {
      op: 'open-post',
      name: 'GET /api/posts/:id',
      own_read: first.own,
      own_reread: again.own,
      lost: String(first.lost + again.lost),
    },
  })
}
