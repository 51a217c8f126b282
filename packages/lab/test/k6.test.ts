import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseK6Line } from '@faultline/measure'
import { toLedgerEntry } from '../src/k6.ts'

// A real k6 v1.8.1 `--out json` file: GET 200, GET 503, a 300 ms client timeout, a refused connection.
// It lives with the parser of k6's output (@faultline/measure); what the lab adds is the ledger entry.
const sample = readFileSync(
  join(import.meta.dirname, '..', '..', 'measure', 'test', 'fixtures', 'k6-sample.jsonl'),
  'utf8',
)

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
