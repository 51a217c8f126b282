// The client registry without infrastructure: a client exists only once a context reads it, each
// is created once however many contexts read it, and closing is once and final.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ClientRegistry } from '../src/clients/registry.ts'
import { createLabContext, extendContext } from '../src/context.ts'
import { externalInfra } from '../src/infra.ts'
import { UnmeasuredError } from '../src/metrics-scrape.ts'
import { repoRoot } from '../src/paths.ts'
import { ServiceFleet } from '../src/services.ts'
import selftest, { twoRoleSystem } from './fixtures/selftest.system.ts'

function fleet(): ServiceFleet {
  return new ServiceFleet({
    repoRoot,
    system: selftest,
    services: { api: {} },
    mode: 'naive',
    mitigations: { redisTimeout: false },
    baseEnv: {},
    logDir: mkdtempSync(join(tmpdir(), 'lab-clients-')),
    log: () => {},
  })
}

test('clients are created on first read, once, through every extended context', async () => {
  const registry = new ClientRegistry(externalInfra({}))
  const ctx = createLabContext({
    mode: 'naive',
    mitigations: { redisTimeout: false },
    clients: registry.clients,
    infra: externalInfra({}),
    fleet: fleet(),
    inject: async () => {},
    log: () => {},
  })
  const faultCtx = extendContext(ctx, { signal: new AbortController().signal })
  assert.equal(registry.created('pg'), false, 'building contexts opens nothing')
  assert.equal(registry.created('s3'), false)
  assert.equal(faultCtx.redis, ctx.redis, 'one client, whichever context reads it')
  assert.equal(registry.created('redis'), true)
  assert.equal(registry.created('kafka'), false, 'an unread client is never created')
  assert.equal(faultCtx.mode, 'naive')
  assert.deepEqual(faultCtx.services, [], 'no instance before the fleet starts')
  assert.throws(() => ctx.url('api', 0), /reset runs before the services start/)
  await registry.close()
  await registry.close()
  assert.throws(() => ctx.pg, /the lab's pg client is closed/)
})

test("ctx.scrape() reads every instance now; a dead instance's share is unmeasured, not 0", async (t) => {
  const registry = new ClientRegistry(externalInfra({}))
  const fleet = new ServiceFleet({
    repoRoot,
    system: twoRoleSystem,
    services: { api: { instances: 2 }, worker: {} },
    mode: 'naive',
    mitigations: { redisTimeout: false },
    // No Redis: every GET /item is an error, counted in selftest_requests_total{source="error"}.
    baseEnv: { REDIS_URL: 'redis://127.0.0.1:1' },
    logDir: mkdtempSync(join(tmpdir(), 'lab-scrape-')),
    log: () => {},
  })
  t.after(() => fleet.stopAll())
  const ctx = createLabContext({
    mode: 'naive',
    mitigations: { redisTimeout: false },
    clients: registry.clients,
    infra: externalInfra({}),
    fleet,
    inject: async () => {},
    log: () => {},
  })
  await fleet.start()
  await fetch(`${ctx.url('api', 1)}/item`)
  const now = await ctx.scrape()
  assert.deepEqual(
    now.scrapes.map((s) => [s.instance, s.service, s.ok]),
    [
      ['api-0', 'api', true],
      ['api-1', 'api', true],
      ['worker-0', 'worker', true],
    ],
  )
  assert.equal(now.sum('selftest_requests_total', { source: 'error' }), 1)
  await fleet.kill(fleet.instance('api', 0))
  await assert.rejects(
    async () => (await ctx.scrape()).sum('selftest_requests_total'),
    (err: unknown) => err instanceof UnmeasuredError && /current scrape of api-0 failed/.test(err.message),
  )
  await registry.close()
})
