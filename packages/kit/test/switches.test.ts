import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import { ConfigError } from '../src/config.ts'
import { defineError } from '../src/errors.ts'
import { createMetrics } from '../src/metrics.ts'
import { createService } from '../src/service.ts'
import {
  defineSwitches,
  installSwitches,
  SwitchState,
  switchesPlugin,
  switchesSchema,
} from '../src/switches.ts'

const switches = defineSwitches({
  singleFlight: { description: 'misses on one key share one read', default: true, defends: ['pm10', 'pm02'] },
  readinessIndependentOfDeps: {
    description: '/readyz checks this process only',
    default: true,
    defends: ['pm03'],
  },
  verboseErrors: { description: 'error bodies carry the cause', default: false, defends: [] },
})

function build(t: { after: (fn: () => unknown) => void }, options: { adminToken?: string } = {}) {
  // createService keeps Fastify's default Ajv (removeAdditional, coerceTypes): the routes must
  // refuse unknown names and "yes" anyway.
  const app = createService({ name: 'test', level: 'silent' })
  const state = new SwitchState(switches)
  installSwitches(app, { state, ...options })
  t.after(() => app.close())
  return { app, state }
}

test('names, specs, defaults and env names come from the declaration', () => {
  assert.deepEqual(switches.names, ['singleFlight', 'readinessIndependentOfDeps', 'verboseErrors'])
  assert.deepEqual(switches.defaults(), {
    singleFlight: true,
    readinessIndependentOfDeps: true,
    verboseErrors: false,
  })
  assert.deepEqual(switches.specs.singleFlight.defends, ['pm10', 'pm02'])
  assert.equal(switches.envName('singleFlight'), 'MITIGATION_SINGLE_FLIGHT')
  assert.equal(switches.envName('readinessIndependentOfDeps'), 'MITIGATION_READINESS_INDEPENDENT_OF_DEPS')
  assert.ok(switches.has('verboseErrors'))
  assert.ok(!switches.has('warpDrive'))
  assert.ok(!switches.has('toString'), 'an inherited property is no switch')
  assert.ok(Object.isFrozen(switches.specs) && Object.isFrozen(switches.names))
  const defaults = switches.defaults()
  defaults.singleFlight = false
  assert.equal(switches.defaults().singleFlight, true, 'defaults() is a fresh object')
})

test('a bad declaration fails at once, naming every problem', () => {
  assert.throws(
    () =>
      defineSwitches({
        'single-flight': { description: 'x', default: true, defends: [] },
        empty: { description: ' ', default: true, defends: ['PM10', 'pm1'] },
        aBc: { description: 'x', default: true, defends: [] },
        aBC: { description: 'x', default: true, defends: [] },
      }),
    (err: Error) =>
      /single-flight.*camelCase/.test(err.message) &&
      /empty: description is empty/.test(err.message) &&
      /"PM10"/.test(err.message) &&
      /"pm1"/.test(err.message) &&
      /aBC and aBc both map to MITIGATION_A_BC/.test(err.message),
  )
})

test('env: defaults < MITIGATIONS JSON < MITIGATION_<NAME>', () => {
  assert.deepEqual(switches.fromEnv({}), switches.defaults())
  const values = switches.fromEnv({
    MITIGATIONS: JSON.stringify({ singleFlight: false, verboseErrors: true }),
    MITIGATION_VERBOSE_ERRORS: 'off',
    MITIGATION_READINESS_INDEPENDENT_OF_DEPS: ' 0 ',
    MITIGATION_SINGLE_FLIGHT: '',
  })
  assert.deepEqual(values, { singleFlight: false, readinessIndependentOfDeps: false, verboseErrors: false })
  assert.equal(switches.fromEnv({ MITIGATION_VERBOSE_ERRORS: 'YES' }).verboseErrors, true)
})

test('env: every problem at once, each under the variable at fault', () => {
  assert.throws(
    () =>
      switches.fromEnv({
        MITIGATIONS: '{"singleFlite":true,"verboseErrors":"yes"}',
        MITIGATION_SINGLE_FLIGHT: 'maybe',
        MITIGATION_SINGLEFLIGHT: 'false',
        PATH: '/usr/bin',
      }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      assert.deepEqual(
        err.issues.map((issue) => issue.name),
        ['MITIGATIONS', 'MITIGATIONS', 'MITIGATION_SINGLE_FLIGHT', 'MITIGATION_SINGLEFLIGHT'],
      )
      assert.match(err.message, /unknown switch "singleFlite" \(known: singleFlight, /)
      assert.match(err.message, /verboseErrors must be a boolean/)
      assert.match(err.message, /MITIGATION_SINGLE_FLIGHT: "maybe" is not a boolean/)
      assert.match(err.message, /MITIGATION_SINGLEFLIGHT: is not a switch of this system/)
      return true
    },
  )
  assert.throws(() => switches.fromEnv({ MITIGATIONS: '[1]' }), /MITIGATIONS: must be a JSON object/)
  assert.throws(() => switches.fromEnv({ MITIGATIONS: '{' }), /MITIGATIONS: is not valid JSON/)
})

test('state: partial updates, atomic refusal of unknown names and non-booleans, listeners', () => {
  const state = new SwitchState(switches, { verboseErrors: true })
  assert.deepEqual(state.current, {
    singleFlight: true,
    readinessIndependentOfDeps: true,
    verboseErrors: true,
  })
  const seen: boolean[] = []
  const unsubscribe = state.subscribe((values) => seen.push(values.singleFlight))
  state.update({ singleFlight: false })
  assert.equal(state.current.singleFlight, false)
  assert.throws(
    () => state.update({ singleFlight: true, nope: true, verboseErrors: 'yes' }),
    (err: Error & { code?: string; statusCode?: number; field?: string }) => {
      assert.equal(err.code, 'KIT_ERR_INVALID_SWITCHES')
      assert.equal(err.statusCode, 400)
      assert.equal(err.field, 'body.nope')
      assert.match(err.message, /body\.nope is not a switch/)
      assert.match(err.message, /body\.verboseErrors must be a boolean/)
      return true
    },
  )
  assert.equal(state.current.singleFlight, false, 'nothing changed on a refused update')
  unsubscribe()
  state.update({ singleFlight: true })
  assert.deepEqual(seen, [true, false], 'called at once, after each update, not after unsubscribing')
  const snapshot = state.snapshot()
  snapshot.verboseErrors = false
  assert.equal(state.current.verboseErrors, true, 'a snapshot is a copy')
})

test('the schema is derived from the manifest', () => {
  const schema = switchesSchema(switches, { required: true })
  assert.equal(schema.additionalProperties, false)
  assert.deepEqual(Object.keys(schema.properties), switches.names)
  assert.deepEqual(schema.properties.singleFlight, {
    type: 'boolean',
    description: 'misses on one key share one read (defends against pm10, pm02)',
    default: true,
  })
  assert.deepEqual('required' in schema ? schema.required : undefined, [...switches.names])
  assert.ok(!('required' in switchesSchema(switches)))
})

test('GET answers every switch; PUT is a partial update', async (t) => {
  const { app, state } = build(t)
  const get = await app.inject({ url: '/admin/mitigations' })
  assert.equal(get.statusCode, 200)
  assert.deepEqual(get.json(), switches.defaults())
  const put = await app.inject({ method: 'PUT', url: '/admin/mitigations', payload: { singleFlight: false } })
  assert.equal(put.statusCode, 200)
  assert.deepEqual(put.json(), {
    singleFlight: false,
    readinessIndependentOfDeps: true,
    verboseErrors: false,
  })
  assert.equal(state.current.singleFlight, false, 'the live state changed')
  const empty = await app.inject({ method: 'PUT', url: '/admin/mitigations', payload: {} })
  assert.equal(empty.statusCode, 200, 'an empty update changes nothing')
  assert.equal(empty.json().singleFlight, false)
})

test('PUT: 400 on an unknown name, a non-boolean or a body that is no object; nothing changes', async (t) => {
  const { app, state } = build(t)
  const cases: Array<[string, string, string]> = [
    ['{"warpDrive":true}', 'body.warpDrive', 'body.warpDrive is not a switch'],
    ['{"singleFlight":"false"}', 'body.singleFlight', 'body.singleFlight must be a boolean'],
    ['{"singleFlight":0}', 'body.singleFlight', 'body.singleFlight must be a boolean'],
    ['{"singleFlight":false,"warpDrive":true}', 'body.warpDrive', 'body.warpDrive is not a switch'],
    ['[true]', 'body', 'body must be a JSON object of booleans'],
    ['null', 'body', 'body must be a JSON object of booleans'],
  ]
  for (const [payload, field, message] of cases) {
    const res = await app.inject({
      method: 'PUT',
      url: '/admin/mitigations',
      headers: { 'content-type': 'application/json' },
      payload,
    })
    assert.equal(res.statusCode, 400, payload)
    const body = res.json()
    assert.equal(body.code, 'KIT_ERR_INVALID_SWITCHES', payload)
    assert.equal(body.field, field, payload)
    assert.ok(body.message.startsWith(message), `${payload}: ${body.message}`)
  }
  assert.deepEqual(state.current, switches.defaults())
  const noBody = await app.inject({ method: 'PUT', url: '/admin/mitigations' })
  assert.equal(noBody.statusCode, 400)
})

test('with a token, both routes need it as a bearer token', async (t) => {
  const { app, state } = build(t, { adminToken: 's3cret' })
  for (const authorization of [undefined, 's3cret', 'Bearer wrong!', 'Bearer s3cret ']) {
    const headers = authorization === undefined ? {} : { authorization }
    const get = await app.inject({ url: '/admin/mitigations', headers })
    assert.equal(get.statusCode, 401, String(authorization))
    assert.equal(get.json().code, 'KIT_ERR_UNAUTHORIZED')
    const put = await app.inject({
      method: 'PUT',
      url: '/admin/mitigations',
      headers,
      payload: { singleFlight: false },
    })
    assert.equal(put.statusCode, 401)
  }
  assert.equal(state.current.singleFlight, true, 'a refused PUT changes nothing')
  const headers = { authorization: 'Bearer s3cret' }
  assert.equal((await app.inject({ url: '/admin/mitigations', headers })).statusCode, 200)
  const put = await app.inject({
    method: 'PUT',
    url: '/admin/mitigations',
    headers,
    payload: { singleFlight: false },
  })
  assert.equal(put.statusCode, 200)
  assert.equal(state.current.singleFlight, false)
})

test("a service's own 401 error replaces the kit's", async (t) => {
  const app = createService({ name: 'test', level: 'silent' })
  t.after(() => app.close())
  const Unauthorized = defineError('TOY_ERR_UNAUTHORIZED', 'no', 401)
  installSwitches(app, { state: new SwitchState(switches), adminToken: 'x', unauthorizedError: Unauthorized })
  const res = await app.inject({ url: '/admin/mitigations' })
  assert.equal(res.statusCode, 401)
  assert.equal(res.json().code, 'TOY_ERR_UNAUTHORIZED')
})

test('the gauge shows each switch, 1 on and 0 off, as it is at scrape time', async (t) => {
  const { app } = build(t)
  const gauge = async () => {
    const text = (await app.inject({ url: '/metrics' })).body
    return Object.fromEntries(
      [...text.matchAll(/^faultline_mitigation_enabled\{switch="(\w+)"\} (\d)$/gm)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    )
  }
  assert.deepEqual(await gauge(), { singleFlight: 1, readinessIndependentOfDeps: 1, verboseErrors: 0 })
  await app.inject({
    method: 'PUT',
    url: '/admin/mitigations',
    payload: { singleFlight: false, verboseErrors: true },
  })
  assert.deepEqual(await gauge(), { singleFlight: 0, readinessIndependentOfDeps: 1, verboseErrors: 1 })
})

test('as a plugin on a plain Fastify instance, with a registry passed in', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  const metrics = createMetrics({ defaultMetrics: false })
  const state = new SwitchState(switches)
  await app.register(switchesPlugin, { state, metrics, path: '/switches' })
  const put = await app.inject({ method: 'PUT', url: '/switches', payload: { verboseErrors: true } })
  assert.equal(put.statusCode, 200)
  assert.equal(state.current.verboseErrors, true)
  assert.match(await metrics.registry.metrics(), /faultline_mitigation_enabled\{switch="verboseErrors"\} 1/)
  const bad = await app.inject({ method: 'PUT', url: '/switches', payload: { verboseErrors: 'yes' } })
  assert.equal(bad.statusCode, 400, 'refused without the kit error handler too')
})
