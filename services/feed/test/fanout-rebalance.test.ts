/**
 * A rebalance seen in the middle of a fan-out (a heartbeat between follower pages fails with
 * REBALANCE_IN_PROGRESS) must end the batch — committing what was applied — instead of being
 * retried like a Redis or Postgres failure: a member that stays inside eachBatch cannot rejoin,
 * and the whole group stalls until the rebalance times out (found by pm15). Pure logic: the batch
 * payload is scripted; the real group behaviour is pm15's and fanout.infra.test.ts's.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isRebalance } from '@faultline/kit/clients'
import { createMetrics } from '@faultline/kit/metrics'
import type { EachBatchPayload } from 'kafkajs'
import { createFanoutBatchHandler } from '../src/fanout/consumer.ts'
import { createFanoutMetrics } from '../src/fanout/metrics.ts'

const rebalance = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' })
const silent = { info() {}, warn() {}, error() {} }

function message(offset: string, postId: string) {
  const event = { type: 'post_created', outboxId: offset, postId, authorId: '1', createdAtMs: Date.now() }
  return { offset, value: Buffer.from(JSON.stringify(event)) }
}

function scriptedBatch(heartbeat: () => Promise<void>) {
  const resolved: string[] = []
  const committed: string[][] = []
  const payload = {
    batch: { messages: [message('0', '11'), message('1', '12'), message('2', '13')] },
    resolveOffset: (offset: string) => resolved.push(offset),
    uncommittedOffsets: () => [...resolved],
    commitOffsetsIfNecessary: async (offsets: string[]) => {
      committed.push(offsets)
    },
    heartbeat,
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload
  return { payload, resolved, committed }
}

test('isRebalance: the protocol errors that mean "rejoin", nothing else', () => {
  assert.equal(isRebalance(rebalance), true)
  assert.equal(isRebalance(Object.assign(new Error('x'), { type: 'ILLEGAL_GENERATION' })), true)
  assert.equal(isRebalance(new Error('Connection is closed.')), false)
  assert.equal(isRebalance(null), false)
})

test('a rebalance during an event ends the batch at once, without retrying the event', async () => {
  const applied: string[] = []
  const applier = {
    apply: async (event: { postId: string }, betweenPages: () => Promise<void>) => {
      if (event.postId === '12') await betweenPages()
      applied.push(event.postId)
      return undefined as never
    },
  }
  const handler = createFanoutBatchHandler({
    applier: applier as never,
    switches: { current: { commitAfterFanout: true } },
    commitEvery: 100,
    metrics: createFanoutMetrics(createMetrics({ defaultMetrics: false })),
    log: silent,
    retryBaseMs: 1,
    retryCapMs: 1,
  })
  let beats = 0
  const { payload, resolved, committed } = scriptedBatch(async () => {
    // The first heartbeat (after post 11) is fine; the one between post 12's follower pages fails.
    if (++beats === 2) throw rebalance
  })
  await assert.rejects(handler(payload), /rebalancing/)
  assert.deepEqual(applied, ['11'], 'post 12 was not retried, 13 not started')
  assert.deepEqual(resolved, ['0'])
  assert.deepEqual(committed, [], 'no commit in a rebalancing generation: the next owner re-applies')
})

test('an apply failure that is not a rebalance is retried until it succeeds', async () => {
  let failures = 2
  const applied: string[] = []
  const handler = createFanoutBatchHandler({
    applier: {
      apply: async (event: { postId: string }) => {
        if (event.postId === '12' && failures-- > 0) throw new Error('Connection is closed.')
        applied.push(event.postId)
        return undefined as never
      },
    } as never,
    switches: { current: { commitAfterFanout: true } },
    commitEvery: 100,
    metrics: createFanoutMetrics(createMetrics({ defaultMetrics: false })),
    log: silent,
    retryBaseMs: 1,
    retryCapMs: 1,
  })
  const { payload, committed } = scriptedBatch(async () => {})
  await handler(payload)
  assert.deepEqual(applied, ['11', '12', '13'])
  assert.deepEqual(committed.at(-1), ['0', '1', '2'])
})
