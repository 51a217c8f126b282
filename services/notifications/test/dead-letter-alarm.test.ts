import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DeadLetterAlarm } from '../src/sender/dead-letter-alarm.ts'

function recordingLog() {
  const lines: { level: 'info' | 'error'; obj: object; msg: string }[] = []
  return {
    lines,
    info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }),
    error: (obj: object, msg: string) => lines.push({ level: 'error', obj, msg }),
  }
}

test('the alarm logs one error per rise of the dead letters, keeps its count on a failed read, and clears at zero', async () => {
  const counts: (number | Error)[] = [0, 2, 2, new Error('redis down'), 3, 0]
  const log = recordingLog()
  const alarm = new DeadLetterAlarm({
    waiting: async () => {
      const next = counts.shift() as number | Error
      if (next instanceof Error) throw next
      return next
    },
    alertWithinS: 60,
    log,
  })
  assert.equal(await alarm.check(), 0)
  assert.equal(alarm.firing, false)
  assert.equal(await alarm.check(), 2)
  assert.equal(alarm.firing, true)
  assert.equal(await alarm.check(), 2, 'the same count: no new line')
  assert.equal(await alarm.check(), 2, 'a failed read keeps the last count')
  assert.equal(alarm.firing, true)
  assert.equal(await alarm.check(), 3)
  assert.equal(await alarm.check(), 0)
  assert.equal(alarm.firing, false)
  assert.deepEqual(
    log.lines.map((l) => [l.level, (l.obj as { deadLetters: number }).deadLetters]),
    [
      ['error', 2],
      ['error', 3],
      ['info', 0],
    ],
  )
  assert.match(log.lines[0]?.msg ?? '', /dead-letter alert/)
})

test('started, the alarm checks on its own (every half of DEAD_LETTER_ALERT_S), with nobody scraping', async () => {
  let waiting = 0
  const log = recordingLog()
  const alarm = new DeadLetterAlarm({ waiting: async () => waiting, alertWithinS: 1, log })
  alarm.start()
  try {
    waiting = 1
    // Bounded wait for the periodic check (500 ms here); the bound is generous, not a timing claim.
    for (let i = 0; i < 100 && !alarm.firing; i++) await new Promise((r) => setTimeout(r, 50))
    assert.equal(alarm.firing, true)
    assert.equal(log.lines.filter((l) => l.level === 'error').length, 1)
  } finally {
    alarm.stop()
  }
})
