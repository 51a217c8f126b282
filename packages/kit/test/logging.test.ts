import assert from 'node:assert/strict'
import { test } from 'node:test'
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
