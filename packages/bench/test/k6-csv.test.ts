import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  parseCsvHeader,
  parseExtraTags,
  parseK6Csv,
  parseK6Timestamp,
  splitCsvLine,
  streamK6Csv,
} from '../src/k6-csv.ts'

// The shape k6 v1 writes with --system-tags=status,scenario,expected_response,error_code,name and
// K6_CSV_TIME_FORMAT=unix_micro: system-tag columns in alphabetical order, then extra_tags and
// metadata; thirteen rows per request (only some are shown).
const header =
  'metric_name,timestamp,metric_value,error_code,expected_response,name,scenario,status,extra_tags,metadata'
const t0 = 1_795_425_518_000_000 // µs
function requestRows(i: number, durationMs: number, status: number, extra: string): string[] {
  const ts = String(t0 + i * 1000)
  const expected = status >= 200 && status < 400 ? 'true' : 'false'
  const common = `,${expected},GET /:code,knee,${status},${extra},`
  return [
    `http_reqs,${ts},1.000000,${common}`,
    `http_req_duration,${ts},${durationMs.toFixed(6)},${common}`,
    `http_req_blocked,${ts},0.001000,${common}`,
    `http_req_failed,${ts},${expected === 'true' ? '0' : '1'}.000000,${common}`,
    `iterations,${ts},1.000000,,,,knee,,${extra},`,
  ]
}

function sampleCsv(): string {
  const lines = [header]
  lines.push(...requestRows(0, 0.5, 302, 'op=redirect&step=ramp-01'))
  lines.push(...requestRows(1, 1.25, 302, 'op=redirect&step=01'))
  lines.push(...requestRows(2, 12.5, 500, 'op=redirect&step=01'))
  lines.push(`dropped_iterations,${t0 + 3000},1.000000,,,,knee,,,`)
  lines.push(`vus,${t0 + 3000},10.000000,,,,,,,`)
  return `${lines.join('\n')}\n`
}

test('the header locates the fixed columns, whatever system tags precede them', () => {
  const h = parseCsvHeader(header)
  assert.equal(h.metric, 0)
  assert.equal(h.timestamp, 1)
  assert.equal(h.value, 2)
  assert.equal(h.extraTags, 8)
  assert.equal(h.metadata, 9)
  assert.throws(() => parseCsvHeader('foo,bar'), /metric_name/)
})

test('only the wanted metrics are parsed, with system and extra tags merged', () => {
  const samples = parseK6Csv(sampleCsv(), ['http_req_duration', 'dropped_iterations'])
  assert.deepEqual(
    samples.map((s) => s.metric),
    ['http_req_duration', 'http_req_duration', 'http_req_duration', 'dropped_iterations'],
  )
  const [ramp, ok, failed, dropped] = samples
  assert.deepEqual(ramp?.tags, {
    expected_response: 'true',
    name: 'GET /:code',
    scenario: 'knee',
    status: '302',
    op: 'redirect',
    step: 'ramp-01',
  })
  assert.equal(ok?.value, 1.25)
  assert.equal(ok?.timeMs, t0 / 1000 + 1)
  assert.equal(failed?.tags.status, '500')
  assert.equal(failed?.tags.expected_response, 'false')
  assert.equal(dropped?.value, 1)
  assert.equal(dropped?.tags.scenario, 'knee')
})

test('timestamps in every K6_CSV_TIME_FORMAT become epoch milliseconds', () => {
  assert.equal(parseK6Timestamp('1795425518'), 1_795_425_518_000)
  assert.equal(parseK6Timestamp('1795425518123'), 1_795_425_518_123)
  assert.equal(parseK6Timestamp('1795425518123456'), 1_795_425_518_123.456)
  assert.ok(Math.abs(parseK6Timestamp('1795425518123456789') - (1_795_425_518_123 + 0.456789)) < 1e-3)
  assert.ok(
    Math.abs(
      parseK6Timestamp('2026-11-23T09:18:38.123456789Z') -
        (Date.UTC(2026, 10, 23, 9, 18, 38, 123) + 0.456789),
    ) < 1e-3,
  )
  assert.equal(parseK6Timestamp('2026-11-23T10:18:38+01:00'), Date.UTC(2026, 10, 23, 9, 18, 38))
  assert.throws(() => parseK6Timestamp('yesterday'))
})

test('quoted CSV fields keep their commas and doubled quotes', () => {
  assert.deepEqual(splitCsvLine('a,"b,c",d'), ['a', 'b,c', 'd'])
  assert.deepEqual(splitCsvLine('"say ""hi""",x'), ['say "hi"', 'x'])
  assert.deepEqual(splitCsvLine('a,,b'), ['a', '', 'b'])
})

test('extra tags are &-separated key=value pairs, percent-decoded', () => {
  assert.deepEqual(parseExtraTags('op=redirect&step=03'), { op: 'redirect', step: '03' })
  assert.deepEqual(parseExtraTags('name=GET%20%2F'), { name: 'GET /' })
  assert.deepEqual(parseExtraTags(''), {})
})

test('streaming a file yields the same samples as parsing the text', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-csv-'))
  try {
    const path = join(dir, 'k6.csv')
    writeFileSync(path, sampleCsv())
    const streamed: unknown[] = []
    const rows = await streamK6Csv(path, ['http_req_duration', 'dropped_iterations'], (s) => streamed.push(s))
    assert.equal(rows, 17)
    assert.deepEqual(streamed, parseK6Csv(sampleCsv(), ['http_req_duration', 'dropped_iterations']))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
