/**
 * The image-processing core: pure (no queue, no S3, no database), so the worker's job, the
 * benchmarks and the tests all run the same code. `processImage` runs on the caller's thread;
 * `SandboxPool`/`runSandboxed` run it in worker threads with a time and heap limit.
 */
export {
  isProcessingError,
  ProcessingError,
  type ProcessingErrorCode,
  type ProcessingFailure,
} from './errors.ts'
export { defaultLimits, type ProcessingLimits, resolveLimits } from './limits.ts'
export { type ProcessedImage, processImage, type Variant } from './process-image.ts'
export { type RunOptions, runSandboxed, SandboxPool, type SandboxPoolOptions } from './sandbox.ts'
export { allowedTypes, sniff } from './sniff.ts'
export { type VariantFormat, type VariantName, variantTable } from './variants.ts'
