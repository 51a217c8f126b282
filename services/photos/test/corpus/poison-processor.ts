/**
 * A processor thread that misbehaves on command, for the sandbox tests (and pm17's "an image that
 * always kills its processor"): the job's bytes name what it does (`exit`, `throw`, `hang`,
 * `oom`). A real decoder crash cannot be produced on demand, but what the sandbox sees of one — a
 * thread that exits, throws outside any promise, never answers, or runs out of heap — can, and
 * those are what the containment is for.
 * Any other bytes are processed normally, so a pool keeps working with this entry.
 */
import { parentPort } from 'node:worker_threads'
import { runJob } from '../../src/processor/run-job.ts'
import type { SandboxJob } from '../../src/processor/sandbox-protocol.ts'

const port = parentPort
if (port === null) throw new Error('runs only as a worker thread')

const behaviours: Record<string, () => void> = {
  exit: () => process.exit(3),
  throw: () =>
    setImmediate(() => {
      throw new Error('decoder exploded')
    }),
  hang: () => {
    for (;;) {
      // Never yields: only a terminate ends this thread.
    }
  },
  oom: () => {
    const hoard: number[][] = []
    for (;;) hoard.push(Array.from({ length: 100_000 }, (_, i) => i + hoard.length))
  },
}

port.on('message', async (job: SandboxJob) => {
  const command = Buffer.from(job.bytes).toString('latin1')
  const behaviour = behaviours[command]
  if (behaviour !== undefined) return behaviour()
  port.postMessage(await runJob(job))
})
