/**
 * The API on real Postgres and Redis: a notification and its outbox row are written in one
 * transaction; GET's shape and status as deliveries move; 400 / 404 / 422 naming the field; junk
 * (bad JSON, wrong types, huge and deeply nested bodies, NUL characters) is a 4xx, never a 500;
 * templates PUT/GET; the stats balance; the switches and metrics routes.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createPgPool } from '@faultline/kit/clients'
import { operationsOf } from '@faultline/kit/openapi'
import { buildApp } from '../src/app.ts'
import { createNotificationsApi } from '../src/components.ts'
import { switches as manifest } from '../src/mitigations.ts'
import type { NotificationEvent } from '../src/types.ts'
import {
  buildTestApi,
  countRows,
  postNotification,
  putRecipient,
  uniqueId,
  welcomeRequest,
} from './api-app.ts'
import { notificationsHarness, silentLog } from './harness.ts'

test('POST /api/notifications writes the notification and its outbox row (key = recipient); GET shows it', async (t) => {
  const { app, h, metric } = await buildTestApi(t)
  const body = await welcomeRequest(app, { channels: ['sms', 'email'], ttlS: 600, priority: 'critical' })
  const res = await postNotification(app, body)
  assert.equal(res.statusCode, 202, res.body)
  const { id, status } = res.json()
  assert.equal(status, 'accepted')
  assert.match(id, /^[0-9a-f-]{36}$/)
  assert.equal(res.headers['idempotent-replay'], undefined)

  const { rows } = await h.db.query(
    'SELECT *, extract(epoch FROM expires_at - created_at) AS ttl FROM notifications',
  )
  assert.equal(rows.length, 1)
  const row = rows[0]
  assert.equal(row.id, id)
  assert.equal(row.recipient_id, body.recipientId)
  assert.deepEqual(row.channels, ['email', 'sms'], 'channels stored sorted')
  assert.deepEqual(row.data, { name: 'Ada' })
  assert.equal(row.priority, 'critical')
  assert.equal(Number(row.ttl), 600)
  assert.equal(row.idempotency_key, null)

  const outbox = await h.db.query<{ key: string; payload: NotificationEvent }>(
    'SELECT key, payload FROM outbox',
  )
  assert.equal(outbox.rows.length, 1)
  const [entry] = outbox.rows
  assert.equal(entry?.key, body.recipientId)
  assert.equal(entry?.payload.type, 'notification_accepted')
  assert.deepEqual(entry?.payload.notification, {
    id,
    recipientId: body.recipientId,
    template: 'welcome',
    data: { name: 'Ada' },
    channels: ['email', 'sms'],
    category: 'onboarding',
    priority: 'critical',
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
  })
  assert.equal(await metric('notifications_accepted_total', { priority: 'critical' }), 1)

  const got = await app.inject({ method: 'GET', url: `/api/notifications/${id}` })
  assert.equal(got.statusCode, 200)
  assert.deepEqual(got.json(), {
    id,
    recipientId: body.recipientId,
    template: 'welcome',
    category: 'onboarding',
    priority: 'critical',
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    status: 'accepted',
    deliveries: [],
  })

  // The router's and worker's writes, as they make them: the status follows the deliveries.
  await h.deliveries.createMany([
    { id: `${id}-email`, notificationId: id, channel: 'email', status: 'queued' },
    { id: `${id}-sms`, notificationId: id, channel: 'sms', status: 'suppressed', reason: 'opted_out' },
  ])
  const progressing = (await app.inject({ method: 'GET', url: `/api/notifications/${id}` })).json()
  assert.equal(progressing.status, 'in_progress')
  assert.deepEqual(
    progressing.deliveries.map((d: { channel: string; status: string; reason: string | null }) => [
      d.channel,
      d.status,
      d.reason,
    ]),
    [
      ['email', 'queued', null],
      ['sms', 'suppressed', 'opted_out'],
    ],
  )
  assert.deepEqual(Object.keys(progressing.deliveries[0]).sort(), [
    'attempts',
    'channel',
    'heldUntil',
    'provider',
    'reason',
    'sentAt',
    'status',
    'updatedAt',
  ])
  const open = (await app.inject({ method: 'GET', url: '/api/stats' })).json()
  assert.equal(open.inFlight, 1)
  assert.equal(open.balanced, false, 'a queued delivery: the balance does not hold yet')
  await h.deliveries.claim(`${id}-email`, true)
  await h.deliveries.markSent(`${id}-email`, 'email', 'm-1')
  const done = (await app.inject({ method: 'GET', url: `/api/notifications/${id}` })).json()
  assert.equal(done.status, 'done')
  assert.equal(done.deliveries[0].provider, 'email')
  assert.equal(done.deliveries[0].attempts, 1)
  assert.ok(done.deliveries[0].sentAt)

  const stats = (await app.inject({ method: 'GET', url: '/api/stats' })).json()
  assert.equal(stats.notifications, 1)
  assert.equal(stats.deliveries.sent, 1)
  assert.equal(stats.deliveries.suppressed, 1)
  assert.equal(stats.inFlight, 0)
  assert.equal(stats.balanced, true)
  assert.equal(stats.unrouted, 0)
})

test('the notification and its outbox row commit together: an outbox failure leaves no notification', async (t) => {
  const { app, h } = await buildTestApi(t)
  const body = await welcomeRequest(app)
  // A constraint only this test's schema has makes the second INSERT of the transaction fail.
  await h.db.query(`ALTER TABLE outbox ADD CONSTRAINT test_refuse CHECK (key <> '${body.recipientId}')`)
  const res = await postNotification(app, body)
  assert.equal(res.statusCode, 500)
  assert.equal(res.json().code, 'KIT_ERR_INTERNAL')
  assert.equal(await countRows(h, 'notifications'), 0, 'the notification rolled back with its outbox row')
  assert.equal(await countRows(h, 'outbox'), 0)
})

test('bad parameters are 400 naming the field; unknown recipient 404; template problems 422', async (t) => {
  const { app, h } = await buildTestApi(t)
  const good = await welcomeRequest(app)
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ recipientId: undefined }, 'body.recipientId'],
    [{ recipientId: '' }, 'body.recipientId'],
    [{ recipientId: 'x'.repeat(129) }, 'body.recipientId'],
    [{ recipientId: 42 }, 'body.recipientId'],
    [{ recipientId: 'bad\u0000id' }, 'body.recipientId'],
    [{ template: undefined }, 'body.template'],
    [{ template: 'Not A Name' }, 'body.template'],
    [{ data: 'text' }, 'body.data'],
    [{ data: [1, 2] }, 'body.data'],
    [{ data: { name: 'a\u0000b' } }, 'body.data'],
    [{ data: { name: '\ud800' } }, 'body.data'],
    [{ channels: [] }, 'body.channels'],
    [{ channels: ['email', 'email'] }, 'body.channels'],
    [{ channels: ['fax'] }, 'body.channels.0'],
    [{ channels: 'email' }, 'body.channels'],
    [{ category: undefined }, 'body.category'],
    [{ category: 'Has Spaces' }, 'body.category'],
    [{ category: 'a'.repeat(65) }, 'body.category'],
    [{ priority: undefined }, 'body.priority'],
    [{ priority: 'urgent' }, 'body.priority'],
    [{ ttlS: 0 }, 'body.ttlS'],
    [{ ttlS: 1.5 }, 'body.ttlS'],
    [{ ttlS: '60' }, 'body.ttlS'],
    [{ ttlS: 7 * 86_400 + 1 }, 'body.ttlS'],
  ]
  for (const [override, field] of cases) {
    const res = await postNotification(app, { ...good, ...override })
    assert.equal(res.statusCode, 400, `${JSON.stringify(override)}: ${res.body}`)
    assert.equal(res.json().field, field, JSON.stringify(override))
  }
  const extra = await postNotification(app, { ...good, surprise: true })
  assert.equal(extra.statusCode, 400)

  const unknownRecipient = await postNotification(app, { ...good, recipientId: 'nobody-here' })
  assert.equal(unknownRecipient.statusCode, 404)
  assert.equal(unknownRecipient.json().code, 'NOTIFICATIONS_ERR_RECIPIENT_NOT_FOUND')
  assert.equal(unknownRecipient.json().field, 'body.recipientId')

  const unknownTemplate = await postNotification(app, { ...good, template: 'no-such-template' })
  assert.equal(unknownTemplate.statusCode, 422)
  assert.equal(unknownTemplate.json().code, 'NOTIFICATIONS_ERR_UNKNOWN_TEMPLATE')
  assert.equal(unknownTemplate.json().field, 'body.template')

  // `otp` has sms and email only.
  const noPush = await postNotification(app, {
    ...good,
    template: 'otp',
    data: { code: '123456' },
    channels: ['push'],
  })
  assert.equal(noPush.statusCode, 422)
  assert.equal(noPush.json().code, 'NOTIFICATIONS_ERR_CHANNEL_NOT_IN_TEMPLATE')
  assert.equal(noPush.json().field, 'body.channels')

  const missing = await postNotification(app, { ...good, data: {} })
  assert.equal(missing.statusCode, 422)
  assert.equal(missing.json().code, 'NOTIFICATIONS_ERR_TEMPLATE_DATA')
  assert.equal(missing.json().field, 'body.data.name')
  const missingCarrier = await postNotification(app, {
    ...good,
    template: 'order-shipped',
    data: { orderId: 'A-1' },
    channels: ['sms'],
  })
  assert.equal(missingCarrier.statusCode, 422)
  assert.equal(missingCarrier.json().field, 'body.data.carrier')
  for (const code of [null, { a: 1 }, ['1']]) {
    const unprintable = await postNotification(app, { ...good, template: 'otp', data: { code } })
    assert.equal(unprintable.statusCode, 422, JSON.stringify(code))
    assert.equal(unprintable.json().code, 'NOTIFICATIONS_ERR_TEMPLATE_DATA')
    assert.equal(unprintable.json().field, 'body.data.code')
    assert.match(
      unprintable.json().message,
      /^body\.data\.code must be a string, a number or a boolean: template otp prints it/,
    )
  }

  assert.equal(await countRows(h, 'notifications'), 0, 'nothing refused was written')
  assert.equal(await countRows(h, 'outbox'), 0)
})

test('junk is a 4xx, never a 500: bad JSON, other content types, huge and deeply nested bodies, odd ids', async (t) => {
  const { app, h } = await buildTestApi(t)
  const good = await welcomeRequest(app)
  const junk: Array<{ payload: string; contentType?: string; status: number }> = [
    { payload: '{"recipientId": ', status: 400 },
    { payload: '', status: 400 },
    { payload: 'null', status: 400 },
    { payload: '[]', status: 400 },
    { payload: '"a string"', status: 400 },
    { payload: '42', status: 400 },
    { payload: '{"__proto__": {"admin": true}}', status: 400 },
    { payload: 'recipientId=x', contentType: 'application/x-www-form-urlencoded', status: 415 },
    { payload: 'hello', contentType: 'text/plain', status: 415 },
    { payload: JSON.stringify({ ...good, data: { blob: 'x'.repeat(300 * 1024) } }), status: 413 },
    {
      // 50 000 levels of arrays: parsed by V8 without recursion, refused before anything recurses.
      payload: `${JSON.stringify(good).slice(0, -1)},"data":{"deep":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
      status: 400,
    },
    {
      payload: JSON.stringify({ ...good, data: JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) }),
      status: 400,
    },
  ]
  for (const { payload, contentType, status } of junk) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/notifications',
      headers: { 'content-type': contentType ?? 'application/json' },
      payload,
    })
    assert.equal(res.statusCode, status, `${payload.slice(0, 60)}: ${res.body.slice(0, 200)}`)
    assert.equal(res.json().statusCode, status, 'a JSON error body')
  }
  for (const url of [
    '/api/notifications/not-a-uuid',
    '/api/notifications/00000000-0000-0000-0000-000000000000',
    `/api/notifications/${'a'.repeat(250)}`,
    '/api/notifications/%00',
  ]) {
    const res = await app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 404, url)
    assert.equal(res.json().field, 'params.id', url)
  }
  assert.equal(await countRows(h, 'notifications'), 0)
})

test('PUT/GET /api/templates/:name: created, replaced, validated per field, then used by notifications', async (t) => {
  const { app } = await buildTestApi(t)
  const name = `promo-${Date.now().toString(36)}`
  const channels = {
    email: { subject: 'Hi {{ first }}', html: '<p>{{ first }} gets {{ pct }}%</p>' },
    sms: { text: '{{ first }}: {{ pct }}% off' },
  }
  const created = await app.inject({ method: 'PUT', url: `/api/templates/${name}`, payload: { channels } })
  assert.equal(created.statusCode, 201, created.body)
  assert.deepEqual(created.json().channels, channels)
  const replaced = await app.inject({
    method: 'PUT',
    url: `/api/templates/${name}`,
    payload: { channels: { ...channels, push: { title: 'Sale', body: '{{ pct }}%' } } },
  })
  assert.equal(replaced.statusCode, 200)
  const got = await app.inject({ method: 'GET', url: `/api/templates/${name}` })
  assert.equal(got.statusCode, 200)
  assert.deepEqual(Object.keys(got.json().channels).sort(), ['email', 'push', 'sms'])
  const list = (await app.inject({ method: 'GET', url: '/api/templates' })).json()
  assert.ok(list.templates.some((tpl: { name: string }) => tpl.name === 'welcome'))

  const bad: Array<[unknown, string]> = [
    [{ email: { subject: 'x', html: '{% if %}' } }, 'body.channels.email.html'],
    [{ email: { subject: 'x' } }, 'body.channels.email.html'],
    [{ fax: { text: 'x' } }, 'body.channels.fax'],
    [{ sms: { text: '{{ x | nosuchfilter }}' } }, 'body.channels.sms.text'],
    [{ sms: { text: "{% include 'secrets' %}" } }, 'body.channels.sms.text'],
    [{}, 'body.channels'],
    ['text', 'body.channels'],
  ]
  for (const [payloadChannels, field] of bad) {
    const res = await app.inject({
      method: 'PUT',
      url: `/api/templates/${name}`,
      payload: { channels: payloadChannels },
    })
    assert.equal(res.statusCode, 400, `${JSON.stringify(payloadChannels)}: ${res.body}`)
    assert.equal(res.json().field, field, JSON.stringify(payloadChannels))
  }
  const badName = await app.inject({ method: 'PUT', url: '/api/templates/Bad%20Name', payload: { channels } })
  assert.equal(badName.statusCode, 400)
  assert.equal(badName.json().field, 'params.name')
  const unknown = await app.inject({ method: 'GET', url: '/api/templates/never-defined' })
  assert.equal(unknown.statusCode, 404)
  assert.equal(unknown.json().code, 'NOTIFICATIONS_ERR_TEMPLATE_NOT_FOUND')

  const request = await welcomeRequest(app, { template: name, data: { first: 'Bo' } })
  const missingPct = await postNotification(app, request)
  assert.equal(missingPct.statusCode, 422)
  assert.equal(missingPct.json().field, 'body.data.pct')
  const accepted = await postNotification(app, { ...request, data: { first: '<b>Bo</b>', pct: 20 } })
  assert.equal(accepted.statusCode, 202, accepted.body)
})

test('admin switches, metrics and probes are served; GET /api/recipients of an unknown id is 404', async (t) => {
  const { app } = await buildTestApi(t)
  const switches = await app.inject({ method: 'GET', url: '/admin/mitigations' })
  assert.equal(switches.statusCode, 200)
  assert.deepEqual(Object.keys(switches.json()).sort(), [...manifest.names].sort())
  const flipped = await app.inject({ method: 'PUT', url: '/admin/mitigations', payload: { ttlCheck: false } })
  assert.equal(flipped.statusCode, 200)
  assert.equal(flipped.json().ttlCheck, false)
  const body = await welcomeRequest(app)
  assert.equal((await postNotification(app, body)).statusCode, 202)
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  assert.match(metrics.body, /notifications_accepted_total\{[^}]*priority="normal"[^}]*\} 1/)
  assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const missing = await app.inject({ method: 'GET', url: `/api/recipients/${uniqueId('ghost')}` })
  assert.equal(missing.statusCode, 404)
  assert.equal(missing.json().code, 'NOTIFICATIONS_ERR_RECIPIENT_NOT_FOUND')
  assert.equal(
    (await putRecipient(app, uniqueId('r'), {})).statusCode,
    201,
    'a recipient with no contact point is valid',
  )
})

test('GET /openapi.json: OpenAPI 3.1 listing the API of the issue, templates, stats and the switches', async (t) => {
  const { app } = await buildTestApi(t)
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  assert.equal(res.statusCode, 200)
  const doc = res.json()
  assert.equal(doc.openapi, '3.1.0')
  assert.deepEqual(operationsOf(doc), [
    'GET /admin/mitigations',
    'GET /api/notifications/{id}',
    'GET /api/recipients/{id}',
    'GET /api/stats',
    'GET /api/templates',
    'GET /api/templates/{name}',
    'POST /api/notifications',
    'PUT /admin/mitigations',
    'PUT /api/recipients/{id}',
    'PUT /api/templates/{name}',
  ])
  const accept = doc.paths['/api/notifications'].post
  assert.deepEqual(accept.tags, ['notifications'])
  assert.match(accept.description, /Idempotent-Replay/)
  assert.deepEqual(Object.keys(accept.responses).sort(), [
    '202',
    '400',
    '404',
    '409',
    '413',
    '415',
    '422',
    '503',
  ])
})

test('Postgres unreachable: every route answers 503 + Retry-After, not 500', async (t) => {
  const h = await notificationsHarness(t)
  // Port 1 refuses connections: the pool fails at once, as it would with Postgres down.
  const pool = createPgPool('postgres://nobody:nothing@127.0.0.1:1/none', {
    connectionTimeoutMs: 500,
    log: silentLog,
  })
  h.infra.defer(() => pool.end())
  const api = createNotificationsApi(h.config(), { pool, redis: h.redis() })
  const app = await buildApp(api.appDeps)
  h.infra.defer(() => app.close())
  const body = {
    recipientId: 'r-1',
    template: 'welcome',
    data: { name: 'Ada' },
    category: 'onboarding',
    priority: 'normal',
  }
  const responses = [
    await postNotification(app, body),
    await postNotification(app, body, { 'idempotency-key': 'k-1' }),
    await app.inject({ method: 'GET', url: '/api/notifications/00000000-0000-0000-0000-000000000000' }),
    await putRecipient(app, 'r-1', { email: 'a@example.com' }),
    await app.inject({ method: 'GET', url: '/api/recipients/r-1' }),
    await app.inject({ method: 'GET', url: '/api/templates/welcome' }),
    await app.inject({ method: 'GET', url: '/api/stats' }),
  ]
  for (const res of responses) {
    assert.equal(res.statusCode, 503, res.body)
    assert.equal(res.headers['retry-after'], '1')
    assert.equal(res.json().code, 'KIT_ERR_DEPENDENCY_UNAVAILABLE')
  }
})
