/**
 * The decision service over Envoy's rate limit protocol, end to end on real Redis: the real engine
 * (createRatelimiter, as server.ts wires it) behind the gRPC server, called by a client built only
 * from Envoy's `rls.proto` (scripts/rls-call.ts — nothing from src), and by that script as a user
 * runs it. Each test has its own rules file and Redis key prefix (test/app-harness.ts).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type ServiceError, status } from '@grpc/grpc-js'
import { callShouldRateLimit, createRlsClient, type RlsCallRequest } from '../scripts/rls-call.ts'
import { startRlsServer } from '../src/grpc/rls-server.ts'
import { harness } from './app-harness.ts'

const rules = `
version: 1
domains:
  - domain: rls-test
    descriptors:
      - key: api_key
        rate_limit:
          name: per-key
          requests_per_unit: 3
          unit: minute
      - key: tenant
        rate_limit:
          name: per-tenant
          requests_per_unit: 5
          unit: hour
`

async function rls(t: TestContext, env: Record<string, string> = {}) {
  // A deadline far above any Redis round trip: on a busy machine the default 20 ms would let the
  // failure policy answer some calls, and these tests are about the protocol, not that policy.
  const h = await harness(t, { rules, env: { DECISION_DEADLINE_MS: '2000', ...env } })
  const server = await startRlsServer({
    engine: h.ratelimiter.engine,
    host: '127.0.0.1',
    port: 0,
    log: { info() {}, warn() {} },
  })
  const addr = `127.0.0.1:${server.port}`
  const client = createRlsClient(addr)
  // Runs after the harness's cleanups (node:test keeps registration order); no call is in flight by then.
  t.after(async () => {
    client.close()
    await server.close(1000)
  })
  const call = (request: RlsCallRequest) => callShouldRateLimit(client, request)
  return { addr, call }
}

const byKey = (value: string, hits = 0): RlsCallRequest => ({
  domain: 'rls-test',
  descriptors: [{ entries: [{ key: 'api_key', value }] }],
  hits_addend: hits,
})

test('OK under the limit with the limit and what remains, OVER_LIMIT past it', async (t) => {
  const { call } = await rls(t)
  for (const remaining of [2, 1, 0]) {
    const response = await call(byKey('alice'))
    assert.equal(response.overall_code, 'OK')
    const [status0] = response.statuses
    assert.equal(status0?.code, 'OK')
    assert.deepEqual(status0?.current_limit, { name: 'per-key', requests_per_unit: 3, unit: 'MINUTE' })
    assert.equal(status0?.limit_remaining, remaining)
    assert.ok((status0?.duration_until_reset?.seconds ?? 0) > 0, 'a used quota has a reset time')
  }
  const denied = await call(byKey('alice'))
  assert.equal(denied.overall_code, 'OVER_LIMIT')
  assert.equal(denied.statuses[0]?.code, 'OVER_LIMIT')
  assert.equal(denied.statuses[0]?.limit_remaining, 0)
  // Another key has its own counter.
  const other = await call(byKey('bob'))
  assert.equal(other.overall_code, 'OK')
  assert.equal(other.statuses[0]?.limit_remaining, 2)
})

test('the same decisions with the counters in Redis Cluster', async (t) => {
  const { call } = await rls(t, { RATELIMIT_STORE: 'cluster' })
  const codes: string[] = []
  for (let i = 0; i < 4; i++) codes.push((await call(byKey('alice'))).overall_code)
  assert.deepEqual(codes, ['OK', 'OK', 'OK', 'OVER_LIMIT'])
})

test('hits_addend is the cost of the request (0 counts as 1)', async (t) => {
  const { call } = await rls(t)
  const two = await call(byKey('carol', 2))
  assert.equal(two.statuses[0]?.limit_remaining, 1)
  // A cost above what remains is refused whole and takes nothing.
  const tooMuch = await call(byKey('carol', 2))
  assert.equal(tooMuch.overall_code, 'OVER_LIMIT')
  const one = await call(byKey('carol', 0))
  assert.equal(one.overall_code, 'OK')
  assert.equal(one.statuses[0]?.limit_remaining, 0)
})

test('one status per descriptor, in order; overall OVER_LIMIT when any descriptor is', async (t) => {
  const { call } = await rls(t)
  const request: RlsCallRequest = {
    domain: 'rls-test',
    descriptors: [
      { entries: [{ key: 'tenant', value: 'acme' }] },
      { entries: [{ key: 'api_key', value: 'dave' }] },
      { entries: [{ key: 'no_rule', value: 'x' }] },
    ],
    hits_addend: 3,
  }
  const first = await call(request)
  assert.equal(first.overall_code, 'OK')
  assert.deepEqual(
    first.statuses.map((s) => [s.code, s.current_limit?.name ?? null, s.limit_remaining]),
    [
      ['OK', 'per-tenant', 2],
      ['OK', 'per-key', 0],
      ['OK', null, 0],
    ],
  )
  assert.equal(first.statuses[0]?.current_limit?.unit, 'HOUR')
  const second = await call({ ...request, hits_addend: 1 })
  assert.equal(second.overall_code, 'OVER_LIMIT')
  assert.deepEqual(
    second.statuses.map((s) => s.code),
    ['OK', 'OVER_LIMIT', 'OK'],
  )
  // The draft RateLimit headers Envoy adds to the response name the rules, not the values.
  const headers = Object.fromEntries(second.response_headers_to_add.map((h) => [h.key, h.value]))
  assert.equal(headers['RateLimit-Policy'], '"per-tenant";q=5;w=3600, "per-key";q=3;w=60')
  assert.match(headers.RateLimit ?? '', /^"per-tenant";r=1;t=\d+, "per-key";r=0;t=\d+$/)
})

test('an unknown domain is OK without limits (Envoy’s rule for what no rule limits)', async (t) => {
  const { call } = await rls(t)
  const response = await call({ ...byKey('erin'), domain: 'elsewhere' })
  assert.equal(response.overall_code, 'OK')
  assert.equal(response.statuses[0]?.current_limit, null)
})

test('malformed requests are INVALID_ARGUMENT naming the field', async (t) => {
  const { call } = await rls(t)
  const cases: Array<[RlsCallRequest, string]> = [
    [{ ...byKey('x'), domain: '' }, 'domain: must not be empty'],
    [{ ...byKey('x'), descriptors: [] }, 'descriptors: must not be empty'],
    [{ ...byKey('x'), descriptors: [{ entries: [] }] }, 'descriptors[0].entries: must not be empty'],
    [
      { ...byKey('x'), descriptors: [{ entries: [{ key: 'api_key', value: '' }] }] },
      'descriptors[0].entries[0].value: must not be empty',
    ],
  ]
  for (const [request, details] of cases) {
    const err = await call(request).then(
      () => assert.fail(`expected INVALID_ARGUMENT: ${details}`),
      (e: ServiceError) => e,
    )
    assert.equal(err.code, status.INVALID_ARGUMENT)
    assert.equal(err.details, details)
  }
})

const script = fileURLToPath(new URL('../scripts/rls-call.ts', import.meta.url))
const run = promisify(execFile)

test('scripts/rls-call.ts, as a user runs it, prints the decision and reports errors', async (t) => {
  const { addr } = await rls(t)
  const args = ['--addr', addr, '--domain', 'rls-test', '--descriptor', 'api_key=frank', '--hits', '2']
  const { stdout } = await run(process.execPath, [script, ...args])
  const response = JSON.parse(stdout)
  assert.equal(response.overall_code, 'OK')
  assert.equal(response.statuses[0].limit_remaining, 1)
  assert.equal(response.statuses[0].current_limit.requests_per_unit, 3)

  const failed = await run(process.execPath, [
    script,
    '--addr',
    addr,
    '--domain',
    '',
    '--descriptor',
    'a=b',
  ]).then(
    () => assert.fail('expected exit code 1'),
    (e: { code: number; stderr: string }) => e,
  )
  assert.equal(failed.code, 1)
  assert.deepEqual(JSON.parse(failed.stderr), {
    error: { code: 'INVALID_ARGUMENT', details: 'domain: must not be empty' },
  })
})
