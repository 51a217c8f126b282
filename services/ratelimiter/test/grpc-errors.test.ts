/**
 * How the gRPC server fails, seen by a client built only from Envoy's proto: a malformed request
 * is INVALID_ARGUMENT naming the field (before the engine is asked), and an engine that rejects or
 * never answers is UNAVAILABLE — never a hang that would hold every request behind an Envoy.
 * The engines here are stand-ins for the failure itself (no Redis involved); decisions against
 * real Redis are in grpc.infra.test.ts.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { RateLimitInputError } from '@faultline/ratelimit'
import { type ServiceError, status } from '@grpc/grpc-js'
import { callShouldRateLimit, createRlsClient, type RlsCallRequest } from '../scripts/rls-call.ts'
import type { DecideRequest, DecisionEngine } from '../src/decision-types.ts'
import { startRlsServer } from '../src/grpc/rls-server.ts'

const quietLog = { info() {}, warn() {} }

async function serve(t: TestContext, engine: DecisionEngine, backstopMs = 1000) {
  const server = await startRlsServer({ engine, host: '127.0.0.1', port: 0, log: quietLog, backstopMs })
  const client = createRlsClient(`127.0.0.1:${server.port}`)
  t.after(async () => {
    client.close()
    await server.close(1000)
  })
  return client
}

async function grpcError(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise
  } catch (err) {
    return err as ServiceError
  }
  assert.fail('expected the call to fail')
}

const valid: RlsCallRequest = { domain: 'api', descriptors: [{ entries: [{ key: 'api_key', value: 'a' }] }] }

test('malformed requests are INVALID_ARGUMENT naming the field, and never reach the engine', async (t) => {
  const seen: DecideRequest[] = []
  const client = await serve(t, {
    decide: async (request) => {
      seen.push(request)
      return {
        overall: 'OK',
        statuses: request.descriptors.map(() => ({ code: 'OK', remaining: 0, resetS: 0 })),
      }
    },
  })
  const cases: Array<[RlsCallRequest, string]> = [
    [{ ...valid, domain: '' }, 'domain: must not be empty'],
    [{ ...valid, descriptors: [] }, 'descriptors: must not be empty'],
    [{ ...valid, descriptors: [{ entries: [] }] }, 'descriptors[0].entries: must not be empty'],
    [
      { ...valid, descriptors: [{ entries: [{ key: '', value: 'v' }] }] },
      'descriptors[0].entries[0].key: must not be empty',
    ],
  ]
  for (const [request, details] of cases) {
    const err = await grpcError(callShouldRateLimit(client, request))
    assert.equal(err.code, status.INVALID_ARGUMENT, details)
    assert.equal(err.details, details)
  }
  assert.equal(seen.length, 0)
  // The same server still answers a valid request, with hits_addend 0 sent as 1.
  const ok = await callShouldRateLimit(client, valid)
  assert.equal(ok.overall_code, 'OK')
  assert.equal(seen[0]?.hitsAddend, 1)
})

test('an engine that fails gives UNAVAILABLE', async (t) => {
  const client = await serve(t, { decide: () => Promise.reject(new Error('redis went away')) })
  const err = await grpcError(callShouldRateLimit(client, valid))
  assert.equal(err.code, status.UNAVAILABLE)
  assert.equal(err.details, 'rate limit decision unavailable')
})

test("a caller's mistake the engine finds (a 4xx error) is INVALID_ARGUMENT with its message", async (t) => {
  const client = await serve(t, {
    decide: () =>
      Promise.reject(new RateLimitInputError('RATELIMIT_ERR_BAD_COST', 'cost', 'must be an integer ≥ 1')),
  })
  const err = await grpcError(callShouldRateLimit(client, valid))
  assert.equal(err.code, status.INVALID_ARGUMENT)
  assert.equal(err.details, 'cost must be an integer ≥ 1')
})

test('an engine that never answers gives UNAVAILABLE at the backstop, not a hang', async (t) => {
  const client = await serve(t, { decide: () => new Promise(() => {}) }, 50)
  // The client's own deadline (10 s) is far past the backstop: the server must answer first.
  const err = await grpcError(callShouldRateLimit(client, valid, 10_000))
  assert.equal(err.code, status.UNAVAILABLE)
})
