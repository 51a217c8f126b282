import assert from 'node:assert/strict'
import { test } from 'node:test'
import { freePort } from '@faultline/infra'
import { harness } from './app-harness.ts'

const rules = `version: 1
domains:
  - domain: api
    descriptors:
      - key: open
        rate_limit: { requests_per_unit: 1, unit: minute }
      - key: closed
        rate_limit: { requests_per_unit: 1, unit: minute, failure_policy: closed }
      - key: local
        rate_limit: { requests_per_unit: 2, unit: minute, failure_policy: local }
`

test("with Redis unreachable each rule's failure policy answers, marked degraded; switches flip it at run time", async (t) => {
  // Nothing listens on this port: every Redis call fails at once (the fail-fast client).
  const h = await harness(t, {
    rules,
    env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` },
    waitForRedis: false,
  })
  const decide = async (key: string) =>
    (await h.decide({ domain: 'api', descriptors: [{ key, value: 'v' }] })).body.statuses[0]

  for (let i = 0; i < 3; i++) {
    const open = await decide('open')
    assert.equal(open.code, 'OK', 'fail-open admits')
    assert.match(open.degraded, /^(redis-error|deadline|breaker-open)$/)
  }
  const closed = await decide('closed')
  assert.equal(closed.code, 'OVER_LIMIT', 'fail-closed refuses')
  assert.ok(closed.degraded)

  // The local bucket holds the whole limit in this one instance (LOCAL_FALLBACK_INSTANCES=1).
  const local = [await decide('local'), await decide('local'), await decide('local')]
  assert.deepEqual(
    local.map((s) => s.code),
    ['OK', 'OK', 'OVER_LIMIT'],
  )
  assert.ok(local.every((s) => s.degraded))

  // localFallback off: a local rule degrades the naive way, it admits.
  const flip = await h.app.inject({
    method: 'PUT',
    url: '/admin/mitigations',
    payload: { localFallback: false },
  })
  assert.equal(flip.statusCode, 200)
  assert.equal((await decide('local')).code, 'OK')
  assert.ok((await h.metric('ratelimit_degraded_total')) >= 8)
})
