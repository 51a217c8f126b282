import assert from 'node:assert/strict'
import { test } from 'node:test'
import { rateLimitedLog } from '../src/logging.ts'
import { captureLogger } from './helpers.ts'

test('logs one JSON object per line with the name, the object and a fixed message', () => {
  const { log, lines } = captureLogger('info')
  log.error({ err: new Error('boom'), code: 'X_ERR_Y' }, 'cache fill failed')
  log.debug({ ignored: true }, 'below the level')
  const [line, ...rest] = lines()
  assert.equal(rest.length, 0)
  assert.equal(line?.name, 'test')
  assert.equal(line?.msg, 'cache fill failed')
  assert.equal(line?.code, 'X_ERR_Y')
  assert.equal((line?.err as { message: string }).message, 'boom')
})

test('rateLimitedLog: one line per interval, the calls in between counted into the next line', () => {
  let t = 0
  const lines: { n: number; suppressed: number }[] = []
  const log = rateLimitedLog<{ n: number }>(
    1000,
    (obj) => lines.push(obj),
    () => t,
  )
  for (let n = 0; n < 5; n++) log({ n }) // t = 0: the first is written, four suppressed
  t = 999
  log({ n: 5 })
  t = 1000
  log({ n: 6 })
  t = 5000
  log({ n: 7 })
  assert.deepEqual(lines, [
    { n: 0, suppressed: 0 },
    { n: 6, suppressed: 5 },
    { n: 7, suppressed: 0 },
  ])
})
