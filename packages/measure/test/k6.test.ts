import assert from 'node:assert/strict'
import { test } from 'node:test'
import { k6Args, shellQuote, systemTags } from '../src/k6.ts'

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
