/**
 * Idempotency-Key on POST /api/notifications, Novu's semantics on real Postgres and Redis: a
 * repeat gets the stored response + `Idempotent-Replay: true` and creates nothing; a repeat while
 * the first runs gets 409 + Retry-After; other parameters get 422; concurrent repeats make exactly
 * one notification; an expired key makes a new one; with Redis unreachable there is still no twin.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { requestHash } from '../src/idempotency.ts'
import { buildTestApi, countRows, postNotification, uniqueId, welcomeRequest } from './api-app.ts'

const key = () => uniqueId('idem')

test('a repeat with the same key and parameters replays the stored response and creates nothing', async (t) => {
  const { app, h, metric } = await buildTestApi(t)
  const body = await welcomeRequest(app, {
    data: { name: 'Ada', extra: { b: 1, a: 2 } },
    channels: ['sms', 'email'],
  })
  const k = key()
  const first = await postNotification(app, body, { 'idempotency-key': k })
  assert.equal(first.statusCode, 202, first.body)
  assert.equal(first.headers['idempotent-replay'], undefined)
  const { id } = first.json()

  const again = await postNotification(app, body, { 'idempotency-key': k })
  assert.equal(again.statusCode, 202)
  assert.equal(again.headers['idempotent-replay'], 'true')
  assert.deepEqual(again.json(), { id, status: 'accepted' })

  // The same parameters written differently (key order, channel order) are the same request.
  const reordered = {
    priority: body.priority,
    category: body.category,
    channels: ['email', 'sms'],
    data: { extra: { a: 2, b: 1 }, name: 'Ada' },
    template: body.template,
    recipientId: body.recipientId,
  }
  const third = await postNotification(app, reordered, { 'idempotency-key': k })
  assert.equal(third.statusCode, 202)
  assert.equal(third.headers['idempotent-replay'], 'true')
  assert.equal(third.json().id, id)

  assert.equal(await countRows(h, 'notifications'), 1)
  assert.equal(await countRows(h, 'outbox'), 1)
  assert.equal(await metric('notifications_idempotency_total', { outcome: 'new' }), 1)
  assert.equal(await metric('notifications_idempotency_total', { outcome: 'replay' }), 2)
  assert.equal(await metric('notifications_accepted_total'), 1)
  assert.equal(await h.redis().exists(h.keys.idempotencyInFlight(k)), 0, 'the in-flight marker is removed')

  // Without a key nothing is deduplicated.
  assert.equal((await postNotification(app, body)).statusCode, 202)
  assert.equal((await postNotification(app, body)).statusCode, 202)
  assert.equal(await countRows(h, 'notifications'), 3)
})

test('the same key with other parameters is 422, before or while the first request runs', async (t) => {
  const { app, h, metric } = await buildTestApi(t)
  const body = await welcomeRequest(app)
  const k = key()
  assert.equal((await postNotification(app, body, { 'idempotency-key': k })).statusCode, 202)
  for (const change of [
    { data: { name: 'Bob' } },
    { priority: 'low' },
    { channels: ['email'] },
    { ttlS: 60 },
  ]) {
    const res = await postNotification(app, { ...body, ...change }, { 'idempotency-key': k })
    assert.equal(res.statusCode, 422, JSON.stringify(change))
    assert.equal(res.json().code, 'NOTIFICATIONS_ERR_IDEMPOTENCY_MISMATCH')
    assert.equal(res.json().field, 'headers.idempotency-key')
  }
  assert.equal(await metric('notifications_idempotency_total', { outcome: 'mismatch' }), 4)

  // While another request holds the key with other parameters: 422 too.
  const held = key()
  await h.redis().set(h.keys.idempotencyInFlight(held), 'another-hash', 'PX', 10_000)
  const res = await postNotification(app, body, { 'idempotency-key': held })
  assert.equal(res.statusCode, 422)
  assert.equal(await countRows(h, 'notifications'), 1)
})

test('a repeat while the first request runs is 409 + Retry-After; after it finished, a replay', async (t) => {
  const { app, h, config, metric } = await buildTestApi(t)
  const body = await welcomeRequest(app)
  const hash = requestHash({ ...body, data: body.data, channels: null, ttlS: config.defaultTtlS })
  const k = key()
  const redis = h.redis()
  // The first request, mid-flight: its marker is set, its transaction not yet committed.
  await redis.set(h.keys.idempotencyInFlight(k), hash, 'PX', 10_000)
  const inFlight = await postNotification(app, body, { 'idempotency-key': k })
  assert.equal(inFlight.statusCode, 409, inFlight.body)
  assert.equal(inFlight.headers['retry-after'], '1')
  assert.equal(inFlight.json().code, 'NOTIFICATIONS_ERR_IDEMPOTENCY_IN_FLIGHT')
  assert.equal(await metric('notifications_idempotency_total', { outcome: 'in_flight' }), 1)
  assert.equal(await countRows(h, 'notifications'), 0)

  await redis.del(h.keys.idempotencyInFlight(k))
  const first = await postNotification(app, body, { 'idempotency-key': k })
  assert.equal(first.statusCode, 202)
  // Committed, marker not yet removed (the holder is between COMMIT and DEL): Postgres answers.
  await redis.set(h.keys.idempotencyInFlight(k), hash, 'PX', 10_000)
  const replay = await postNotification(app, body, { 'idempotency-key': k })
  assert.equal(replay.statusCode, 202)
  assert.equal(replay.headers['idempotent-replay'], 'true')
  assert.equal(replay.json().id, first.json().id)
})

test('concurrent requests with one key make exactly one notification; the others get 409 or the replay', async (t) => {
  const { app, h } = await buildTestApi(t)
  const body = await welcomeRequest(app)
  for (let round = 0; round < 3; round++) {
    const k = key()
    const responses = await Promise.all(
      Array.from({ length: 12 }, () => postNotification(app, body, { 'idempotency-key': k })),
    )
    const created = responses.filter(
      (r) => r.statusCode === 202 && r.headers['idempotent-replay'] === undefined,
    )
    assert.equal(created.length, 1, responses.map((r) => r.statusCode).join(','))
    const id = created[0]?.json().id
    for (const r of responses) {
      if (r.statusCode === 202) assert.equal(r.json().id, id)
      else {
        assert.equal(r.statusCode, 409, r.body)
        assert.equal(r.headers['retry-after'], '1')
      }
    }
    const { rows } = await h.db.query('SELECT id::text FROM notifications WHERE idempotency_key = $1', [k])
    assert.deepEqual(rows, [{ id }])
  }
  assert.equal(await countRows(h, 'notifications'), 3)
  assert.equal(await countRows(h, 'outbox'), 3)
})

test('an expired key makes a new notification; the old one keeps its row but not the key', async (t) => {
  const { app, h } = await buildTestApi(t)
  const body = await welcomeRequest(app)
  const k = key()
  const first = (await postNotification(app, body, { 'idempotency-key': k })).json().id
  const expiry = await h.db.query(
    `SELECT extract(epoch FROM idempotency_expires_at - created_at) AS s FROM notifications WHERE id = $1`,
    [first],
  )
  assert.equal(Number(expiry.rows[0].s), 86_400, 'keys are kept IDEMPOTENCY_TTL_S (24 h)')
  await h.db.query(`UPDATE notifications SET idempotency_expires_at = now() - interval '1 second'`)

  const fresh = await postNotification(
    app,
    { ...body, data: { name: 'Someone else' } },
    { 'idempotency-key': k },
  )
  assert.equal(fresh.statusCode, 202, 'an expired key does not compare parameters')
  assert.equal(fresh.headers['idempotent-replay'], undefined)
  const second = fresh.json().id
  assert.notEqual(second, first)
  const { rows } = await h.db.query<{ id: string; idempotency_key: string | null }>(
    'SELECT id::text, idempotency_key FROM notifications ORDER BY created_at',
  )
  assert.deepEqual(rows, [
    { id: first, idempotency_key: null },
    { id: second, idempotency_key: k },
  ])
  const replay = await postNotification(
    app,
    { ...body, data: { name: 'Someone else' } },
    { 'idempotency-key': k },
  )
  assert.equal(replay.headers['idempotent-replay'], 'true')
  assert.equal(replay.json().id, second)
})

test('with Redis unreachable the unique key still prevents a twin', async (t) => {
  const { app, h, metric } = await buildTestApi(t, { redis: 'unreachable' })
  const body = await welcomeRequest(app)
  const k = key()
  const responses = await Promise.all(
    Array.from({ length: 8 }, () => postNotification(app, body, { 'idempotency-key': k })),
  )
  const ids = new Set<string>()
  for (const r of responses) {
    assert.equal(r.statusCode, 202, r.body)
    ids.add(r.json().id)
  }
  assert.equal(ids.size, 1)
  assert.equal(responses.filter((r) => r.headers['idempotent-replay'] === undefined).length, 1)
  assert.equal(await countRows(h, 'notifications'), 1)
  assert.equal(await countRows(h, 'outbox'), 1)
  assert.ok((await metric('notifications_idempotency_marker_failures_total', { op: 'take' })) >= 1)
  const mismatch = await postNotification(app, { ...body, priority: 'low' }, { 'idempotency-key': k })
  assert.equal(mismatch.statusCode, 422)
})

test('a malformed key is 400 naming the header; a refused request leaves no marker behind', async (t) => {
  const { app, h } = await buildTestApi(t)
  const body = await welcomeRequest(app)
  for (const bad of ['has space', 'x'.repeat(256), '']) {
    const res = await postNotification(app, body, { 'idempotency-key': bad })
    assert.equal(res.statusCode, 400, JSON.stringify(bad))
    assert.equal(res.json().field, 'headers.idempotency-key')
  }
  assert.equal((await postNotification(app, body, { 'idempotency-key': 'x'.repeat(255) })).statusCode, 202)

  const k = key()
  const unknown = await postNotification(app, { ...body, recipientId: 'nobody' }, { 'idempotency-key': k })
  assert.equal(unknown.statusCode, 404)
  assert.equal(await h.redis().exists(h.keys.idempotencyInFlight(k)), 0)
  const ok = await postNotification(app, body, { 'idempotency-key': k })
  assert.equal(ok.statusCode, 202)
  assert.equal(ok.headers['idempotent-replay'], undefined)
})
