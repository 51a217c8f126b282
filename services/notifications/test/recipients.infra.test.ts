/**
 * PUT/GET /api/recipients/:id on real Postgres: a full replace (201 created, 200 replaced),
 * validation of every field (400 naming it): e-mail, E.164 phone, IANA zone, quiet hours, opt-outs,
 * and webhook URLs — literal loopback, private, link-local and metadata addresses refused unless
 * allow-listed (WEBHOOK_ALLOWLIST), names left to the send-time check.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApi, putRecipient, uniqueId } from './api-app.ts'

const full = {
  email: 'ada@example.com',
  phone: '+442071838750',
  pushToken: 'fcm:abc123',
  webhookUrl: 'https://hooks.example.com/notify?x=1',
  timezone: 'Europe/Paris',
  quietHours: { start: '22:00', end: '07:30' },
  optOuts: { marketing: ['sms', 'push'], digest: ['*'] },
}

test('PUT creates (201) then replaces (200) the whole recipient; GET returns it', async (t) => {
  const { app, h } = await buildTestApi(t)
  const id = uniqueId('alice')
  const created = await putRecipient(app, id, full)
  assert.equal(created.statusCode, 201, created.body)
  const recipient = created.json()
  assert.deepEqual({ ...recipient, updatedAt: undefined }, { id, ...full, updatedAt: undefined })
  assert.ok(Date.parse(recipient.updatedAt) > 0)
  const got = await app.inject({ method: 'GET', url: `/api/recipients/${id}` })
  assert.equal(got.statusCode, 200)
  assert.deepEqual(got.json(), recipient)

  // A full replace: what the body leaves out is cleared (timezone back to UTC).
  const replaced = await putRecipient(app, id, { phone: '+14155550100', quietHours: null })
  assert.equal(replaced.statusCode, 200)
  const after = replaced.json()
  assert.equal(after.phone, '+14155550100')
  assert.equal(after.email, null)
  assert.equal(after.webhookUrl, null)
  assert.equal(after.timezone, 'UTC')
  assert.equal(after.quietHours, null)
  assert.deepEqual(after.optOuts, {})
  const { rows } = await h.db.query('SELECT quiet_start, quiet_end, opt_outs FROM recipients WHERE id = $1', [
    id,
  ])
  assert.deepEqual(rows, [{ quiet_start: null, quiet_end: null, opt_outs: {} }])

  // Ids are the caller's: any printable text up to 128 characters.
  const odd = 'user@example.com/ü 1'
  assert.equal((await putRecipient(app, odd, {})).statusCode, 201)
  assert.equal(
    (await app.inject({ method: 'GET', url: `/api/recipients/${encodeURIComponent(odd)}` })).json().id,
    odd,
  )
})

test('every bad field is a 400 naming it; nothing is written', async (t) => {
  const { app, h } = await buildTestApi(t)
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ email: 'not-an-email' }, 'body.email'],
    [{ email: 'a@b' }, 'body.email'],
    [{ email: 'a b@example.com' }, 'body.email'],
    [{ email: '' }, 'body.email'],
    [{ email: 42 }, 'body.email'],
    [{ phone: '0612345678' }, 'body.phone'],
    [{ phone: '+0612345678' }, 'body.phone'],
    [{ phone: '+1234' }, 'body.phone'],
    [{ phone: '+1234567890123456' }, 'body.phone'],
    [{ phone: '+33 6 12 34 56 78' }, 'body.phone'],
    [{ pushToken: 'has space' }, 'body.pushToken'],
    [{ pushToken: 'nul\u0000' }, 'body.pushToken'],
    [{ timezone: 'Mars/Olympus_Mons' }, 'body.timezone'],
    [{ timezone: '' }, 'body.timezone'],
    [{ timezone: null }, 'body.timezone'],
    [{ quietHours: { start: '22:00' } }, 'body.quietHours.end'],
    [{ quietHours: { start: '24:00', end: '07:00' } }, 'body.quietHours.start'],
    [{ quietHours: { start: '22:00', end: '7:00' } }, 'body.quietHours.end'],
    [{ quietHours: { start: '22:00', end: '22:00' } }, 'body.quietHours.end'],
    [{ quietHours: '22:00-07:00' }, 'body.quietHours'],
    [{ optOuts: { marketing: ['fax'] } }, 'body.optOuts.marketing.0'],
    [{ optOuts: { marketing: 'sms' } }, 'body.optOuts.marketing'],
    [{ optOuts: { marketing: ['sms', 'sms'] } }, 'body.optOuts.marketing'],
    [{ optOuts: { 'Not A Category': ['sms'] } }, 'body.optOuts'],
    [{ optOuts: ['sms'] }, 'body.optOuts'],
    [{ webhookUrl: 'ftp://example.com/x' }, 'body.webhookUrl'],
    [{ webhookUrl: 'javascript:alert(1)' }, 'body.webhookUrl'],
    [{ webhookUrl: '/relative/path' }, 'body.webhookUrl'],
    [{ webhookUrl: 'https://user:pw@example.com/' }, 'body.webhookUrl'],
    [{ webhookUrl: 'https://exa mple.com/' }, 'body.webhookUrl'],
    [{ webhookUrl: `https://example.com/${'a'.repeat(2048)}` }, 'body.webhookUrl'],
  ]
  for (const [body, field] of cases) {
    const res = await putRecipient(app, uniqueId('r'), body)
    assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`)
    assert.equal(res.json().field, field, JSON.stringify(body))
  }
  assert.equal((await putRecipient(app, uniqueId('r'), { nickname: 'x' })).statusCode, 400)
  const longId = await putRecipient(app, 'x'.repeat(129), {})
  assert.equal(longId.statusCode, 400)
  assert.equal(longId.json().field, 'params.id')
  const controlId = await putRecipient(app, 'bad\u0000id', {})
  assert.equal(controlId.statusCode, 400)
  assert.equal(controlId.json().field, 'params.id')
  const junk = await app.inject({
    method: 'PUT',
    url: `/api/recipients/${uniqueId('r')}`,
    headers: { 'content-type': 'application/json' },
    payload: '{"email": ',
  })
  assert.equal(junk.statusCode, 400)
  const { rows } = await h.db.query('SELECT count(*)::int AS n FROM recipients')
  assert.deepEqual(rows, [{ n: 0 }])
})

test('webhook URLs naming loopback, private, link-local or metadata addresses are refused (400)', async (t) => {
  const { app } = await buildTestApi(t)
  const refused = [
    'http://127.0.0.1/hook',
    'http://127.0.0.1:8080/hook',
    'http://2130706433/', // 127.0.0.1 as one number: the URL parser normalises it
    'http://0x7f.1/',
    'http://localhost:3000/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://0.0.0.0/',
    'http://10.1.2.3/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://169.254.10.10/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://224.0.0.1/',
  ]
  for (const webhookUrl of refused) {
    const res = await putRecipient(app, uniqueId('r'), { webhookUrl })
    assert.equal(res.statusCode, 400, `${webhookUrl}: ${res.body}`)
    assert.equal(res.json().field, 'body.webhookUrl', webhookUrl)
    assert.match(res.json().message, /refused/, webhookUrl)
  }
  const metadata = await putRecipient(app, uniqueId('r'), { webhookUrl: 'http://169.254.169.254/' })
  assert.match(metadata.json().message, /metadata/)
  // Public literals and names pass; names are resolved and checked again at every send.
  for (const webhookUrl of [
    'https://93.184.215.14/hook',
    'https://hooks.example.com/x',
    'http://[2606:4700::1111]/',
  ]) {
    assert.equal((await putRecipient(app, uniqueId('r'), { webhookUrl })).statusCode, 201, webhookUrl)
  }
})

test('WEBHOOK_ALLOWLIST lets the lab point webhooks at its own fakes on 127.0.0.1', async (t) => {
  const { app } = await buildTestApi(t, { env: { WEBHOOK_ALLOWLIST: '127.0.0.1:18124' } })
  const allowed = await putRecipient(app, uniqueId('r'), { webhookUrl: 'http://127.0.0.1:18124/hooks/a' })
  assert.equal(allowed.statusCode, 201, allowed.body)
  const otherPort = await putRecipient(app, uniqueId('r'), { webhookUrl: 'http://127.0.0.1:6379/' })
  assert.equal(otherPort.statusCode, 400, 'only the allow-listed port')
  const metadata = await putRecipient(app, uniqueId('r'), { webhookUrl: 'http://169.254.169.254/' })
  assert.equal(metadata.statusCode, 400)
})
