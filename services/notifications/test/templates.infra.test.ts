/** The template repository on real Postgres (a schema of its own, migrations applied). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type pg from 'pg'
import { TemplateRepository, templateChannelsOf } from '../src/repositories/templates.ts'
import { renderChannel } from '../src/templates/render.ts'
import { validateTemplate } from '../src/templates/validate.ts'
import { notificationsHarness } from './harness.ts'

/** The harness's pool, counting the queries the repository sends (to see the cache work). */
function countingDb(db: pg.Pool) {
  const counter = { queries: 0 }
  const query = ((...args: Parameters<pg.Pool['query']>) => {
    counter.queries++
    return (db.query as (...a: unknown[]) => unknown)(...args)
  }) as pg.Pool['query']
  return { db: { query }, counter }
}

test('the three built-ins are there, valid, and render with their variables', async (t) => {
  const h = await notificationsHarness(t)
  const repo = new TemplateRepository(h.db)
  const all = await repo.list()
  assert.deepEqual(
    all.map((x) => x.name),
    ['order-shipped', 'otp', 'welcome'],
  )
  for (const template of all) assert.deepEqual(validateTemplate(template.channels), [], template.name)
  const otp = await repo.get('otp')
  assert.ok(otp)
  assert.deepEqual(templateChannelsOf(otp), ['email', 'sms'])
  assert.equal(
    renderChannel(otp.channels, 'sms', { code: '123456' }).body,
    'Your code is 123456. It expires in 10 minutes.',
  )
  assert.equal(await repo.get('no-such-template'), null)
})

test('put creates then replaces; a replaced template is read back at once in this process', async (t) => {
  const h = await notificationsHarness(t)
  const repo = new TemplateRepository(h.db, { cacheTtlMs: 60_000 })
  const first = await repo.put('promo', { sms: { text: 'Sale: {{ pct }}% off' } })
  assert.equal(first.created, true)
  assert.deepEqual(first.template.channels, { sms: { text: 'Sale: {{ pct }}% off' } })
  assert.deepEqual((await repo.get('promo'))?.channels, { sms: { text: 'Sale: {{ pct }}% off' } })
  const second = await repo.put('promo', { push: { title: 'Sale', body: '{{ pct }}%' } })
  assert.equal(second.created, false)
  assert.deepEqual((await repo.get('promo'))?.channels, { push: { title: 'Sale', body: '{{ pct }}%' } })
  assert.ok(Date.parse(second.template.updatedAt) >= Date.parse(first.template.updatedAt))
  await assert.rejects(repo.put('Bad Name', { sms: { text: 'x' } }), /check constraint/)
})

test('reads are cached for the TTL, shared while in flight, and a miss is never cached', async (t) => {
  const h = await notificationsHarness(t)
  let nowMs = 1_000_000
  const { db, counter } = countingDb(h.db)
  const repo = new TemplateRepository(db, { cacheTtlMs: 2000, now: () => nowMs })
  const [a, b, c] = await Promise.all([repo.get('welcome'), repo.get('welcome'), repo.get('welcome')])
  assert.equal(counter.queries, 1)
  assert.ok(a && a === b && b === c)
  // Another process edits the template: this one serves its cached copy until the TTL ends.
  await h.db.query(`UPDATE templates SET channels = '{"sms": {"text": "edited"}}' WHERE name = 'welcome'`)
  nowMs += 1999
  assert.deepEqual(templateChannelsOf((await repo.get('welcome')) ?? { channels: {} }), [
    'email',
    'sms',
    'push',
    'webhook',
  ])
  assert.equal(counter.queries, 1)
  nowMs += 1
  assert.deepEqual((await repo.get('welcome'))?.channels, { sms: { text: 'edited' } })
  assert.equal(counter.queries, 2)
  // Unknown names go to Postgres every time: a template PUT elsewhere is usable at once.
  assert.equal(await repo.get('later'), null)
  await h.db.query(`INSERT INTO templates (name, channels) VALUES ('later', '{"sms": {"text": "now"}}')`)
  assert.deepEqual((await repo.get('later'))?.channels, { sms: { text: 'now' } })
})
