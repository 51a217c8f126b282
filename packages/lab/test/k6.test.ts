import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { LineSplitter, parseK6Line, parseK6Time, toLedgerEntry } from '../src/k6.ts'

// A real k6 v1.8.1 `--out json` file: GET 200, GET 503, a 300 ms client timeout, a refused connection.
const sample = readFileSync(join(import.meta.dirname, 'fixtures', 'k6-sample.jsonl'), 'utf8')

test('parseK6Time keeps sub-millisecond precision of RFC 3339 nanosecond timestamps', () => {
  assert.equal(parseK6Time('2026-11-23T09:21:52.818397741Z'), Date.parse('2026-11-23T09:21:52Z') + 818.397741)
  assert.equal(parseK6Time('2026-11-23T09:21:53.12147613Z'), Date.parse('2026-11-23T09:21:53Z') + 121.47613)
  assert.equal(parseK6Time('2026-11-23T10:21:52.5+01:00'), Date.parse('2026-11-23T09:21:52Z') + 500)
  assert.ok(Number.isNaN(parseK6Time('yesterday')))
})

test('the sample file yields one point per request, nothing for the other metrics', () => {
  const points = sample
    .split('\n')
    .map(parseK6Line)
    .filter((p) => p !== null)
  assert.equal(points.length, 4)
  assert.deepEqual(
    points.map((p) => [p.tags.status, p.tags.expected_response, p.tags.op]),
    [
      ['200', 'true', 'read'],
      ['503', 'false', 'read'],
      ['0', 'false', 'write'],
      ['0', 'false', 'write'],
    ],
  )
})

test('toLedgerEntry: relative times, status, ok, op, error code and only the script tags', () => {
  const points = sample
    .split('\n')
    .map(parseK6Line)
    .filter((p) => p !== null)
  const start = Date.parse('2026-11-23T09:21:52Z')
  const [ok, bad, timeout, refused] = points.map((p) => toLedgerEntry(p, start))
  assert.ok(ok && bad && timeout && refused)
  assert.equal(ok.status, 200)
  assert.equal(ok.ok, true)
  assert.equal(ok.op, 'read')
  assert.equal(ok.scenario, 'sample')
  assert.ok(Math.abs(ok.endMs - 818.397741) < 1e-3, 'epoch doubles keep about a microsecond')
  assert.ok(Math.abs(ok.startMs - (ok.endMs - ok.latencyMs)) < 1e-9)
  assert.deepEqual(ok.tags, { op: 'read' })
  assert.equal(bad.status, 503)
  assert.equal(bad.ok, false)
  assert.equal(timeout.status, 0)
  assert.equal(timeout.errorCode, 1050)
  assert.ok(timeout.latencyMs >= 300, 'a 300 ms client timeout takes at least 300 ms')
  assert.deepEqual(timeout.tags, { op: 'write', code: 'abc' })
  assert.equal(refused.errorCode, 1212)
})

test('parseK6Line ignores other metrics, definitions and garbage', () => {
  assert.equal(parseK6Line('{"metric":"http_reqs","type":"Point","data":{}}'), null)
  assert.equal(
    parseK6Line('{"type":"Metric","data":{"name":"http_req_duration"},"metric":"http_req_duration"}'),
    null,
  )
  assert.equal(parseK6Line('{"metric":"http_req_duration","type":"Point", broken'), null)
  assert.equal(parseK6Line(''), null)
})

test('LineSplitter joins lines split across chunks', () => {
  const lines: string[] = []
  const s = new LineSplitter((l) => lines.push(l))
  s.push('ab')
  s.push('c\nde')
  s.push('f\n\ng')
  s.end()
  assert.deepEqual(lines, ['abc', 'def', '', 'g'])
})
