/**
 * What a processor thread does with one job, apart from the thread itself (sandbox-worker.ts), so
 * another thread body — the misbehaving one of the sandbox tests — can process real jobs too.
 */
import { isProcessingError } from './errors.ts'
import { heicDecoderMemoryBytes } from './heic.ts'
import { processImage } from './process-image.ts'
import type { SandboxJob, SandboxReply } from './sandbox-protocol.ts'

export async function runJob(job: SandboxJob): Promise<SandboxReply> {
  const reply = await processed(job)
  const wasmBytes = heicDecoderMemoryBytes()
  return wasmBytes > 0 ? { ...reply, wasmBytes } : reply
}

async function processed(job: SandboxJob): Promise<SandboxReply> {
  const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength)
  try {
    // Copied back, not transferred: the four variants are a few hundred KB (microseconds), and a
    // small Buffer may sit in Node's shared pool, which cannot be transferred.
    const image = await processImage(bytes, job.limits, { startedAtMs: job.startedAtMs })
    return { id: job.id, kind: 'done', image }
  } catch (err) {
    if (isProcessingError(err)) return { id: job.id, kind: 'refused', failure: err.toJSON() }
    return { id: job.id, kind: 'error', message: err instanceof Error ? err.message : String(err) }
  }
}
