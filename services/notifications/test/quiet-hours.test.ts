// Quiet hours, pure: windows inside a day and across midnight, in several zones, and every DST
// corner in Europe/Paris (2026: spring forward 29 March 01:00Z, fall back 25 October 01:00Z) and
// America/New_York (2026: spring forward 8 March 07:00Z, fall back 1 November 06:00Z).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IANAZone } from 'luxon'
import { parseWallTime, quietHoursEnd, wallTimeToInstant } from '../src/router/quiet-hours.ts'

const at = (iso: string) => Date.parse(iso)
const endOf = (nowIso: string, start: string, end: string, zone: string) => {
  const r = quietHoursEnd(at(nowIso), { start, end }, zone)
  return r === null ? null : new Date(r).toISOString()
}

describe('parseWallTime', () => {
  test('reads HH:MM as minutes after midnight', () => {
    assert.equal(parseWallTime('00:00'), 0)
    assert.equal(parseWallTime('07:30'), 450)
    assert.equal(parseWallTime('23:59'), 1439)
  })
  test('refuses anything else', () => {
    for (const bad of ['24:00', '7:30', '07:60', '0730', '', '07:30:00', ' 07:30'])
      assert.equal(parseWallTime(bad), null, bad)
  })
})

describe('quietHoursEnd without DST', () => {
  test('no quiet hours: never held', () => {
    assert.equal(quietHoursEnd(at('2026-06-01T03:00:00Z'), null, 'UTC'), null)
  })
  test('a window inside one day: start included, end excluded', () => {
    assert.equal(endOf('2026-06-01T08:59:59Z', '09:00', '17:00', 'UTC'), null)
    assert.equal(endOf('2026-06-01T09:00:00Z', '09:00', '17:00', 'UTC'), '2026-06-01T17:00:00.000Z')
    assert.equal(endOf('2026-06-01T16:59:59Z', '09:00', '17:00', 'UTC'), '2026-06-01T17:00:00.000Z')
    assert.equal(endOf('2026-06-01T17:00:00Z', '09:00', '17:00', 'UTC'), null)
  })
  test('a window crossing midnight, before and after midnight', () => {
    assert.equal(endOf('2026-06-01T21:59:00Z', '22:00', '07:00', 'UTC'), null)
    assert.equal(endOf('2026-06-01T22:00:00Z', '22:00', '07:00', 'UTC'), '2026-06-02T07:00:00.000Z')
    assert.equal(endOf('2026-06-01T23:30:00Z', '22:00', '07:00', 'UTC'), '2026-06-02T07:00:00.000Z')
    assert.equal(endOf('2026-06-02T03:00:00Z', '22:00', '07:00', 'UTC'), '2026-06-02T07:00:00.000Z')
    assert.equal(endOf('2026-06-02T07:00:00Z', '22:00', '07:00', 'UTC'), null)
    assert.equal(endOf('2026-06-02T12:00:00Z', '22:00', '07:00', 'UTC'), null)
  })
  test("the recipient's zone decides, not UTC", () => {
    // 21:30Z is 23:30 in Paris (CEST, +2): inside 22:00–07:00, ending 07:00 CEST = 05:00Z.
    assert.equal(endOf('2026-06-01T21:30:00Z', '22:00', '07:00', 'Europe/Paris'), '2026-06-02T05:00:00.000Z')
    // The same instant is 17:30 in New York (EDT, −4): outside.
    assert.equal(endOf('2026-06-01T21:30:00Z', '22:00', '07:00', 'America/New_York'), null)
    // 03:00Z is 23:00 EDT the day before: inside, ending 07:00 EDT = 11:00Z.
    assert.equal(
      endOf('2026-06-02T03:00:00Z', '22:00', '07:00', 'America/New_York'),
      '2026-06-02T11:00:00.000Z',
    )
    // Zones east of UTC by a fraction of an hour: 21:00Z = 02:30 IST (+5:30).
    assert.equal(endOf('2026-06-01T21:00:00Z', '22:00', '07:00', 'Asia/Kolkata'), '2026-06-02T01:30:00.000Z')
  })
  test('a window crossing midnight seen just after local midnight on a month and year boundary', () => {
    // 23:30Z on 31 Dec is 00:30 on 1 Jan in Paris (CET, +1): the window began the day before.
    assert.equal(endOf('2026-12-31T23:30:00Z', '22:00', '07:00', 'Europe/Paris'), '2027-01-01T06:00:00.000Z')
  })
  test('start = end is no window; a malformed time or zone is no window', () => {
    assert.equal(endOf('2026-06-01T12:00:00Z', '12:00', '12:00', 'UTC'), null)
    assert.equal(endOf('2026-06-01T12:00:00Z', '25:00', '13:00', 'UTC'), null)
    assert.equal(endOf('2026-06-01T12:00:00Z', '11:00', '13:00', 'Mars/Olympus_Mons'), null)
  })
  test('a window of almost a whole day', () => {
    assert.equal(endOf('2026-06-01T12:00:00Z', '00:01', '00:00', 'UTC'), '2026-06-02T00:00:00.000Z')
    assert.equal(endOf('2026-06-01T00:00:30Z', '00:01', '00:00', 'UTC'), null)
  })
})

describe('quietHoursEnd in Europe/Paris across DST', () => {
  const zone = 'Europe/Paris'
  test('spring forward: a night window 22:00–07:00 lasts 8 hours and ends at 07:00 CEST', () => {
    // Saturday 28 March 22:00 CET = 21:00Z; Sunday 29 March 07:00 CEST = 05:00Z.
    assert.equal(endOf('2026-03-28T21:00:00Z', '22:00', '07:00', zone), '2026-03-29T05:00:00.000Z')
    assert.equal(endOf('2026-03-29T00:59:00Z', '22:00', '07:00', zone), '2026-03-29T05:00:00.000Z')
    assert.equal(endOf('2026-03-29T01:00:00Z', '22:00', '07:00', zone), '2026-03-29T05:00:00.000Z')
    assert.equal(endOf('2026-03-29T04:59:59Z', '22:00', '07:00', zone), '2026-03-29T05:00:00.000Z')
    assert.equal(endOf('2026-03-29T05:00:00Z', '22:00', '07:00', zone), null)
  })
  test('spring forward: an end inside the skipped hour ends when the gap ends (03:00 CEST)', () => {
    // 00:00–02:30: 02:30 never shows on 29 March; the clock jumps 02:00 CET → 03:00 CEST = 01:00Z.
    assert.equal(endOf('2026-03-29T00:30:00Z', '00:00', '02:30', zone), '2026-03-29T01:00:00.000Z')
    assert.equal(endOf('2026-03-29T01:00:00Z', '00:00', '02:30', zone), null)
  })
  test('spring forward: a start inside the skipped hour starts when the gap ends', () => {
    // 02:30–06:00: starts at 03:00 CEST (01:00Z), ends 06:00 CEST (04:00Z).
    assert.equal(endOf('2026-03-29T00:59:00Z', '02:30', '06:00', zone), null)
    assert.equal(endOf('2026-03-29T01:00:00Z', '02:30', '06:00', zone), '2026-03-29T04:00:00.000Z')
    assert.equal(endOf('2026-03-29T01:10:00Z', '02:30', '06:00', zone), '2026-03-29T04:00:00.000Z')
  })
  test('spring forward: a window wholly inside the gap is empty that day', () => {
    assert.equal(endOf('2026-03-29T01:00:00Z', '02:10', '02:50', zone), null)
    // …and normal the day after: 02:10 CEST = 00:10Z on 30 March.
    assert.equal(endOf('2026-03-30T00:20:00Z', '02:10', '02:50', zone), '2026-03-30T00:50:00.000Z')
  })
  test('fall back: a night window 22:00–07:00 lasts 10 hours and ends at 07:00 CET', () => {
    // Saturday 24 October 22:00 CEST = 20:00Z; Sunday 25 October 07:00 CET = 06:00Z.
    assert.equal(endOf('2026-10-24T20:00:00Z', '22:00', '07:00', zone), '2026-10-25T06:00:00.000Z')
    // Both occurrences of 02:30 are inside.
    assert.equal(endOf('2026-10-25T00:30:00Z', '22:00', '07:00', zone), '2026-10-25T06:00:00.000Z')
    assert.equal(endOf('2026-10-25T01:30:00Z', '22:00', '07:00', zone), '2026-10-25T06:00:00.000Z')
    assert.equal(endOf('2026-10-25T06:00:00Z', '22:00', '07:00', zone), null)
  })
  test('fall back: an end inside the repeated hour is its second occurrence', () => {
    // 00:00–02:30: 02:30 shows at 00:30Z (CEST) and 01:30Z (CET); the window ends at 01:30Z.
    assert.equal(endOf('2026-10-25T00:40:00Z', '00:00', '02:30', zone), '2026-10-25T01:30:00.000Z')
    assert.equal(endOf('2026-10-25T01:20:00Z', '00:00', '02:30', zone), '2026-10-25T01:30:00.000Z')
    assert.equal(endOf('2026-10-25T01:30:00Z', '00:00', '02:30', zone), null)
  })
  test('fall back: a start inside the repeated hour is its first occurrence', () => {
    // 02:30–05:00: starts 02:30 CEST = 00:30Z, ends 05:00 CET = 04:00Z.
    assert.equal(endOf('2026-10-25T00:29:00Z', '02:30', '05:00', zone), null)
    assert.equal(endOf('2026-10-25T00:30:00Z', '02:30', '05:00', zone), '2026-10-25T04:00:00.000Z')
    assert.equal(endOf('2026-10-25T01:10:00Z', '02:30', '05:00', zone), '2026-10-25T04:00:00.000Z')
  })
})

describe('quietHoursEnd in America/New_York across DST', () => {
  const zone = 'America/New_York'
  test('spring forward: 22:00–07:00 ends at 07:00 EDT (11:00Z) after 8 hours', () => {
    // Saturday 7 March 22:00 EST = 8 March 03:00Z.
    assert.equal(endOf('2026-03-08T03:00:00Z', '22:00', '07:00', zone), '2026-03-08T11:00:00.000Z')
    assert.equal(endOf('2026-03-08T07:30:00Z', '22:00', '07:00', zone), '2026-03-08T11:00:00.000Z')
    assert.equal(endOf('2026-03-08T11:00:00Z', '22:00', '07:00', zone), null)
  })
  test('spring forward: an end in the gap (02:30) ends at 03:00 EDT', () => {
    assert.equal(endOf('2026-03-08T06:30:00Z', '01:00', '02:30', zone), '2026-03-08T07:00:00.000Z')
    assert.equal(endOf('2026-03-08T07:30:00Z', '01:00', '02:30', zone), null)
  })
  test('fall back: 22:00–07:00 ends at 07:00 EST (12:00Z) after 10 hours; both 01:30s inside', () => {
    // Saturday 31 October 22:00 EDT = 1 November 02:00Z.
    assert.equal(endOf('2026-11-01T02:00:00Z', '22:00', '07:00', zone), '2026-11-01T12:00:00.000Z')
    assert.equal(endOf('2026-11-01T05:30:00Z', '22:00', '07:00', zone), '2026-11-01T12:00:00.000Z')
    assert.equal(endOf('2026-11-01T06:30:00Z', '22:00', '07:00', zone), '2026-11-01T12:00:00.000Z')
    assert.equal(endOf('2026-11-01T11:59:59Z', '22:00', '07:00', zone), '2026-11-01T12:00:00.000Z')
  })
  test('fall back: an end in the repeated hour (01:30) is its second occurrence (06:30Z)', () => {
    assert.equal(endOf('2026-11-01T05:40:00Z', '00:00', '01:30', zone), '2026-11-01T06:30:00.000Z')
    assert.equal(endOf('2026-11-01T06:30:00Z', '00:00', '01:30', zone), null)
  })
})

describe('wallTimeToInstant', () => {
  const paris = IANAZone.create('Europe/Paris')
  test('an ordinary time has one instant', () => {
    const d = { year: 2026, month: 6, day: 1 }
    assert.equal(wallTimeToInstant(d, 12 * 60, paris, 'first'), at('2026-06-01T10:00:00Z'))
    assert.equal(wallTimeToInstant(d, 12 * 60, paris, 'last'), at('2026-06-01T10:00:00Z'))
  })
  test('a repeated time has two, a skipped one maps to the end of the gap', () => {
    const fall = { year: 2026, month: 10, day: 25 }
    assert.equal(wallTimeToInstant(fall, 2 * 60 + 15, paris, 'first'), at('2026-10-25T00:15:00Z'))
    assert.equal(wallTimeToInstant(fall, 2 * 60 + 15, paris, 'last'), at('2026-10-25T01:15:00Z'))
    const spring = { year: 2026, month: 3, day: 29 }
    assert.equal(wallTimeToInstant(spring, 2 * 60 + 15, paris, 'first'), at('2026-03-29T01:00:00Z'))
    assert.equal(wallTimeToInstant(spring, 3 * 60, paris, 'first'), at('2026-03-29T01:00:00Z'))
  })
})
