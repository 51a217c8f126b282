import assert from 'node:assert/strict'
import { test } from 'node:test'
import { QueueBackpressure } from '../src/router/backpressure.ts'

test('room: at once under the mark; over it, waits (heartbeating) until the depth falls; stops when told to', async () => {
  const depths = [10, 500, 400, 90]
  let reads = 0
  let beats = 0
  const waits: number[] = []
  const bp = new QueueBackpressure({
    depth: async () => {
      reads++
      return depths.shift() ?? 0
    },
    highWater: 100,
    pollMs: 1,
    onWait: (d) => waits.push(d),
  })
  assert.equal(
    await bp.room(
      () => true,
      async () => {},
    ),
    true,
  )
  assert.equal(reads, 1)
  assert.equal(
    await bp.room(
      () => true,
      async () => {
        beats++
      },
    ),
    true,
  )
  assert.equal(reads, 4, 'read until under the mark')
  assert.equal(beats, 2, 'a heartbeat after each poll over the mark')
  assert.deepEqual(waits, [500], 'one wait reported per pause')

  const stuck = new QueueBackpressure({ depth: async () => 1000, highWater: 100, pollMs: 1 })
  assert.equal(
    await stuck.room(
      () => false,
      async () => {},
    ),
    false,
    'stops when the consumer stops',
  )
})

test('room: a failed depth read does not hold the router (the enqueue itself fails and is retried)', async () => {
  const bp = new QueueBackpressure({
    depth: async () => {
      throw new Error('queue Redis down')
    },
    highWater: 100,
  })
  assert.equal(
    await bp.room(
      () => true,
      async () => {},
    ),
    true,
  )
})
