import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { k6Args, LineSplitter, parseK6Line, parseK6Time, shellQuote, systemTags } from '../src/k6.ts'

// A real k6 v1.8.1 `--out json` file: GET 200, GET 503, a 300 ms client timeout, a refused connection.
const sample = readFileSync(join(import.meta.dirname, 'fixtures', 'k6-sample.jsonl'), 'utf8')

test('k6Args: quiet, no usage report, its own API port, the outputs asked for, env as -e', () => {
  const args = k6Args({
    script: '/x/load.js',
    env: { RATE: '10', BASE_URLS: 'http://a,http://b' },
    jsonOut: '/tmp/p.fifo',
  })
  assert.equal(args[0], 'run')
  for (const flag of ['--quiet', '--no-usage-report', '--no-color']) assert.ok(args.includes(flag))
  assert.equal(args[args.indexOf('--address') + 1], '127.0.0.1:0')
  assert.equal(args[args.indexOf('--system-tags') + 1], systemTags.join(','))
  assert.deepEqual(
    args.filter((_, i) => args[i - 1] === '--out'),
    ['json=/tmp/p.fifo'],
  )
  assert.ok(args.includes('RATE=10'))
  assert.equal(args.at(-1), '/x/load.js')
})

test('k6Args: a CSV output and its own system tags (the knee), no JSON pipe', () => {
  const args = k6Args({ script: 's.js', env: {}, csvPath: '/r/k6.csv', systemTags: ['status', 'name'] })
  assert.deepEqual(
    args.filter((_, i) => args[i - 1] === '--out'),
    ['csv=/r/k6.csv'],
  )
  assert.equal(args[args.indexOf('--system-tags') + 1], 'status,name')
})

test('shellQuote quotes only what a shell would split or expand', () => {
  assert.equal(shellQuote("it's"), `'it'\\''s'`)
  assert.equal(shellQuote('RATE=10'), 'RATE=10')
  assert.equal(shellQuote('a b'), `'a b'`)
})

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
