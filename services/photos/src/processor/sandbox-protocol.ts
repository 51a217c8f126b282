/**
 * The messages between a `ProcessorThread` (processor-thread.ts) and its thread
 * (sandbox-worker.ts), in one place so both sides agree on them. Plain data only: they cross a
 * structured clone, which keeps an Error's message but drops its `code` and `reason`.
 */
import type { ProcessingFailure } from './errors.ts'
import type { ProcessingLimits } from './limits.ts'
import type { ProcessedImage } from './process-image.ts'

export interface SandboxJob {
  readonly id: number
  readonly bytes: Uint8Array
  readonly limits: ProcessingLimits
  readonly startedAtMs: number
}

export type SandboxReply = {
  readonly id: number
  /** The thread's WebAssembly memory after the job (the HEIC decoder's heap, which never shrinks). */
  readonly wasmBytes?: number
} & (
  | { readonly kind: 'done'; readonly image: ProcessedImage }
  | { readonly kind: 'refused'; readonly failure: ProcessingFailure }
  /** Not the image's fault (a bug in the processor): the caller retries instead of failing the photo. */
  | { readonly kind: 'error'; readonly message: string }
)
