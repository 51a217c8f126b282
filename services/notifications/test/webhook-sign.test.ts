/** The webhook signature (pure). */
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { test } from 'node:test'
import { signPayload, verifySignature } from '../src/webhook/sign.ts'

const secret = 'a-test-secret-of-some-length'
const body = '{"id":"d-1","text":"hello"}'

test('the header is t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
  const header = signPayload(secret, body, 1_700_000_000)
  const mac = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex')
  assert.equal(header, `t=1700000000,v1=${mac}`)
})

test('a signature verifies within the tolerance and not outside it', () => {
  const header = signPayload(secret, body, 1000)
  assert.deepEqual(verifySignature(secret, body, header, { nowS: 1000 }), { ok: true, timestampS: 1000 })
  assert.equal(verifySignature(secret, body, header, { nowS: 1300, toleranceS: 300 }).ok, true)
  const late = verifySignature(secret, body, header, { nowS: 1301, toleranceS: 300 })
  assert.equal(late.ok, false)
  assert.match(!late.ok ? late.reason : '', /tolerance/)
  assert.equal(verifySignature(secret, body, header, { nowS: 699, toleranceS: 300 }).ok, false)
})

test('a changed body, another secret or a moved timestamp fails', () => {
  const header = signPayload(secret, body, 1000)
  assert.equal(verifySignature(secret, `${body} `, header, { nowS: 1000 }).ok, false)
  assert.equal(verifySignature('another-secret-entirely', body, header, { nowS: 1000 }).ok, false)
  const moved = header.replace('t=1000', 't=1001')
  const r = verifySignature(secret, body, moved, { nowS: 1000 })
  assert.deepEqual(r, { ok: false, reason: 'signature mismatch' })
})

test('malformed or missing headers fail without throwing; any of several v1 values may match', () => {
  for (const h of [
    undefined,
    '',
    't=1000',
    'v1=abc',
    't=x,v1=00',
    'garbage',
    `t=1000,v1=${'g'.repeat(64)}`,
  ]) {
    assert.equal(verifySignature(secret, body, h, { nowS: 1000 }).ok, false, String(h))
  }
  const good = signPayload(secret, body, 1000).split('v1=')[1]
  const rotated = `t=1000,v1=${'0'.repeat(64)},v1=${good}`
  assert.equal(verifySignature(secret, body, rotated, { nowS: 1000 }).ok, true)
})
