// The router's decision, pure: the order of the rules (template, TTL, opt-out, contact, rate
// limit, quiet hours), what critical bypasses and what it does not, and when the rate limiter is
// asked at all.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { channelsToRoute, type DecideInput, decide, needsRateLimit } from '../src/router/decide.ts'
import type { Channel, Priority } from '../src/types.ts'

const nowMs = Date.parse('2026-06-01T12:00:00Z')
const allChannels: Channel[] = ['email', 'sms', 'push', 'webhook']

type Overrides = {
  channels?: Channel[] | null
  category?: string
  priority?: Priority
  expiresAt?: string
  templateChannels?: Channel[] | null
  recipient?: Partial<NonNullable<DecideInput['recipient']>> | null
  nowMs?: number
  ttlCheck?: boolean
}

function input(o: Overrides = {}): DecideInput {
  return {
    notification: {
      channels: o.channels === undefined ? null : o.channels,
      category: o.category ?? 'marketing',
      priority: o.priority ?? 'normal',
      expiresAt: o.expiresAt ?? '2026-06-02T12:00:00Z',
    },
    templateChannels: o.templateChannels === undefined ? allChannels : o.templateChannels,
    recipient:
      o.recipient === null
        ? null
        : {
            email: 'a@example.com',
            phone: '+33612345678',
            pushToken: 'tok',
            webhookUrl: 'https://hooks.example.com/x',
            timezone: 'UTC',
            quietHours: null,
            optOuts: {},
            ...o.recipient,
          },
    nowMs: o.nowMs ?? nowMs,
    ttlCheck: o.ttlCheck ?? true,
  }
}

const summary = (i: DecideInput, allowed = true) =>
  Object.fromEntries(
    decide(i, allowed).map((d) => [d.channel, d.reason ? `${d.status}:${d.reason}` : d.status]),
  )

describe('channelsToRoute', () => {
  test("the request's channels, without duplicates, else the template's", () => {
    assert.deepEqual(channelsToRoute(input({ channels: ['sms', 'sms', 'email'] })), ['sms', 'email'])
    assert.deepEqual(channelsToRoute(input({ templateChannels: ['email', 'sms'] })), ['email', 'sms'])
  })
  test('no template and no channels asked: every channel (each suppressed), never none', () => {
    assert.deepEqual(channelsToRoute(input({ templateChannels: null })), allChannels)
    assert.deepEqual(summary(input({ templateChannels: null })), {
      email: 'suppressed:channel_not_in_template',
      sms: 'suppressed:channel_not_in_template',
      push: 'suppressed:channel_not_in_template',
      webhook: 'suppressed:channel_not_in_template',
    })
  })
})

describe('decide: each rule', () => {
  test('everything fine: queued on every channel, no reason, not held', () => {
    const ds = decide(input(), true)
    assert.equal(ds.length, 4)
    for (const d of ds)
      assert.deepEqual(d, { channel: d.channel, status: 'queued', reason: null, heldUntilMs: null })
  })
  test('a channel the template lacks is suppressed channel_not_in_template', () => {
    assert.deepEqual(summary(input({ channels: ['sms', 'push'], templateChannels: ['sms', 'email'] })), {
      sms: 'queued',
      push: 'suppressed:channel_not_in_template',
    })
  })
  test('past the TTL: expired; exactly at expiresAt too; a millisecond before is not', () => {
    const expiresAt = new Date(nowMs).toISOString()
    assert.deepEqual(summary(input({ channels: ['email'], expiresAt })), { email: 'expired:ttl_expired' })
    assert.deepEqual(summary(input({ channels: ['email'], expiresAt: '2026-06-01T11:00:00Z' })), {
      email: 'expired:ttl_expired',
    })
    assert.deepEqual(summary(input({ channels: ['email'], expiresAt, nowMs: nowMs - 1 })), {
      email: 'queued',
    })
  })
  test('ttlCheck off: a stale notification is routed as if fresh', () => {
    assert.deepEqual(
      summary(input({ channels: ['email'], expiresAt: '2026-06-01T11:00:00Z', ttlCheck: false })),
      {
        email: 'queued',
      },
    )
  })
  test('opted out of the category on a channel, or on every channel with *', () => {
    assert.deepEqual(summary(input({ recipient: { optOuts: { marketing: ['sms', 'push'] } } })), {
      email: 'queued',
      sms: 'suppressed:opted_out',
      push: 'suppressed:opted_out',
      webhook: 'queued',
    })
    const star = summary(input({ recipient: { optOuts: { marketing: ['*'] } } }))
    for (const c of allChannels) assert.equal(star[c], 'suppressed:opted_out')
  })
  test('an opt-out of another category changes nothing', () => {
    assert.deepEqual(summary(input({ channels: ['sms'], recipient: { optOuts: { billing: ['*'] } } })), {
      sms: 'queued',
    })
  })
  test('a channel without a contact point is suppressed no_contact; no recipient: every channel', () => {
    assert.deepEqual(summary(input({ recipient: { phone: null, webhookUrl: null } })), {
      email: 'queued',
      sms: 'suppressed:no_contact',
      push: 'queued',
      webhook: 'suppressed:no_contact',
    })
    const none = summary(input({ recipient: null }))
    for (const c of allChannels) assert.equal(none[c], 'suppressed:no_contact')
  })
  test('over the rate limit: every channel that got that far is suppressed rate_limited', () => {
    assert.deepEqual(summary(input({ recipient: { phone: null } }), false), {
      email: 'suppressed:rate_limited',
      sms: 'suppressed:no_contact',
      push: 'suppressed:rate_limited',
      webhook: 'suppressed:rate_limited',
    })
  })
  test('inside quiet hours: held until the window ends, reason quiet_hours', () => {
    const ds = decide(
      input({ channels: ['email', 'sms'], recipient: { quietHours: { start: '11:00', end: '13:30' } } }),
      true,
    )
    const end = Date.parse('2026-06-01T13:30:00Z')
    assert.deepEqual(ds, [
      { channel: 'email', status: 'held', reason: 'quiet_hours', heldUntilMs: end },
      { channel: 'sms', status: 'held', reason: 'quiet_hours', heldUntilMs: end },
    ])
  })
  test("quiet hours are in the recipient's zone", () => {
    // 12:00Z is 08:00 in New York: outside 22:00–07:00; 05:00 in Los Angeles: inside.
    const q = { start: '22:00', end: '07:00' }
    assert.deepEqual(
      summary(input({ channels: ['email'], recipient: { quietHours: q, timezone: 'America/New_York' } })),
      {
        email: 'queued',
      },
    )
    const la = decide(
      input({ channels: ['email'], recipient: { quietHours: q, timezone: 'America/Los_Angeles' } }),
      true,
    )
    assert.equal(la[0]?.status, 'held')
    assert.equal(la[0]?.heldUntilMs, Date.parse('2026-06-01T14:00:00Z'))
  })
})

describe('decide: the order of the rules', () => {
  test('template before TTL, TTL before opt-out, opt-out before contact, contact before the limit', () => {
    const stale = '2026-06-01T00:00:00Z'
    assert.deepEqual(
      summary(
        input({
          channels: ['push', 'sms', 'email', 'webhook'],
          templateChannels: ['sms', 'email', 'webhook'],
          expiresAt: stale,
          recipient: null,
        }),
        false,
      ),
      {
        push: 'suppressed:channel_not_in_template',
        sms: 'expired:ttl_expired',
        email: 'expired:ttl_expired',
        webhook: 'expired:ttl_expired',
      },
    )
    assert.deepEqual(
      summary(
        input({
          channels: ['sms', 'email'],
          recipient: { phone: null, email: null, optOuts: { marketing: ['sms'] } },
        }),
        false,
      ),
      { sms: 'suppressed:opted_out', email: 'suppressed:no_contact' },
    )
  })
  test('rate limit before quiet hours: a limited notification is suppressed, not held', () => {
    assert.deepEqual(
      summary(
        input({ channels: ['email'], recipient: { quietHours: { start: '00:00', end: '23:59' } } }),
        false,
      ),
      { email: 'suppressed:rate_limited' },
    )
  })
})

describe('decide: critical', () => {
  const critical = { priority: 'critical' as const }
  test('bypasses the rate limit and quiet hours', () => {
    const ds = decide(
      input({ ...critical, channels: ['sms'], recipient: { quietHours: { start: '00:00', end: '23:59' } } }),
      false,
    )
    assert.deepEqual(ds, [{ channel: 'sms', status: 'queued', reason: null, heldUntilMs: null }])
  })
  test('does NOT bypass an opt-out, a missing contact, the template or the TTL', () => {
    assert.deepEqual(
      summary(
        input({
          ...critical,
          channels: ['sms', 'email', 'push'],
          templateChannels: ['sms', 'email'],
          recipient: { email: null, optOuts: { marketing: ['sms'] } },
        }),
      ),
      {
        sms: 'suppressed:opted_out',
        email: 'suppressed:no_contact',
        push: 'suppressed:channel_not_in_template',
      },
    )
    assert.deepEqual(summary(input({ ...critical, channels: ['sms'], expiresAt: '2026-06-01T00:00:00Z' })), {
      sms: 'expired:ttl_expired',
    })
  })
})

describe('needsRateLimit', () => {
  test('asked for a normal or low notification with a channel past the early rules', () => {
    assert.equal(needsRateLimit(input()), true)
    assert.equal(needsRateLimit(input({ priority: 'low' })), true)
    assert.equal(needsRateLimit(input({ channels: ['sms'], recipient: { email: null } })), true)
  })
  test('never for critical', () => {
    assert.equal(needsRateLimit(input({ priority: 'critical' })), false)
  })
  test('not when every channel is already suppressed or expired (no quota spent)', () => {
    assert.equal(needsRateLimit(input({ expiresAt: '2026-06-01T00:00:00Z' })), false)
    assert.equal(needsRateLimit(input({ recipient: { optOuts: { marketing: ['*'] } } })), false)
    assert.equal(needsRateLimit(input({ recipient: null })), false)
    assert.equal(needsRateLimit(input({ templateChannels: null })), false)
    assert.equal(needsRateLimit(input({ channels: ['sms'], recipient: { phone: null } })), false)
  })
  test('the quiet hours do not matter: a held notification spends its unit now', () => {
    assert.equal(needsRateLimit(input({ recipient: { quietHours: { start: '00:00', end: '23:59' } } })), true)
  })
})
