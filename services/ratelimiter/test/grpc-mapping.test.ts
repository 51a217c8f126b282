/**
 * The translation between Envoy's rate limit messages and the decision service's own shapes:
 * pure functions, so every edge (hits_addend 0, each invalid field, Duration rounding, header
 * names that must not leak descriptor values) is checked without a server.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DecideResponse } from '../src/decision-types.ts'
import { envoyProtoIncludeDirs, loadRateLimitService } from '../src/grpc/envoy-proto.ts'
import { draftRateLimitHeaders } from '../src/grpc/rls-headers.ts'
import {
  type RlsRequest,
  rlsRequestBounds,
  toDecideRequest,
  toDuration,
  toRateLimitResponse,
} from '../src/grpc/rls-mapping.ts'

const entry = (key: string, value: string) => ({ key, value })
const request = (over: Partial<RlsRequest> = {}): RlsRequest => ({
  domain: 'api',
  descriptors: [{ entries: [entry('api_key', 'alice')] }],
  hits_addend: 0,
  ...over,
})

test('a valid request maps field by field, keeping descriptor and entry order', () => {
  const parsed = toDecideRequest(
    request({
      descriptors: [
        { entries: [entry('api_key', 'alice'), entry('path', '/x')] },
        { entries: [entry('tenant', 't1')] },
      ],
      hits_addend: 3,
    }),
  )
  assert.deepEqual(parsed, {
    ok: true,
    request: {
      domain: 'api',
      descriptors: [[entry('api_key', 'alice'), entry('path', '/x')], [entry('tenant', 't1')]],
      hitsAddend: 3,
    },
  })
})

test('hits_addend 0 (proto3 cannot tell it from unset) means 1, as Envoy documents', () => {
  const parsed = toDecideRequest(request({ hits_addend: 0 }))
  assert.equal(parsed.ok && parsed.request.hitsAddend, 1)
})

test('each invalid field is named in the message', () => {
  const long = 'x'.repeat(rlsRequestBounds.maxDomainLength + 1)
  const cases: Array<[Partial<RlsRequest>, string]> = [
    [{ domain: '' }, 'domain: must not be empty'],
    [{ domain: long }, `domain: must be at most ${rlsRequestBounds.maxDomainLength} characters`],
    [{ descriptors: [] }, 'descriptors: must not be empty'],
    [
      { hits_addend: rlsRequestBounds.maxHitsAddend + 1 },
      `hits_addend: must be at most ${rlsRequestBounds.maxHitsAddend}`,
    ],
    [
      { descriptors: [{ entries: [entry('a', 'b')] }, { entries: [] }] },
      'descriptors[1].entries: must not be empty',
    ],
    [
      { descriptors: [{ entries: [entry('a', 'b'), entry('', 'v')] }] },
      'descriptors[0].entries[1].key: must not be empty',
    ],
    [{ descriptors: [{ entries: [entry('k', '')] }] }, 'descriptors[0].entries[0].value: must not be empty'],
    [
      {
        descriptors: Array.from({ length: rlsRequestBounds.maxDescriptors + 1 }, () => ({
          entries: [entry('a', 'b')],
        })),
      },
      `descriptors: must have at most ${rlsRequestBounds.maxDescriptors} items`,
    ],
  ]
  for (const [over, message] of cases) {
    const parsed = toDecideRequest(request(over))
    assert.equal(parsed.ok, false, message)
    assert.equal(!parsed.ok && parsed.message, message)
  }
})

test('a decision maps to Envoy codes, limits, remaining and a Duration per descriptor', () => {
  const decision: DecideResponse = {
    overall: 'OVER_LIMIT',
    statuses: [
      {
        code: 'OVER_LIMIT',
        limit: { requestsPerUnit: 10, unit: 'MINUTE', windowMs: 60_000, algorithm: 'gcra', name: 'per-key' },
        remaining: 0,
        resetS: 1.25,
      },
      { code: 'OK', remaining: 0, resetS: 0 },
    ],
  }
  assert.deepEqual(toRateLimitResponse(decision), {
    overall_code: 'OVER_LIMIT',
    statuses: [
      {
        code: 'OVER_LIMIT',
        current_limit: { name: 'per-key', requests_per_unit: 10, unit: 'MINUTE' },
        limit_remaining: 0,
        duration_until_reset: { seconds: 1, nanos: 250_000_000 },
      },
      { code: 'OK', limit_remaining: 0, duration_until_reset: { seconds: 0, nanos: 0 } },
    ],
    response_headers_to_add: [],
  })
})

test('Durations are never negative and nanos stay below one second', () => {
  assert.deepEqual(toDuration(-3), { seconds: 0, nanos: 0 })
  assert.deepEqual(toDuration(Number.NaN), { seconds: 0, nanos: 0 })
  assert.deepEqual(toDuration(2.9999999999), { seconds: 2, nanos: 999_999_999 })
})

test('draft RateLimit headers name the rule, never the descriptor values, and skip unmatched descriptors', () => {
  const headers = draftRateLimitHeaders({
    overall: 'OK',
    statuses: [
      {
        code: 'OK',
        limit: {
          requestsPerUnit: 100,
          unit: 'SECOND',
          windowMs: 1000,
          algorithm: 'sliding-log',
          name: 'per "key"',
        },
        remaining: 42,
        resetS: 0.4,
      },
      { code: 'OK', remaining: 0, resetS: 0 },
      {
        code: 'OK',
        limit: { requestsPerUnit: 5, unit: 'MINUTE', windowMs: 60_000, algorithm: 'token-bucket' },
        remaining: 5,
        resetS: 0,
      },
    ],
  })
  assert.deepEqual(headers, [
    { key: 'RateLimit-Policy', value: '"per \\"key\\"";q=100;w=1, "descriptor-2";q=5;w=60' },
    { key: 'RateLimit', value: '"per \\"key\\"";r=42;t=1, "descriptor-2";r=5;t=0' },
  ])
  assert.deepEqual(
    draftRateLimitHeaders({ overall: 'OK', statuses: [{ code: 'OK', remaining: 0, resetS: 0 }] }),
    [],
  )
})

test("Envoy's rls.proto is found in the installed @grpc/grpc-js-xds and defines ShouldRateLimit", () => {
  const dirs = envoyProtoIncludeDirs()
  assert.ok(dirs.some((dir) => dir.endsWith('envoy-api')))
  const service = loadRateLimitService()
  assert.equal(
    service.service.ShouldRateLimit?.path,
    '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit',
  )
})
