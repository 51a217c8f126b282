/**
 * RedisRulesSource against real Redis: two instances' sources sharing one store, each an applier
 * (its file at boot, `apply` as PUT /admin/rules calls it) and a reader (`pollOnce`, what its poll
 * loop runs). The `rulesCompareAndSet` switch is read live, as the service's switch state is.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '@faultline/infra'
import { createMetrics } from '@faultline/kit/metrics'
import { parsePrometheusText } from '@faultline/measure'
import { Redis } from 'ioredis'
import type { RulesDocument } from '../src/rules/schema.ts'
import type { RulesStoreSettings } from '../src/rules/store/env.ts'
import type { RulesStoreKeys } from '../src/rules/store/keys.ts'
import { observeRulesStore } from '../src/rules/store/metrics.ts'
import { RedisRulesSource } from '../src/rules/store/redis-rules-source.ts'
import type { RedisClient } from '../src/rules/store/types.ts'
import { apply, gate, pacing, ruleset, singleRedis, stores } from './rules-store-support.ts'

// The poll loop is slowed right down: each test drives the reads itself with pollOnce().
const settings: RulesStoreSettings = { pacing, pollMs: 60_000, retentionMs: 60_000, stagingTtlMs: 60_000 }

async function rulesFile(t: { after(fn: () => unknown): void }, document: RulesDocument): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rules-store-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'rules.json')
  await writeFile(path, JSON.stringify(document))
  return path
}

async function instances(
  t: { after(fn: () => unknown): void },
  redis: RedisClient,
  keys: RulesStoreKeys,
  compareAndSet: boolean,
  file = ruleset(1),
) {
  const path = await rulesFile(t, file)
  const switches = { current: { rulesCompareAndSet: compareAndSet } }
  const open = async () => {
    const source = await RedisRulesSource.open(path, { redis, keys, switches, settings })
    t.after(() => source.close())
    return source
  }
  return { a: await open(), b: await open(), switches }
}

const json = (document: RulesDocument) => ({ value: document })

test('hardened: a push to B reaches A at its next read; an older push to A is refused as superseded (409)', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { a, b } = await instances(t, redis, keys, true)
  assert.equal(a.current()?.version, 1)
  const pushed = await b.apply(json(ruleset(5)), 'PUT /admin/rules')
  assert.equal(pushed.status, 'applied')
  assert.equal(b.current()?.version, 5, 'the applier decides with it at once')
  assert.equal(await a.pollOnce(), 'adopted')
  assert.equal(a.current()?.version, 5)
  assert.equal(a.current()?.source, 'redis:generation 5')

  const stale = await a.apply(json(ruleset(3)), 'PUT /admin/rules')
  assert.equal(stale.status, 'rejected')
  assert.equal(stale.status === 'rejected' && stale.cause, 'superseded')
  assert.equal(a.current()?.version, 5)
  assert.deepEqual(a.distribution(), { layout: 'generations', generation: 5, appliesInProgress: 0 })
  assert.equal(await b.pollOnce(), 'unchanged')
})

test('the same ruleset applied again is unchanged, and answers with the record of its first apply', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { b } = await instances(t, redis, keys, true)
  const first = await b.apply(json(ruleset(6)), 'PUT /admin/rules')
  assert.equal(first.status, 'applied')
  await sleep(5)
  const again = await b.apply(json(ruleset(6)), 'POST /admin/rules/reload')
  assert.equal(again.status, 'unchanged')
  assert.ok(first.status === 'applied' && again.status === 'unchanged')
  assert.equal(again.applied.appliedAt, first.applied.appliedAt, 'not re-applied now')
  assert.equal(again.applied.source, 'PUT /admin/rules')
  assert.deepEqual(again.applied, b.current())
})

test('hardened: an instance booting with an older file keeps the newer generation from Redis', async (t) => {
  const { redis, keys } = await singleRedis(t)
  await apply(stores(redis, keys).generations, ruleset(7))
  const { a } = await instances(t, redis, keys, true, ruleset(2))
  assert.equal(a.current()?.version, 7)
})

test('hardened reader: a store found empty or older is refused and the rules in force stay', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { a, b } = await instances(t, redis, keys, true)
  await b.apply(json(ruleset(4)), 'PUT /admin/rules')
  assert.equal(await a.pollOnce(), 'adopted')
  // What a naive store does to the pointer: moved back to an older generation, then emptied.
  await redis.hset(keys.current(), 'version', '1')
  assert.equal(await a.pollOnce(), 'refused_older')
  await redis.del(keys.current())
  assert.equal(await a.pollOnce(), 'refused_empty')
  assert.equal(a.current()?.version, 4)
  assert.equal(a.readCounts().get('refused_older'), 1)
})

test('naive: a reader adopts the empty store mid-apply, then the older ruleset a resumed applier wrote', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { a } = await instances(t, redis, keys, false)
  const { inPlace } = stores(redis, keys)
  const held = gate(1)
  const stale = apply(inPlace, ruleset(2), held.hooks) // an applier paused mid-apply
  await held.reached
  assert.equal(await a.pollOnce(), 'adopted')
  assert.equal(a.current()?.version, 0, 'no version: the instance decides with a partial ruleset')
  assert.equal(a.current()?.ruleset.domains.size, 2)
  await apply(inPlace, ruleset(3))
  await a.pollOnce()
  assert.equal(a.current()?.version, 3)
  held.release()
  await stale
  assert.equal(await a.pollOnce(), 'adopted')
  assert.equal(a.current()?.version, 2, 'backwards')
  assert.deepEqual(a.distribution(), { layout: 'in-place', generation: 2, appliesInProgress: 0 })
})

test('an invalid push is rejected with its reasons and writes nothing to Redis', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { a } = await instances(t, redis, keys, true)
  const outcome = await a.apply({ value: { version: 9, domains: [] } }, 'PUT /admin/rules')
  assert.equal(outcome.status, 'rejected')
  assert.equal(outcome.status === 'rejected' && outcome.cause, undefined)
  assert.deepEqual(outcome.status === 'rejected' && outcome.problems, ['domains: must not be empty'])
  assert.equal(await redis.hget(keys.current(), 'version'), '1')
})

test('the switch is read live: flipped on, the next push goes through the compare-and-set', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { a, switches } = await instances(t, redis, keys, false)
  assert.equal(await redis.get(keys.version()), '1')
  switches.current.rulesCompareAndSet = true
  assert.equal((await a.apply(json(ruleset(6)), 'PUT /admin/rules')).status, 'applied')
  assert.equal(await redis.hget(keys.current(), 'version'), '6')
  assert.equal((await a.apply(json(ruleset(5)), 'PUT /admin/rules')).status, 'rejected')
})

/**
 * A TCP relay to Redis on a port of its own that the test opens when it likes: "Redis is down"
 * for one client, without touching the shared proxies.
 */
async function relayToRedis(t: { after(fn: () => unknown): void }, redisUrl: string) {
  const target = new URL(redisUrl)
  const port = await freePort()
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => socket.destroy())
      socket.on('close', () => sockets.delete(socket))
    }
    client.pipe(upstream).pipe(client)
  })
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    if (server.listening) await new Promise((resolve) => server.close(resolve))
  })
  return { port, open: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)) }
}

test('an instance booting with Redis away decides with its file, and applies it once Redis is back', async (t) => {
  const { infra, redis, keys } = await singleRedis(t)
  const relay = await relayToRedis(t, infra.urls.redisUrl)
  // No offline queue: while the relay is closed every command fails at once, as with Redis down.
  const away = new Redis({
    host: '127.0.0.1',
    port: relay.port,
    enableOfflineQueue: false,
    retryStrategy: () => 20,
  })
  away.on('error', () => {})
  t.after(() => away.disconnect())
  const path = await rulesFile(t, ruleset(3))
  const switches = { current: { rulesCompareAndSet: true } }
  const source = await RedisRulesSource.open(path, {
    redis: away,
    keys,
    switches,
    settings: { ...settings, pollMs: 20 },
  })
  t.after(() => source.close())
  assert.equal(source.current()?.version, 3)
  assert.equal(source.readCounts().get('failed'), 1)
  assert.equal(await redis.hget(keys.current(), 'version'), null)
  await relay.open()
  let stored: string | null = null
  for (let i = 0; i < 200 && stored === null; i++) {
    await sleep(20)
    stored = await redis.hget(keys.current(), 'version')
  }
  assert.equal(stored, '3', 'the poll loop applied the file once Redis answered')
})

test('metrics: the store generation, applies in progress and reads by outcome, read at scrape time', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const path = await rulesFile(t, ruleset(1))
  const switches = { current: { rulesCompareAndSet: true } }
  // 8 domains, 2 per batch, 150 ms apart: an apply lasts about half a second.
  const slow = { ...settings, pacing: { batch: 2, pauseMs: 150 } }
  const source = await RedisRulesSource.open(path, { redis, keys, switches, settings: slow })
  t.after(() => source.close())
  const metrics = createMetrics()
  observeRulesStore(metrics, source)
  const value = async (name: string, outcome?: string) => {
    const text = await metrics.registry.metrics()
    const sample = parsePrometheusText(text).find(
      (s) => s.name === name && (!outcome || s.labels.outcome === outcome),
    )
    return sample?.value
  }
  assert.equal(await value('ratelimiter_rules_store_generation'), 1)
  assert.equal(await value('ratelimiter_rules_apply_in_progress'), 0)
  const pushing = source.apply(json(ruleset(2)), 'PUT /admin/rules')
  let inProgress = 0
  for (let i = 0; i < 100 && inProgress === 0; i++) {
    inProgress = (await value('ratelimiter_rules_apply_in_progress')) ?? 0
    await sleep(5)
  }
  assert.equal(inProgress, 1, 'seen mid-apply')
  assert.equal((await pushing).status, 'applied')
  assert.equal(await value('ratelimiter_rules_apply_in_progress'), 0)
  assert.equal(await value('ratelimiter_rules_store_generation'), 2)
  await source.pollOnce()
  assert.equal(await value('ratelimiter_rules_store_reads_total', 'unchanged'), 2)
})
