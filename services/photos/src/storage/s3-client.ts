/**
 * The S3 client of the photos system, configured to fail fast: the AWS SDK's defaults have no
 * connection or request timeout and retry three times, so a hung S3 holds an upload forever
 * and a dead one is retried for seconds per call — what pm08 turns into upload requests piling
 * up behind an outage. Here every attempt has a connect, idle and total time limit, and a call
 * makes at most `maxAttempts` attempts, so the worst case of one call is bounded (see
 * {@link worstCaseCallMs}) and the circuit breaker above it sees failures quickly.
 *
 * Shaped like the kit's client factories (`createRedis`, `createPgPool`) so it can move to
 * `@faultline/kit/clients` once the kit depends on the AWS SDK.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'

export type { S3Client } from '@aws-sdk/client-s3'

export interface S3ClientOptions {
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  /** @default 'us-east-1' (versitygw ignores it; AWS needs the bucket's region) */
  region?: string
  /** Path-style URLs (`http://host/bucket/key`), which S3-compatible servers need. @default true */
  forcePathStyle?: boolean
  /** Time to open the TCP connection: a refused or unreachable S3 fails in this long. @default 1000 */
  connectTimeoutMs?: number
  /** Time a socket may sit idle (no byte either way) before the attempt fails: a hung S3. @default 5000 */
  idleTimeoutMs?: number
  /**
   * Time one attempt may take in total. It must cover a whole part (8 MiB) at the slowest link
   * the system accepts, so it is generous; `idleTimeoutMs` is what catches a hang. @default 30000
   */
  requestTimeoutMs?: number
  /** Attempts per call, the first included; the SDK's default is 3. @default 2 */
  maxAttempts?: number
  /**
   * Send `x-amz-content-sha256: UNSIGNED-PAYLOAD` instead of hashing every body for the SigV4
   * signature. Over plain HTTP the SDK otherwise spends one SHA-256 pass per byte uploaded
   * (~1 GB/s on this machine, on the event loop); the photos system already hashes each upload
   * end to end, and TLS (or a private network) protects the bytes in flight. Measured on this
   * machine: raw 10 MB PutObjects ~115-245 MB/s signed vs ~200-280 MB/s unsigned (noisy, 2 cores
   * shared). @default false
   */
  unsignedPayload?: boolean
}

/** The settings of the photo system's S3 (config.s3). */
export interface S3Settings {
  endpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  /** S3_TIMEOUT_MS: the idle timeout. */
  timeoutMs: number
  unsignedPayload: boolean
}

/** The client options of every process (and of the tus store's own client), from the config's `s3`. */
export function s3ClientOptionsOf(s3: S3Settings, endpoint = s3.endpoint): S3ClientOptions {
  return {
    endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    idleTimeoutMs: s3.timeoutMs,
    unsignedPayload: s3.unsignedPayload,
  }
}

const defaults = {
  region: 'us-east-1',
  connectTimeoutMs: 1000,
  idleTimeoutMs: 5000,
  requestTimeoutMs: 30_000,
  maxAttempts: 2,
} as const

/**
 * The client settings of {@link createS3} without the client, for a library that builds its own
 * (the tus S3 store): the same timeouts, attempts and checksum rules.
 */
export function s3ClientConfig(options: S3ClientOptions): S3ClientConfig {
  return {
    endpoint: options.endpoint,
    region: options.region ?? defaults.region,
    forcePathStyle: options.forcePathStyle ?? true,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    maxAttempts: options.maxAttempts ?? defaults.maxAttempts,
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? defaults.connectTimeoutMs,
      socketTimeout: options.idleTimeoutMs ?? defaults.idleTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? defaults.requestTimeoutMs,
      // Without this the SDK only logs a warning when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
    // The SDK's default adds a CRC32 to every request it can. A presigned PUT would then carry
    // the checksum of an empty body (S3 refuses the real bytes), and the system already checks
    // integrity end to end with its own SHA-256. Checksums only where S3 requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Without a logger the SDK writes to the console when a streamed PutObject fails ("non-
    // retryable streaming request") — every upload a client abandons. The failure itself is
    // thrown, mapped and logged by the caller.
    logger: quietLogger,
    // No `Expect: 100-continue` (the SDK adds it to bodies over 2 MB): the request waits a round
    // trip before its body, and the SDK sends it on a fresh connection that is never kept alive.
    expectContinueHeader: false,
  }
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} }

export function createS3(options: S3ClientOptions): S3Client {
  const client = new S3Client(s3ClientConfig(options))
  if (options.unsignedPayload) {
    // At the build step, before the signer (finalizeRequest) reads the header and skips hashing.
    client.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> }
        if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'
        return next(args)
      },
      { step: 'build', name: 'faultlineUnsignedPayload' },
    )
  }
  return client
}

/**
 * The longest one non-streaming call can take before it fails, from the options: each attempt
 * bounded by the total request time, plus the standard retry mode's backoff (at most 20 s per
 * retry, far less for the first retries: 100 ms × 2^n with jitter).
 */
export function worstCaseCallMs(options: Pick<S3ClientOptions, 'requestTimeoutMs' | 'maxAttempts'>): number {
  const attempts = options.maxAttempts ?? defaults.maxAttempts
  const perAttemptMs = options.requestTimeoutMs ?? defaults.requestTimeoutMs
  let backoffMs = 0
  for (let retry = 0; retry < attempts - 1; retry++) backoffMs += Math.min(20_000, 100 * 2 ** (retry + 1))
  return attempts * perAttemptMs + backoffMs
}
