import assert from 'node:assert/strict'
import { test } from 'node:test'
import { operationsOf } from '@faultline/kit/openapi'
import { RatelimiterFixture } from '../src/fixture.ts'
import { harness } from './app-harness.ts'

const rulesV1 = `version: 1
domains:
  - domain: api
    descriptors:
      - key: api_key
        rate_limit: { requests_per_unit: 2, unit: minute }
`
const rulesV2 = rulesV1
  .replace('version: 1', 'version: 2')
  .replace('requests_per_unit: 2', 'requests_per_unit: 3')

const valid = { domain: 'api', descriptors: [{ key: 'api_key', value: 'k' }] }

test('malformed decide requests are 400s naming the field, never a 500', async (t) => {
  const h = await harness(t, { rules: rulesV1 })
  const cases: Array<[unknown, string]> = [
    [{ descriptors: valid.descriptors }, 'body.domain'],
    [{ ...valid, domain: '' }, 'body.domain'],
    [{ domain: 'api' }, 'body.descriptors'],
    [{ ...valid, descriptors: [] }, 'body.descriptors'],
    [
      { ...valid, descriptors: Array.from({ length: 33 }, () => ({ key: 'k', value: 'v' })) },
      'body.descriptors',
    ],
    [{ ...valid, descriptors: [{ key: '', value: 'v' }] }, 'body.descriptors.0.key'],
    [{ ...valid, descriptors: [{ key: 'k', value: '' }] }, 'body.descriptors.0.value'],
    [{ ...valid, descriptors: [{ key: 'k' }] }, 'body.descriptors.0.value'],
    [{ ...valid, descriptors: [{ value: 'v' }] }, 'body.descriptors.0.key'],
    [{ ...valid, descriptors: [{}] }, 'body.descriptors.0'],
    [
      { ...valid, descriptors: [{ key: 'k', value: 'v', entries: [{ key: 'a', value: 'b' }] }] },
      'body.descriptors.0',
    ],
    [{ ...valid, descriptors: [{ entries: [] }] }, 'body.descriptors.0.entries'],
    [{ ...valid, descriptors: [{ entries: [{ key: 'a' }] }] }, 'body.descriptors.0.entries.0.value'],
    [
      { ...valid, descriptors: [{ entries: Array.from({ length: 9 }, () => ({ key: 'a', value: 'b' })) }] },
      'body.descriptors.0.entries',
    ],
    [{ ...valid, descriptors: [{ key: 7, value: 'v' }] }, 'body.descriptors.0.key'],
    [{ ...valid, descriptors: ['api_key'] }, 'body.descriptors.0'],
    [{ ...valid, hitsAddend: 0 }, 'body.hitsAddend'],
    [{ ...valid, hitsAddend: -1 }, 'body.hitsAddend'],
    [{ ...valid, hitsAddend: 1.5 }, 'body.hitsAddend'],
    [{ ...valid, hitsAddend: '2' }, 'body.hitsAddend'],
    [{ ...valid, colour: 'red' }, 'body.colour'],
    [[valid], 'body'],
  ]
  for (const [payload, field] of cases) {
    const response = await h.app.inject({ method: 'POST', url: '/v1/decide', payload: payload as object })
    assert.equal(response.statusCode, 400, `${JSON.stringify(payload).slice(0, 80)} → ${response.body}`)
    const body = response.json()
    assert.equal(body.field, field, `${JSON.stringify(payload).slice(0, 80)} → ${response.body}`)
    assert.ok(body.message.startsWith(field), body.message)
  }
  const notJson = await h.app.inject({
    method: 'POST',
    url: '/v1/decide',
    headers: { 'content-type': 'application/json' },
    payload: '{"domain":',
  })
  assert.equal(notJson.statusCode, 400)
  const text = await h.app.inject({
    method: 'POST',
    url: '/v1/decide',
    headers: { 'content-type': 'text/plain' },
    payload: 'hello',
  })
  assert.equal(text.statusCode, 415)
  const huge = await h.app.inject({
    method: 'POST',
    url: '/v1/decide',
    payload: { ...valid, domain: 'x'.repeat(h.config.bodyLimitBytes) },
  })
  assert.equal(huge.statusCode, 413)
  // The well-formed request still works after all of that.
  assert.equal((await h.decide(valid)).status, 200)
})

test('GET /v1/rules shows the applied version, its source and its domains', async (t) => {
  const h = await harness(t, { rules: rulesV1 })
  const response = await h.app.inject({ url: '/v1/rules' })
  assert.equal(response.statusCode, 200)
  const body = response.json()
  assert.equal(body.version, 1)
  assert.equal(body.source, `file:${h.rules.path}`)
  assert.ok(!Number.isNaN(Date.parse(body.appliedAt)))
  assert.match(body.fingerprint, /^[0-9a-f]{64}$/)
  assert.deepEqual(body.domains, [{ domain: 'api', limits: 1 }])
  // The fixture reads the same from a listening instance.
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const address = h.app.server.address()
  assert.ok(address && typeof address === 'object')
  assert.equal(await new RatelimiterFixture().appliedVersion(`http://127.0.0.1:${address.port}`), 1)
})

test('POST /admin/rules/reload: a bad file is rejected with every reason and the old version stays', async (t) => {
  const h = await harness(t, { rules: rulesV1 })
  const reload = () => h.app.inject({ method: 'POST', url: '/admin/rules/reload' })
  await h.writeRules(
    'version: 2\ndomains:\n  - domain: api\n    descriptors:\n      - key: api_key\n        rate_limit: { requests_per_unit: 0, unit: lightyear }\n',
  )
  const bad = await reload()
  assert.equal(bad.statusCode, 422)
  assert.equal(bad.json().code, 'RATELIMITER_ERR_RULES_REJECTED')
  assert.deepEqual(bad.json().problems, [
    'domains[0].descriptors[0].rate_limit.requests_per_unit: must be a positive integer',
    'domains[0].descriptors[0].rate_limit.unit: must be one of second, minute, hour, day',
  ])
  assert.equal(bad.json().appliedVersion, 1)
  assert.equal((await h.app.inject({ url: '/v1/rules' })).json().version, 1)
  // Decisions still use version 1: two allowed, the third refused.
  const codes = []
  for (let i = 0; i < 3; i++) codes.push((await h.decide(valid)).body.overall)
  assert.deepEqual(codes, ['OK', 'OK', 'OVER_LIMIT'])

  await h.writeRules(rulesV2)
  const good = await reload()
  assert.equal(good.statusCode, 200)
  assert.equal(good.json().status, 'applied')
  assert.equal(good.json().version, 2)
  // The limit changed (2 → 3), the counter did not: one more is allowed.
  assert.equal((await h.decide(valid)).body.overall, 'OK')
  assert.equal((await h.decide(valid)).body.overall, 'OVER_LIMIT')
  assert.equal(await h.metric('ratelimiter_rules_applies_total', { outcome: 'rejected' }), 1)
  assert.equal(await h.metric('ratelimiter_rules_applies_total', { outcome: 'applied' }), 1)
  assert.equal(await h.metric('ratelimiter_rules_version'), 2)
})

test('PUT /admin/rules needs the admin token; takes JSON or YAML; refuses a bad or older ruleset', async (t) => {
  const token = 'test-admin-token'
  const h = await harness(t, { rules: rulesV1, env: { ADMIN_TOKEN: token } })
  const put = (payload: string | object, headers: Record<string, string> = {}) =>
    h.app.inject({
      method: 'PUT',
      url: '/admin/rules',
      headers: { authorization: `Bearer ${token}`, ...headers },
      payload,
    })

  const anonymous = await h.app.inject({ method: 'PUT', url: '/admin/rules', payload: { version: 9 } })
  assert.equal(anonymous.statusCode, 401)
  assert.equal(anonymous.json().code, 'RATELIMITER_ERR_UNAUTHORIZED')
  const wrong = await put({ version: 9 }, { authorization: 'Bearer nope' })
  assert.equal(wrong.statusCode, 401)
  assert.equal((await h.app.inject({ method: 'POST', url: '/admin/rules/reload' })).statusCode, 401)
  assert.equal((await h.app.inject({ url: '/admin/mitigations' })).statusCode, 401)
  assert.equal(
    (await h.app.inject({ url: '/v1/rules' })).statusCode,
    200,
    'reading the version needs no token',
  )

  const yaml = await put(rulesV2, { 'content-type': 'application/yaml' })
  assert.equal(yaml.statusCode, 200, yaml.body)
  assert.deepEqual(
    [yaml.json().status, yaml.json().version, yaml.json().source],
    ['applied', 2, 'PUT /admin/rules'],
  )

  const json = await put({
    version: 3,
    domains: [
      { domain: 'other', descriptors: [{ key: 'user', rate_limit: { requests_per_unit: 1, unit: 'day' } }] },
    ],
  })
  assert.equal(json.statusCode, 200, json.body)
  assert.deepEqual(json.json().domains, [{ domain: 'other', limits: 1 }])

  const invalid = await put({
    version: 4,
    domains: [{ domain: 'x', descriptors: [{ key: 'k', rate_limit: {} }] }],
    x: 1,
  })
  assert.equal(invalid.statusCode, 422)
  assert.deepEqual(invalid.json().problems, [
    'x: is not a field here (expected version, domains)',
    'domains[0].descriptors[0].rate_limit.requests_per_unit: is required',
    'domains[0].descriptors[0].rate_limit.unit: is required',
  ])
  const broken = await put('version: [1\n', { 'content-type': 'text/yaml' })
  assert.equal(broken.statusCode, 422)
  assert.match(broken.json().problems[0], /^\(line \d+, column \d+\)/)

  const older = await put(rulesV2, { 'content-type': 'text/plain' })
  assert.equal(older.statusCode, 409)
  assert.equal(older.json().code, 'RATELIMITER_ERR_RULES_SUPERSEDED')
  assert.match(older.json().problems[0], /version: 2 is older than the applied version 3/)
  assert.equal((await h.app.inject({ url: '/v1/rules' })).json().version, 3)
})

test('GET /openapi.json: OpenAPI 3.1 listing the decision API of the issue, the rules routes and the switches', async (t) => {
  const h = await harness(t, { rules: rulesV1 })
  const response = await h.app.inject({ url: '/openapi.json' })
  assert.equal(response.statusCode, 200)
  const doc = response.json()
  assert.equal(doc.openapi, '3.1.0')
  assert.deepEqual(operationsOf(doc), [
    'GET /admin/mitigations',
    'GET /v1/rules',
    'POST /admin/rules/reload',
    'POST /v1/decide',
    'PUT /admin/mitigations',
    'PUT /admin/rules',
  ])
  const decide = doc.paths['/v1/decide'].post
  assert.deepEqual(decide.requestBody.content['application/json'].schema.required, ['domain', 'descriptors'])
  assert.deepEqual(Object.keys(decide.responses).sort(), ['200', '400', '413', '415', '503'])
  const applyTypes = Object.keys(doc.paths['/admin/rules'].put.requestBody.content)
  assert.ok(
    applyTypes.includes('application/json') && applyTypes.includes('application/yaml'),
    applyTypes.join(),
  )
})
