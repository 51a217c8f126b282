/**
 * The body of a processor thread: it takes one job at a time from its parent
 * (processor-thread.ts), runs it and posts the outcome. It never decides about timeouts or
 * memory: the parent terminates it, and V8 ends it at its heap limit.
 */
import { parentPort } from 'node:worker_threads'
import sharp from 'sharp'
import { runJob } from './run-job.ts'
import type { SandboxJob } from './sandbox-protocol.ts'

// libvips' operation cache keeps recent results for reuse; a processor sees each image once, so
// the cache would only hold memory (it is process-wide: this sets it for every thread).
sharp.cache(false)

const port = parentPort
if (port === null) throw new Error('sandbox-worker.ts runs only as a worker thread')

port.on('message', async (job: SandboxJob) => {
  port.postMessage(await runJob(job))
})
