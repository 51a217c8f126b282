import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type ClickBatch,
  encodeClickBatch,
  leadingRunLength,
  parseClickBatch,
  planCounts,
  toClickBatch,
} from '../src/clicks/batch.ts'
import type { ClickEvent } from '../src/clicks/spool.ts'

const P = '00000000-0000-4000-8000-00000000000a'
const Q = '00000000-0000-4000-8000-00000000000b'
const ev = (producer: string, seq: number, code = 'abc'): ClickEvent => ({
  producer,
  seq,
  code,
  ts: 1_700_000_000_000 + seq,
})
const batch = (producer: string, firstSeq: number, codes: string[]): ClickBatch => ({
  producer,
  firstSeq,
  codes,
  ts: codes.map((_, i) => 1_700_000_000_000 + firstSeq + i),
})

test('a message is the leading run of one recorder with consecutive numbers', () => {
  assert.equal(leadingRunLength([]), 0)
  assert.equal(leadingRunLength([ev(P, 3), ev(P, 4), ev(P, 5)]), 3)
  assert.equal(
    leadingRunLength([ev(P, 3), ev(P, 4), ev(Q, 0), ev(Q, 1)]),
    2,
    'a recovered recorder ends the run',
  )
  assert.equal(leadingRunLength([ev(P, 3), ev(P, 4), ev(P, 9)]), 2, 'a gap (a dropped batch) ends the run')
  assert.throws(() => toClickBatch([ev(P, 1), ev(P, 3)]), RangeError)
  assert.throws(() => toClickBatch([]), RangeError)
})

test('encode → parse gives the batch back; the key is the recorder', () => {
  const run = [ev(P, 10, 'abc'), ev(P, 11, 'xyz_-9'), ev(P, 12, 'abc')]
  const message = encodeClickBatch(toClickBatch(run))
  assert.equal(message.key, P)
  assert.deepEqual(parseClickBatch(Buffer.from(message.value)), {
    producer: P,
    firstSeq: 10,
    codes: ['abc', 'xyz_-9', 'abc'],
    ts: run.map((e) => e.ts),
  })
})

test('anything that is not a well-formed batch parses as undefined (skipped and counted by the worker)', () => {
  const good = JSON.parse(encodeClickBatch(toClickBatch([ev(P, 0), ev(P, 1)])).value)
  const bad: unknown[] = [
    'not json',
    'null',
    '[]',
    '{"eventId":"00000000-0000-4000-8000-000000000001","code":"abc","ts":1}',
    { ...good, producer: 'not-a-uuid' },
    { ...good, firstSeq: -1 },
    { ...good, firstSeq: 1.5 },
    { ...good, firstSeq: Number.MAX_SAFE_INTEGER },
    { ...good, t0: 'now' },
    { ...good, codes: [] },
    { ...good, codes: ['abc', 'has space'] },
    { ...good, codes: ['abc', 7] },
    { ...good, dt: [0] },
    { ...good, dt: [0, 'x'] },
  ]
  assert.ok(parseClickBatch(Buffer.from(JSON.stringify(good))))
  for (const value of bad) {
    const text = typeof value === 'string' ? value : JSON.stringify(value)
    assert.equal(parseClickBatch(Buffer.from(text)), undefined, text)
  }
  assert.equal(parseClickBatch(null), undefined)
})

test('planCounts counts each event once: replays and the overlap of a retried, longer batch are skipped', () => {
  const first = batch(P, 0, ['a', 'a', 'b'])
  const fresh = planCounts([first], new Map())
  assert.deepEqual(
    fresh.counts,
    new Map([
      ['a', 2],
      ['b', 1],
    ]),
  )
  assert.deepEqual(fresh.watermarks, new Map([[P, 2]]))
  assert.deepEqual([fresh.counted, fresh.duplicates], [3, 0])

  // The same message again (a replay): nothing counted, the watermark does not move.
  const replay = planCounts([first], new Map([[P, 2]]))
  assert.deepEqual(
    [replay.counted, replay.duplicates, replay.counts.size, replay.watermarks.size],
    [0, 3, 0, 0],
  )

  // A publish whose ack was lost, retried with more events (seq 0…4): only 3 and 4 count.
  const retried = planCounts([batch(P, 0, ['a', 'a', 'b', 'c', 'a'])], new Map([[P, 2]]))
  assert.deepEqual(
    retried.counts,
    new Map([
      ['c', 1],
      ['a', 1],
    ]),
  )
  assert.deepEqual(retried.watermarks, new Map([[P, 4]]))
  assert.deepEqual([retried.counted, retried.duplicates], [2, 3])
})

test('planCounts within one chunk: recorders are independent, a late duplicate after a newer batch is skipped', () => {
  const plan = planCounts(
    [
      batch(P, 0, ['a']),
      batch(Q, 5, ['b', 'b']),
      batch(P, 1, ['a', 'c']),
      batch(P, 0, ['a', 'a']),
      batch(P, 9, ['d']),
    ],
    new Map([[Q, 5]]),
  )
  // P: 0, then 1-2, then 0-1 again (skipped), then 9 after a gap (counted). Q: 5 already counted.
  assert.deepEqual(
    plan.counts,
    new Map([
      ['a', 2],
      ['c', 1],
      ['b', 1],
      ['d', 1],
    ]),
  )
  assert.deepEqual(
    plan.watermarks,
    new Map([
      [P, 9],
      [Q, 6],
    ]),
  )
  assert.deepEqual([plan.counted, plan.duplicates], [5, 3])
})
