// whenReachable: a step that fails while its dependency is down is retried until it succeeds,
// each failure logged with the dependency's name; shutdown (the signal) ends the wait.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { whenReachable } from '../src/reachable.ts'

function recordingLog() {
  const lines: string[] = []
  return { lines, warn: (_obj: object, msg: string) => void lines.push(msg) }
}

test('retries a failing step until it succeeds, logging each failure with what is awaited', async () => {
  const log = recordingLog()
  let calls = 0
  const result = await whenReachable(
    'Postgres',
    async () => {
      calls += 1
      if (calls < 3) throw new Error('ECONNREFUSED')
      return 'migrated'
    },
    { log, baseMs: 1, capMs: 2 },
  )
  assert.equal(result, 'migrated')
  assert.equal(calls, 3)
  assert.deepEqual(log.lines, [
    'Postgres not reachable yet, retrying',
    'Postgres not reachable yet, retrying',
  ])
})

test('an aborted signal ends the wait with a rejection instead of retrying forever', async () => {
  const log = recordingLog()
  const stop = new AbortController()
  let calls = 0
  const waiting = whenReachable(
    'Kafka',
    async () => {
      calls += 1
      if (calls === 2) stop.abort()
      throw new Error('broker down')
    },
    { log, signal: stop.signal, baseMs: 1, capMs: 2 },
  )
  await assert.rejects(waiting)
  assert.ok(calls >= 2 && calls <= 3, `stopped after ${calls} calls`)
})
