/**
 * Every S3 call of the storage module passes through one gate: a circuit breaker (the `s3Breaker`
 * switch, pm08) and one mapping of failures to the module's errors. With the breaker on, once S3
 * has failed `consecutiveFailures` calls in a row (or half of a busy window), calls fail at once
 * with {@link StorageUnavailableError} — an upload answers 503 in microseconds instead of after
 * the client's timeouts, and a worker's job that meets it goes back to the delayed set without
 * spending an attempt (LaneWorkers' deferFor) until S3 answers again. Off, every call tries S3
 * and waits out its timeouts.
 */
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3'
import {
  CircuitBreaker,
  CircuitOpenError,
  type CircuitState,
  type CircuitStateChange,
} from '@faultline/resilience'
import { isRequestFault, TooLargeError, toStorageError, UploadInterruptedError } from './errors.ts'

export interface S3BreakerOptions {
  /** Opens after this many failed calls in a row. @default 3 */
  consecutiveFailures?: number
  /** …or when half of at least `minimumRequests` calls in 10 s failed. @default 10 */
  minimumRequests?: number
  /** How long it stays open before one trial call. @default 5000 */
  openMs?: number
}

export interface S3GateOptions {
  client: S3Client
  bucket: string
  /** Read before every call: the `s3Breaker` switch, flippable at run time. @default () => true */
  breakerEnabled?: () => boolean
  breaker?: S3BreakerOptions
  onBreakerStateChange?: (change: CircuitStateChange) => void
}

/** Failures that say nothing about S3's health: the caller's bytes or request were wrong. */
function countsAgainstS3(error: unknown): boolean {
  if (error instanceof TooLargeError || error instanceof UploadInterruptedError) return false
  return !isRequestFault(error)
}

export class S3Gate {
  readonly client: S3Client
  readonly bucket: string
  readonly #breaker: CircuitBreaker
  readonly #breakerEnabled: () => boolean

  constructor(options: S3GateOptions) {
    this.client = options.client
    this.bucket = options.bucket
    this.#breakerEnabled = options.breakerEnabled ?? (() => true)
    this.#breaker = new CircuitBreaker({
      name: 's3',
      consecutiveFailures: options.breaker?.consecutiveFailures ?? 3,
      minimumRequests: options.breaker?.minimumRequests ?? 10,
      failureRateThreshold: 0.5,
      openMs: options.breaker?.openMs ?? 5000,
      isFailure: countsAgainstS3,
      ...(options.onBreakerStateChange ? { onStateChange: options.onBreakerStateChange } : {}),
    })
  }

  /** `closed` whenever the switch is off. */
  get breakerState(): CircuitState {
    this.#breaker.enabled = this.#breakerEnabled()
    return this.#breaker.state
  }

  /**
   * Runs one S3 operation through the breaker and maps its failure with {@link toStorageError}
   * (`key` turns a 404 into ObjectNotFoundError). A 404 is not a failure of S3.
   */
  async run<T>(fn: () => Promise<T>, key?: string): Promise<T> {
    this.#breaker.enabled = this.#breakerEnabled()
    try {
      return await this.#breaker.execute(fn)
    } catch (error) {
      throw toStorageError(error, key)
    }
  }

  /**
   * Runs a call of a client the storage module does not build itself (the tus S3 store's) through
   * the breaker. S3's own failures (network, timeouts, 5xx, an open breaker) become
   * {@link StorageUnavailableError}, so its caller answers 503 + Retry-After; answers about the
   * request (a 404 NoSuchKey, another 4xx) pass unchanged, for the library to read as it expects.
   */
  async guard<T>(fn: () => Promise<T>): Promise<T> {
    this.#breaker.enabled = this.#breakerEnabled()
    try {
      return await this.#breaker.execute(fn)
    } catch (error) {
      if (error instanceof CircuitOpenError || countsAgainstS3(error)) throw toStorageError(error)
      throw error
    }
  }

  /** Every call `client` makes from now on goes through {@link guard} (one outcome per call, its retries included). */
  attachTo(client: S3Client): void {
    client.middlewareStack.add((next) => (args) => this.guard(() => next(args)), {
      step: 'initialize',
      name: 'photosS3Gate',
    })
  }

  /**
   * One cheap call (HEAD of the bucket) through the breaker: resolves when S3 answers (after
   * `openMs` it is also the breaker's trial).
   */
  async probe(): Promise<void> {
    await this.run(() => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })))
  }
}
