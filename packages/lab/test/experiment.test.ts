import assert from 'node:assert/strict'
import { test } from 'node:test'
import { catalogRow, parseCatalog } from '../src/catalog.ts'
import { defineExperiment, type ExperimentSpec, mitigationsFor, resolveVariant } from '../src/experiment.ts'
import { action } from '../src/faults/index.ts'
import { errorRateBelow } from '../src/invariants.ts'
import { repoRoot } from '../src/paths.ts'
import { instanceEnv, resolveService } from '../src/services.ts'
import { defineSystem } from '../src/system.ts'
import { toySystem } from './fixtures/toy.system.ts'

const noop = action('noop', async () => undefined)

function spec(overrides: Partial<ExperimentSpec> = {}): ExperimentSpec {
  return {
    id: 'pm10',
    slug: 'hot-key-stampede',
    system: toySystem,
    title: 'Hot-key stampede',
    services: { api: { instances: 2 }, worker: {} },
    mitigations: { singleFlight: true, ttlJitter: true },
    load: { script: 'loadtests/shortener/hot-key.js', durationS: 60, env: { RATE: '400', KEY: 'a' } },
    timeline: [{ at: 10, until: 50, every: 5, action: noop }],
    invariants: [errorRateBelow(0.01)],
    ci: {
      load: { durationS: 20, env: { RATE: '100' } },
      timeline: [{ at: 5, until: 15, every: 2, action: noop }],
    },
    ...overrides,
  }
}

test('defineExperiment names the experiment after its file', () => {
  const exp = defineExperiment(spec())
  assert.equal(exp.name, 'toy/pm10-hot-key-stampede')
  assert.equal(exp.variant, 'full')
})

test('defineExperiment lists every problem at once', () => {
  const err = (() => {
    try {
      defineExperiment(
        spec({
          id: 'x10',
          mitigations: {},
          invariants: [],
          load: { script: '', durationS: 30, target: 'web' },
          timeline: [
            { at: 40, action: noop },
            { at: 5, until: 3, action: noop },
            { at: 1, every: 2, action: noop },
            { at: 1, until: 9, every: 2, hold: 3, action: noop },
          ],
        }),
      )
    } catch (e) {
      return e as Error
    }
  })()
  assert.ok(err)
  for (const problem of [
    /id "x10"/,
    /mitigations is empty/,
    /invariants is empty/,
    /load.script is empty/,
    /load.target "web"/,
    /at 40 s is after the load ends/,
    /until must be > at/,
    /every needs until/,
    /hold must be in \(0, every\)/,
  ]) {
    assert.match(err.message, problem)
  }
})

test('an experiment whose invariants all hold in both modes is refused: it could only "reproduce" vacuously', () => {
  const allAlways = spec({
    invariants: [
      errorRateBelow(0.01, { expect: 'always' }),
      errorRateBelow(0.05, { expect: 'always', name: 'loose' }),
    ],
  })
  assert.throws(() => defineExperiment(allAlways), /at least one must fail naive/)
  const oneReproduces = spec({
    invariants: [errorRateBelow(0.01, { expect: 'always' }), errorRateBelow(0.05, { name: 'signature' })],
  })
  assert.equal(defineExperiment(oneReproduces).invariants.length, 2)
})

test('the CI variant merges load fields and env, replaces the timeline', () => {
  const ci = resolveVariant(defineExperiment(spec()), true)
  assert.equal(ci.variant, 'ci')
  assert.equal(ci.load.durationS, 20)
  assert.deepEqual(ci.load.env, { RATE: '100', KEY: 'a' })
  assert.equal(ci.load.script, 'loadtests/shortener/hot-key.js')
  assert.equal(ci.timeline[0]?.every, 2)
  const full = resolveVariant(defineExperiment(spec()), false)
  assert.equal(full.load.durationS, 60)
})

test('a CI variant may describe itself; without its own description it keeps the full one', () => {
  const plain = defineExperiment(spec())
  assert.equal(resolveVariant(plain, true).description, plain.description)
  const own = defineExperiment(spec({ ci: { description: 'at 200 req/s' } }))
  assert.equal(resolveVariant(own, true).description, 'at 200 req/s')
  assert.equal(resolveVariant(own, false).description, own.description)
})

test('a CI variant that breaks the rules is rejected', () => {
  const exp = defineExperiment(spec({ ci: { load: { durationS: 8 } } }))
  assert.throws(() => resolveVariant(exp, true), /the ci variant of .* at 10 s is after the load ends/s)
})

test('naive turns every switch of the experiment off; hardened turns them on', () => {
  const exp = defineExperiment(spec({ mitigations: { singleFlight: true, ttlJitter: true } }))
  assert.deepEqual(mitigationsFor(exp, 'naive'), { singleFlight: false, ttlJitter: false })
  assert.deepEqual(mitigationsFor(exp, 'hardened'), { singleFlight: true, ttlJitter: true })
})

test('switches are checked against the system: an unknown name or a hardened false is a problem', () => {
  const err = (() => {
    try {
      defineExperiment(spec({ mitigations: { singleFlight: false, singelFlight: true } }))
    } catch (e) {
      return e as Error
    }
  })()
  assert.ok(err)
  assert.match(err.message, /mitigations\.singleFlight is false: hardened must turn it on/)
  assert.match(err.message, /mitigations\.singelFlight is not a switch of toy \(singleFlight, ttlJitter\)/)
})

test('the system must be a descriptor, and every service one of its own', () => {
  const bad = spec({ services: { api: {}, relay: {} } })
  assert.throws(() => defineExperiment(bad), /services\.relay is not one of toy's \(api, worker\)/)
  const notASystem = { ...spec(), system: 'toy' } as unknown as ExperimentSpec
  assert.throws(() => defineExperiment(notASystem), /system must be a system descriptor/)
})

test('defineSystem lists every problem at once', () => {
  assert.throws(
    () =>
      defineSystem({
        name: 'Toy System',
        switches: toySystem.switches,
        services: { api: { entry: '', role: 'web' as 'http' } },
      }),
    (err: Error) =>
      /name "Toy System" must be kebab-case/.test(err.message) &&
      /services\.api\.entry is empty/.test(err.message) &&
      /services\.api\.role must be http or worker/.test(err.message),
  )
})

test('services come from the system: entry and role; the experiment gives instances and env', () => {
  const api = resolveService(toySystem, 'api', {})
  assert.equal(api.entry, 'services/toy/src/server.ts')
  assert.equal(api.role, 'http')
  assert.equal(api.healthPath, '/healthz')
  assert.equal(api.readyPath, '/readyz')
  assert.equal(api.metricsPath, '/metrics')
  assert.equal(api.mitigationsPath, '/admin/mitigations')
  const worker = resolveService(toySystem, 'worker', { instances: 3, env: { B: '2' } })
  assert.equal(worker.entry, 'services/toy/src/worker.ts')
  assert.equal(worker.role, 'worker')
  assert.equal(worker.instances, 3)
  assert.deepEqual(worker.env, { A: '1', B: '2' })
  assert.throws(() => resolveService(toySystem, 'relay', {}), /"relay" is not one of toy's \(api, worker\)/)
})

test('instance env: infra URLs < experiment < service < what the lab owns; switch names from the manifest', () => {
  const env = instanceEnv({
    base: { REDIS_URL: 'redis://proxy', PORT: '1' },
    experimentEnv: { CACHE_TTL_S: '5', REDIS_URL: 'redis://exp' },
    service: resolveService(toySystem, 'api', { env: { CACHE_TTL_S: '7' } }),
    switches: toySystem.switches,
    instance: 'api-1',
    port: 4321,
    mode: 'naive',
    mitigations: { singleFlight: false, ttlJitter: false },
  })
  assert.equal(env.REDIS_URL, 'redis://exp')
  assert.equal(env.CACHE_TTL_S, '7')
  assert.equal(env.PORT, '4321')
  assert.equal(env.HOST, '127.0.0.1')
  assert.equal(env.INSTANCE_ID, 'api-1')
  assert.equal(env.LAB_MODE, 'naive')
  assert.equal(env.MITIGATIONS, '{"singleFlight":false,"ttlJitter":false}')
  assert.equal(env.MITIGATION_SINGLE_FLIGHT, 'false')
  assert.equal(env.MITIGATION_TTL_JITTER, 'false')
})

const catalog = `# Catalog

| ID | Incident (source) | Mechanism | Sys | Fault to inject | Invariant (checker) | Mitigation to toggle |
|---|---|---|---|---|---|---|
| pm02 | Slack, 2022-02-22 (slack.engineering/x) | warm cache replaced by cold one | FD, SH | flush Redis | goodput back | single-flight fill |
| pm10 | Scaling Memcache at Facebook, NSDI'13 (leases) | hot key expiry → every concurrent miss queries the DB | SH | expire it | ≤ 1 DB fill per key per expiry | lease / single-flight |

Notes
| not | a row |
`

test('parseCatalog reads the table by its header', () => {
  const rows = parseCatalog(catalog)
  assert.deepEqual(
    rows.map((r) => r.id),
    ['pm02', 'pm10'],
  )
  assert.equal(rows[1]?.incident, "Scaling Memcache at Facebook, NSDI'13 (leases)")
  assert.equal(rows[1]?.invariant, '≤ 1 DB fill per key per expiry')
  assert.equal(rows[0]?.systems, 'FD, SH')
})

test('catalogRow: the experiment module may override fields, or supply a row the catalog lacks', () => {
  const own = catalogRow('pm99', { incident: 'made up', mechanism: 'm' }, repoRoot)
  assert.equal(own.row?.incident, 'made up')
  assert.equal(catalogRow('pm98', undefined, '/nonexistent').row, null)
})
