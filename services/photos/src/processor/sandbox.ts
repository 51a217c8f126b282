/**
 * `processImage` in worker threads, so the caller's event loop stays free (BullMQ renews job
 * locks from it: immich PR #27742 lost them to sharp work on the loop, jobs ran twice and the
 * queue stalled) and a runaway image costs one thread, not the worker process:
 *
 * - **time**: the limit counts from the job's start (`startedAtMs`; pm07: not from enqueue); when
 *   it passes, the thread is terminated and the job fails with `processing took longer than N s`.
 *   processImage also hands the remaining time to libvips (`sharp.timeout`), which stops its own
 *   pipeline; the terminate is for whatever does not return.
 * - **memory**: `resourceLimits` caps the thread's V8 heap; past it V8 ends the thread
 *   (ERR_WORKER_OUT_OF_MEMORY) and the job fails with `processing ran out of memory`. Pixel
 *   buffers are native libvips memory, outside that cap: what bounds them is the pixel limit,
 *   checked from the header before decoding (40 MP ≈ 160 MB as RGBA, one frame at a time).
 * - **crashes**: an exception or `process.exit` inside the thread ends that thread only.
 *
 * What a thread cannot contain: a native crash (SIGSEGV in a decoder, an abort in libvips) ends
 * the whole process, and native memory is shared by all threads. Containing those takes a child
 * process (BullMQ's default sandbox, or a fork with an address-space limit); with threads, the
 * worker's supervisor restarts the process, BullMQ's stalled-job check re-queues the job, and
 * pm17's dead-letter after N attempts ends the loop.
 */
import type { Readable } from 'node:stream'
// sharp's docs: load it on the main thread before threads use it, so its shared libraries stay
// loaded until every thread has finished.
import 'sharp'
import type { ProcessingLimits } from './limits.ts'
import type { ProcessedImage } from './process-image.ts'
import { ProcessorThread, type ProcessorThreadOptions } from './processor-thread.ts'
import { readInput } from './read-input.ts'

export const defaultWorkerEntry = new URL('./sandbox-worker.ts', import.meta.url)

export interface SandboxPoolOptions {
  /** Threads, i.e. images processed at once: the BullMQ worker's concurrency. */
  readonly size: number
  /** V8 heap per thread (MB). The processor's own heap stays under ≈ 20 MB; 64 leaves room. */
  readonly maxOldGenerationSizeMb?: number
  /** Jobs a thread runs before it is replaced (bounds a slow leak). */
  readonly maxJobsPerThread?: number
  /**
   * WebAssembly memory past which a thread is replaced after its job. The HEIC decoder's heap
   * grows to the largest image and never shrinks: ≈ 100 MB stays after a 12 MP photo (kept: a
   * thread that retired after every iPhone photo would pay its ≈ 200 ms start each time), ≈ 300 MB
   * after a 40 MP one (returned). @default 160 MiB
   */
  readonly maxWasmBytesPerThread?: number
  readonly entry?: URL
}

const defaultMaxWasmBytes = 160 * 1024 * 1024

export interface RunOptions {
  /** When the job started (ms since the epoch); the time limit counts from here. Default: now. */
  readonly startedAtMs?: number
  /** Overrides `limits.maxTimeMs`. */
  readonly timeoutMs?: number
}

/** The job's time limit passed while it waited for a free thread (more job slots than threads). */
export class ThreadWaitExpiredError extends Error {
  constructor(startedAtMs: number) {
    super(
      `no processor thread was free before the job's time limit (${Date.now() - startedAtMs} ms since it started); retried`,
    )
    this.name = 'ThreadWaitExpiredError'
  }
}

/**
 * A fixed number of processor threads. `run` waits for a free one (the wait counts against the
 * job's time limit, which started with the job; a job whose limit passed while waiting is thrown
 * back to be retried, not failed), and a thread that failed is replaced on demand.
 * Threads start on first use and keep the process alive: `close()` them at shutdown, after the
 * BullMQ worker has stopped taking jobs.
 */
export class SandboxPool {
  readonly #threadOptions: ProcessorThreadOptions
  readonly #threads: (ProcessorThread | undefined)[]
  /** Threads handed to a `run`, from `#acquire` until its job settled. */
  readonly #leased = new Set<ProcessorThread>()
  readonly #waiting: ((thread: ProcessorThread) => void)[] = []
  #closed = false

  constructor(options: SandboxPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError('size must be ≥ 1')
    this.#threads = new Array(options.size).fill(undefined)
    this.#threadOptions = {
      maxOldGenerationSizeMb: options.maxOldGenerationSizeMb ?? 64,
      maxJobs: options.maxJobsPerThread ?? 500,
      maxWasmBytes: options.maxWasmBytesPerThread ?? defaultMaxWasmBytes,
      entry: options.entry ?? defaultWorkerEntry,
    }
  }

  async run(
    input: Buffer | Readable,
    limits: ProcessingLimits,
    options: RunOptions = {},
  ): Promise<ProcessedImage> {
    if (this.#closed) throw new Error('the sandbox pool is closed')
    const startedAtMs = options.startedAtMs ?? Date.now()
    const jobLimits = { ...limits, maxTimeMs: options.timeoutMs ?? limits.maxTimeMs }
    // Read here, where the stream lives: a stream cannot cross into a thread, its bytes can.
    const bytes = await readInput(input, limits.maxBytes)
    const thread = await this.#acquire()
    try {
      // The job's whole limit went in waiting for a thread: nothing is known about the image, so
      // this is not its failure (a ProcessingError would fail the photo) — the job is retried.
      if (Date.now() >= startedAtMs + jobLimits.maxTimeMs) throw new ThreadWaitExpiredError(startedAtMs)
      // Bytes read here from a stream are this call's alone: they move to the thread. A caller's
      // Buffer is copied (it may use it again).
      return await thread.run(bytes, jobLimits, startedAtMs, { transfer: bytes !== input })
    } finally {
      this.#release(thread)
    }
  }

  /** Ends every thread; jobs still running fail. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#threads.map((thread) => thread?.close()))
  }

  #acquire(): Promise<ProcessorThread> {
    const free = this.#leaseFreeThread()
    if (free !== undefined) return Promise.resolve(free)
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  #release(thread: ProcessorThread): void {
    this.#leased.delete(thread)
    if (this.#waiting.length === 0) return
    const free = this.#leaseFreeThread()
    if (free !== undefined) this.#waiting.shift()?.(free)
  }

  /** A thread not leased, started (or restarted in a dead one's slot) when needed. */
  #leaseFreeThread(): ProcessorThread | undefined {
    for (const [slot, thread] of this.#threads.entries()) {
      if (thread !== undefined && this.#leased.has(thread)) continue
      const free = thread?.alive === true ? thread : new ProcessorThread(this.#threadOptions)
      this.#threads[slot] = free
      this.#leased.add(free)
      return free
    }
    return undefined
  }
}

/**
 * One image in a thread of its own, ended afterwards: the strongest isolation threads give, at
 * ≈ 200 ms of thread start per image. For a worker's steady stream of jobs use a `SandboxPool`.
 */
export async function runSandboxed(
  input: Buffer | Readable,
  limits: ProcessingLimits,
  options: RunOptions & Omit<SandboxPoolOptions, 'size' | 'maxJobsPerThread'> = {},
): Promise<ProcessedImage> {
  const pool = new SandboxPool({ ...options, size: 1, maxJobsPerThread: 1 })
  try {
    return await pool.run(input, limits, options)
  } finally {
    await pool.close()
  }
}
