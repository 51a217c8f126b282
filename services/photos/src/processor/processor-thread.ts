/**
 * One long-lived worker thread running `processImage`, one job at a time. Long-lived because
 * starting a thread and loading sharp and file-type into it costs ≈ 200 ms on this machine — as
 * much as processing a 12 MP photo — so a thread per image would halve throughput. A thread that
 * timed out, crashed or ran out of heap is never reused: it is terminated and `alive` turns false,
 * and its owner (sandbox.ts) starts another. Healthy threads are retired after `maxJobs` too, so
 * whatever a leak accumulates is bounded (php-fpm's `pm.max_requests`, for the same reason), and
 * after a job that left the HEIC decoder's WebAssembly memory past `maxWasmBytes` (it never
 * shrinks: a 40 MP HEIC would leave ≈ 300 MB with the thread for good).
 */
import { Worker } from 'node:worker_threads'
import { ProcessingError } from './errors.ts'
import type { ProcessingLimits } from './limits.ts'
import { type ProcessedImage, timeoutReason } from './process-image.ts'
import type { SandboxJob, SandboxReply } from './sandbox-protocol.ts'

export interface ProcessorThreadOptions {
  /** V8 heap of the thread in MB (at least 16: below it V8 can die while creating the isolate, which
   * takes the whole process). The processor's JS heap stays small: pixels live in libvips. */
  readonly maxOldGenerationSizeMb: number
  /** Jobs before the thread is retired. */
  readonly maxJobs: number
  /** WebAssembly memory (the HEIC decoder's, which never shrinks) past which it is retired after its job. */
  readonly maxWasmBytes: number
  /** The thread's code; tests and experiments (pm17) pass a processor that crashes. */
  readonly entry: URL
}

export const minHeapMb = 16

interface Running {
  readonly id: number
  readonly resolve: (image: ProcessedImage) => void
  readonly reject: (err: Error) => void
  readonly timer: NodeJS.Timeout
}

export class ProcessorThread {
  readonly #worker: Worker
  readonly #maxJobs: number
  #jobs = 0
  #running: Running | undefined
  #alive = true

  constructor(options: ProcessorThreadOptions) {
    this.#maxJobs = options.maxJobs
    this.#worker = new Worker(options.entry, {
      resourceLimits: { maxOldGenerationSizeMb: Math.max(minHeapMb, options.maxOldGenerationSizeMb) },
    })
    this.#worker.on('message', (reply: SandboxReply) => {
      if (reply.id !== this.#running?.id) return
      this.#finish((running) => answer(reply, running))
      if ((reply.wasmBytes ?? 0) > options.maxWasmBytes) this.#retire()
    })
    this.#worker.on('error', (err) => this.#die(crashed(err)))
    this.#worker.on('exit', (code) =>
      this.#die(crashed(new Error(`processor thread exited with code ${code}`))),
    )
  }

  /** False once the thread has failed or been retired: run it no more. */
  get alive(): boolean {
    return this.#alive
  }

  /**
   * Processes `bytes` in the thread. The time limit ends at `startedAtMs + limits.maxTimeMs`
   * (the job's start, not now); past it the thread is terminated and the job fails with the reason.
   */
  run(
    bytes: Uint8Array,
    limits: ProcessingLimits,
    startedAtMs: number,
    options: { transfer?: boolean } = {},
  ): Promise<ProcessedImage> {
    if (!this.#alive || this.#running !== undefined) throw new Error('processor thread is not free')
    const remainingMs = startedAtMs + limits.maxTimeMs - Date.now()
    const timeout = new ProcessingError('PHOTOS_ERR_TIMEOUT', timeoutReason(limits.maxTimeMs))
    // Already late (it waited for a thread, or its start was long ago): fail it without costing a
    // healthy thread, which a timer firing at once would terminate.
    if (remainingMs <= 0) return Promise.reject(timeout)
    this.#jobs += 1
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#die(timeout), remainingMs)
      this.#running = { id: this.#jobs, resolve, reject, timer }
      const job: SandboxJob = { id: this.#jobs, bytes, limits, startedAtMs }
      // Moved, not copied, when the caller gives the bytes up and they fill their own memory (a
      // 12 MP original is ≈ 3 MB: one copy and its garbage less per job).
      const move = options.transfer === true && ownsItsMemory(bytes)
      this.#worker.postMessage(job, move ? [bytes.buffer as ArrayBuffer] : undefined)
    })
  }

  /** Ends the thread; a job still running fails as crashed. */
  async close(): Promise<void> {
    this.#die(new ProcessingError('PHOTOS_ERR_CRASHED', 'the image processor was stopped'))
  }

  #finish(settle: (running: Running) => void): void {
    const running = this.#running
    if (running === undefined) return
    this.#running = undefined
    clearTimeout(running.timer)
    settle(running)
    if (this.#jobs >= this.#maxJobs) this.#retire()
  }

  #die(err: ProcessingError): void {
    this.#finish((running) => running.reject(err))
    this.#retire()
  }

  #retire(): void {
    if (!this.#alive) return
    this.#alive = false
    // Not awaited: a thread busy in native code (a libvips decode) ends when that call returns
    // to JS, and the caller should not wait for it — the job has already failed.
    void this.#worker.terminate()
  }
}

function answer(reply: SandboxReply, running: Running): void {
  if (reply.kind === 'done') running.resolve(withBuffers(reply.image))
  else if (reply.kind === 'refused')
    running.reject(ProcessingError.from(reply.failure) ?? crashed(new Error('malformed refusal')))
  else running.reject(new Error(`image processor failed: ${reply.message}`))
}

/** A structured clone turns each Buffer into a plain Uint8Array; callers get Buffers back. */
function withBuffers(image: ProcessedImage): ProcessedImage {
  const variants = image.variants.map((v) => ({
    ...v,
    bytes: Buffer.from(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength),
  }))
  return { ...image, variants }
}

function crashed(err: Error): ProcessingError {
  const outOfMemory = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY'
  const reason = outOfMemory ? 'processing ran out of memory' : 'the image processor crashed'
  return new ProcessingError('PHOTOS_ERR_CRASHED', reason, { cause: err })
}

/** Whether `bytes` is the whole of an ArrayBuffer of its own (a Buffer from Node's pool is not). */
function ownsItsMemory(bytes: Uint8Array): boolean {
  return (
    bytes.buffer instanceof ArrayBuffer &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength
  )
}
