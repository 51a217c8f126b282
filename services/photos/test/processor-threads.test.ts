/** How many processor threads the worker starts (PROCESSOR_THREADS, or the job slots capped at the cores). */
import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { test } from 'node:test'
import { processorThreads } from '../src/worker/components.ts'

const cores = availableParallelism()

test('0: one thread per job slot of both lanes, never more than the cores', () => {
  assert.equal(processorThreads({ processorThreads: 0, concurrency: { new: 1, backfill: 0 } }), 1)
  assert.equal(
    processorThreads({ processorThreads: 0, concurrency: { new: 2, backfill: 1 } }),
    Math.min(3, cores),
  )
  assert.equal(processorThreads({ processorThreads: 0, concurrency: { new: 20, backfill: 1 } }), cores)
})

test('an explicit PROCESSOR_THREADS wins, above the cores too', () => {
  assert.equal(
    processorThreads({ processorThreads: cores + 3, concurrency: { new: 2, backfill: 1 } }),
    cores + 3,
  )
})
