/**
 * Quiet hours: a recipient's local wall-clock window `HH:MM`–`HH:MM` (it may cross midnight)
 * during which non-critical notifications are held, in the recipient's IANA zone. Pure: the
 * instant in, the instant the window ends (or null) out.
 *
 * The window that starts on local day D covers the instants from the FIRST moment the wall clock
 * shows `start` on D to the LAST moment it shows `end` (on D, or D + 1 when end ≤ start), so it
 * is one contiguous span even across a DST change:
 * - spring forward (the clock skips e.g. 02:00–03:00): a wall time inside the gap never shows;
 *   it stands for the first instant after the gap (03:00 local), so a window ending at 02:30
 *   ends at 03:00 and one starting at 02:30 starts at 03:00;
 * - fall back (the clock repeats e.g. 02:00–03:00): a start inside the repeated hour is its first
 *   occurrence and an end its second, so a recipient whose clock still reads "before the end" is
 *   never disturbed, and a window 22:00–07:00 lasts 10 hours that night (8 hours in spring);
 * - `start` = `end` is an empty window (no quiet hours); windows are shorter than a day.
 * Bad input (a time not `HH:MM`, a zone luxon does not know) means no quiet hours: the API
 * refuses both, so a stored one cannot stop a notification forever.
 */
import { DateTime, IANAZone } from 'luxon'

export interface QuietHours {
  start: string
  end: string
}

const hhmm = /^([01]\d|2[0-3]):([0-5]\d)$/
const minuteMs = 60_000
const dayMs = 86_400_000

/** `HH:MM` → minutes after midnight, or null when malformed. */
export function parseWallTime(s: string): number | null {
  const m = hhmm.exec(s)
  return m ? Number(m[1]) * 60 + Number(m[2]) : null
}

/** The zone's UTC offset (minutes) at an instant. */
function offsetAt(ms: number, zone: IANAZone): number {
  return zone.offset(ms)
}

interface LocalDate {
  year: number
  month: number
  day: number
}

/**
 * The instant the wall clock of `zone` shows `minutes` after midnight on `date`: `'first'` or
 * `'last'` occurrence when the time repeats (fall back); the first instant after the gap when the
 * time does not exist (spring forward).
 */
export function wallTimeToInstant(
  date: LocalDate,
  minutes: number,
  zone: IANAZone,
  occurrence: 'first' | 'last',
): number {
  // The wall time read as if it were UTC; the real instant is this minus the offset in force.
  const naive = Date.UTC(date.year, date.month - 1, date.day) + minutes * minuteMs
  // Real zones change offset at most once within a day either side, so the offsets a day before
  // and a day after are the only candidates.
  const before = offsetAt(naive - dayMs, zone)
  const after = offsetAt(naive + dayMs, zone)
  const candidates = [...new Set([before, after])]
    .map((offset) => naive - offset * minuteMs)
    .filter((ms) => ms + offsetAt(ms, zone) * minuteMs === naive)
    .sort((a, b) => a - b)
  if (candidates.length > 0) {
    return (occurrence === 'first' ? candidates[0] : candidates[candidates.length - 1]) as number
  }
  // In a gap: the transition instant lies between the two readings; find where `after` begins.
  let lo = naive - Math.max(before, after) * minuteMs
  let hi = naive - Math.min(before, after) * minuteMs
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (offsetAt(mid, zone) === after) hi = mid
    else lo = mid
  }
  return hi
}

/**
 * When `nowMs` falls inside the recipient's quiet hours, the instant (ms since the epoch) the
 * window ends; otherwise null (send now).
 */
export function quietHoursEnd(nowMs: number, quietHours: QuietHours | null, timezone: string): number | null {
  if (!quietHours) return null
  const start = parseWallTime(quietHours.start)
  const end = parseWallTime(quietHours.end)
  if (start === null || end === null || start === end) return null
  if (!IANAZone.isValidZone(timezone)) return null
  const zone = IANAZone.create(timezone)
  const today = DateTime.fromMillis(nowMs, { zone })
  const crossesMidnight = end < start
  // The window that began yesterday (crossing midnight) or today may contain now.
  for (const startDay of [today.minus({ days: 1 }), today]) {
    const endDay = crossesMidnight ? startDay.plus({ days: 1 }) : startDay
    const from = wallTimeToInstant(startDay, start, zone, 'first')
    const to = wallTimeToInstant(endDay, end, zone, 'last')
    if (from <= nowMs && nowMs < to) return to
  }
  return null
}
