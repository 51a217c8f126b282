import {
  ConfigError,
  envBoolean,
  httpEnv,
  loadServiceEnv,
  type ProcessSettings,
  postgresEnv,
  processEnv,
  processSettings,
  queueRedisEnv,
  redisEnv,
  s3Env,
  Type,
} from '@faultline/kit/config'
import { type Mitigations, switches } from './mitigations.ts'
import type { ProcessingLimits } from './processor/limits.ts'

export { ConfigError }

const int = (def: number, min: number, description: string, max?: number) =>
  Type.Integer({ default: def, minimum: min, ...(max === undefined ? {} : { maximum: max }), description })

const MiB = 1024 * 1024

/**
 * Every variable the photo system's processes read (API, worker, reaper; the switches come on
 * top: `MITIGATIONS` and `MITIGATION_<NAME>`, see mitigations.ts). Defaults connect to the native
 * topology through Toxiproxy, so with no environment at all it runs against `./faultline infra up`.
 */
export const configSchema = Type.Object({
  ...httpEnv,
  ...postgresEnv,
  ...redisEnv,
  ...queueRedisEnv,
  ...s3Env,
  ...processEnv,
  PUBLIC_BASE_URL: Type.String({
    default: '',
    description: 'base of the variant URLs the API hands out (proxy mode); default: the request host',
  }),
  DB_SCHEMA: Type.String({
    default: 'photos',
    pattern: '^[a-z_][a-z0-9_]{0,62}$',
    description: 'schema of the tables',
  }),
  DB_CONNECT_TIMEOUT_MS: int(2000, 1, 'wait for a pool connection at most this long'),
  MIGRATE_ON_START: envBoolean(true, 'apply migrations at boot (advisory-locked, safe with many instances)'),
  REDIS_KEY_PREFIX: Type.String({
    default: 'photos',
    minLength: 1,
    description: 'first segment of every cache Redis key',
  }),
  REDIS_COMMAND_TIMEOUT_MS: int(500, 1, 'a Redis command slower than this fails'),
  QUEUE_PREFIX: Type.String({
    default: 'photos',
    minLength: 1,
    description: "BullMQ's key prefix on the queue Redis (queues photos-new, photos-backfill, photos-dead)",
  }),
  S3_BUCKET: Type.String({
    default: 'photos',
    minLength: 3,
    description: 'bucket of originals and variants',
  }),
  S3_REGION: Type.String({ default: 'us-east-1', minLength: 1 }),
  S3_PUBLIC_ENDPOINT: Type.String({
    default: '',
    description:
      'S3 endpoint put in presigned URLs, when clients reach S3 at another address than the services (compose: http://localhost:<port>); default S3_ENDPOINT',
  }),
  S3_TIMEOUT_MS: int(
    5000,
    1,
    'an S3 request that sends or receives nothing for this long fails (a hung S3); a whole part may take longer',
  ),
  S3_UNSIGNED_PAYLOAD: envBoolean(
    true,
    'sign requests without hashing their bodies (x-amz-content-sha256: UNSIGNED-PAYLOAD): the system already hashes every upload end to end; use TLS or a private network to S3',
  ),
  UPLOAD_SINGLE_PUT: envBoolean(
    true,
    "stream a form's file (POST /api/photos) to S3 as one PutObject of the length its Content-Length implies, rewritten when the form goes on after the file; off: always 5 MiB parts (a multipart upload), each gathered before it is sent",
  ),
  MAX_UPLOAD_BYTES: int(
    50 * MiB,
    1,
    'larger uploads are refused with 413 (and their partial object removed)',
  ),
  MAX_PIXELS: int(
    40_000_000,
    1,
    'images with more pixels fail with a reason (thumbor refuses 75 megapixels)',
  ),
  MAX_FRAMES: int(100, 1, 'animated images with more frames fail with a reason'),
  JOB_TIMEOUT_MS: int(30_000, 1, "a processing job's time limit (from its start with timeoutFromStart)"),
  JOB_ATTEMPTS: int(3, 1, 'attempts of a processing job before it is dead-lettered (deadLetter)'),
  JOB_BACKOFF_MS: int(
    1000,
    1,
    "first retry delay of a failed processing job, doubled each attempt (with jitter); fixed when the job is enqueued, so it is the enqueuing process's (API, reaper, reprocess) value that counts",
  ),
  JOB_LOCK_MS: int(
    30_000,
    100,
    "BullMQ's job lock (lockDuration), renewed from the worker's event loop every half of it: a job whose lock lapses is taken as stalled and run again (pm21); keep it well above the worst event-loop stall. BullMQ's default",
  ),
  JOB_STALLED_CHECK_MS: int(
    30_000,
    100,
    "how often a worker looks for jobs whose lock lapsed (BullMQ's stalledInterval) and puts them back to wait, or fails them after one stall too many; BullMQ's default",
  ),
  WORKER_CONCURRENCY_NEW: int(2, 1, 'jobs at once per worker on the new-uploads lane'),
  WORKER_CONCURRENCY_BACKFILL: int(1, 1, 'jobs at once per worker on the backfill lane'),
  PROCESSOR_THREADS: int(
    0,
    0,
    "processor threads of the sandbox pool; 0 = as many as the job slots of both lanes, at most the machine's cores (more threads than cores only share them, and starve the event loop that renews job locks); a job whose slot has no thread waits for one, and that wait counts against its JOB_TIMEOUT_MS",
  ),
  WORKER_NICE: int(
    10,
    0,
    "the worker process's CPU priority (nice, 0–19), set at start so its processor threads inherit it: on a host it shares with the API, image work yields a core to the API's uploads and reads instead of doubling their latency during a backlog; 0 = the same priority as everything else",
    19,
  ),
  NEW_LANE_SLO_MS: int(
    5000,
    1,
    'the backfill lane pauses while a new upload has waited longer than this for its thumbnail',
  ),
  UPLOAD_TTL_S: int(
    86_400,
    1,
    'a presigned or tus upload not completed by then is aborted and removed by the reaper',
  ),
  REAPER_INTERVAL_S: int(60, 1, 'how often the reaper looks for expired uploads'),
  PRESIGN_EXPIRES_S: int(900, 1, 'lifetime of a presigned URL', 7 * 86_400),
  PRESIGN_MULTIPART_THRESHOLD_BYTES: int(
    16 * MiB,
    5 * MiB,
    'declared sizes above this get presigned multipart parts (below MAX_UPLOAD_BYTES, or no upload ever does)',
  ),
  PRESIGN_PART_BYTES: int(8 * MiB, 5 * MiB, 'part size of a presigned multipart upload (S3 minimum 5 MiB)'),
  TUS_PART_BYTES: int(8 * MiB, 5 * MiB, 'preferred S3 part size of a tus upload (S3 minimum 5 MiB)'),
  TUS_LOCK_TTL_MS: int(
    30_000,
    100,
    'a tus upload lock (in the cache Redis, shared by every API instance) whose holder stopped renewing it frees itself after this long',
  ),
  TUS_LOCK_TIMEOUT_MS: int(
    10_000,
    1,
    'a tus request waits this long for a lock held by another request, then answers 423 (tus clients retry)',
  ),
  VARIANT_URLS: Type.Enum(['proxy', 'presigned'], {
    default: 'proxy',
    description: 'variants served by the API (content-addressed, immutable) or as presigned S3 GETs',
  }),
  SSE_TIMEOUT_S: int(300, 1, 'a /events stream closes after this long without a terminal event'),
  PAGE_DEFAULT: int(20, 1, 'photos per page when ?limit is absent', 1000),
  PAGE_MAX: int(100, 1, 'largest ?limit accepted', 1000),
})

export type Env = Record<string, string | undefined>

export interface Config extends ProcessSettings {
  publicBaseUrl: string | undefined
  databaseUrl: string
  dbSchema: string
  dbPoolMax: number
  dbConnectTimeoutMs: number
  dbStatementTimeoutMs: number
  migrateOnStart: boolean
  redisUrl: string
  redisKeyPrefix: string
  redisCommandTimeoutMs: number
  queueRedisUrl: string
  queuePrefix: string
  s3: {
    endpoint: string
    /** The endpoint in presigned URLs (S3_PUBLIC_ENDPOINT, default `endpoint`). */
    publicEndpoint: string
    region: string
    accessKeyId: string
    secretAccessKey: string
    bucket: string
    /** S3_TIMEOUT_MS: the clients' idle timeout. */
    timeoutMs: number
    unsignedPayload: boolean
  }
  /** The processor's limits (src/processor/limits.ts); maxBytes is also the upload limit. */
  limits: ProcessingLimits
  /** UPLOAD_SINGLE_PUT: a form's file as one streamed PutObject when its length can be predicted. */
  uploadSinglePut: boolean
  jobAttempts: number
  jobBackoffMs: number
  /** BullMQ's lock duration and stalled-job check interval (ms). */
  jobLockMs: number
  jobStalledCheckMs: number
  concurrency: { new: number; backfill: number }
  /** The worker process's nice value (WORKER_NICE). */
  workerNice: number
  /** PROCESSOR_THREADS: 0 = min(job slots, cores). */
  processorThreads: number
  newLaneSloMs: number
  uploadTtlMs: number
  reaperIntervalMs: number
  presign: { expiresS: number; multipartThresholdBytes: number; partBytes: number }
  /** Resumable (tus) uploads: S3 part size and the cross-instance lock (src/tus). */
  tus: { partBytes: number; lockTtlMs: number; lockTimeoutMs: number }
  variantUrls: 'proxy' | 'presigned'
  sseTimeoutMs: number
  pageDefault: number
  pageMax: number
  mitigations: Mitigations
}

/** Reads and checks the environment once; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const { env: e, mitigations } = loadServiceEnv(configSchema, switches, env)
  return {
    ...processSettings(e),
    publicBaseUrl: e.PUBLIC_BASE_URL || undefined,
    databaseUrl: e.DATABASE_URL,
    dbSchema: e.DB_SCHEMA,
    dbPoolMax: e.PG_POOL_MAX,
    dbConnectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    dbStatementTimeoutMs: e.PG_STATEMENT_TIMEOUT_MS,
    migrateOnStart: e.MIGRATE_ON_START,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    queueRedisUrl: e.QUEUE_REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    s3: {
      endpoint: e.S3_ENDPOINT,
      publicEndpoint: e.S3_PUBLIC_ENDPOINT || e.S3_ENDPOINT,
      region: e.S3_REGION,
      accessKeyId: e.S3_ACCESS_KEY,
      secretAccessKey: e.S3_SECRET_KEY,
      bucket: e.S3_BUCKET,
      timeoutMs: e.S3_TIMEOUT_MS,
      unsignedPayload: e.S3_UNSIGNED_PAYLOAD,
    },
    limits: {
      maxBytes: e.MAX_UPLOAD_BYTES,
      maxPixels: e.MAX_PIXELS,
      maxFrames: e.MAX_FRAMES,
      maxTimeMs: e.JOB_TIMEOUT_MS,
    },
    uploadSinglePut: e.UPLOAD_SINGLE_PUT,
    jobAttempts: e.JOB_ATTEMPTS,
    jobBackoffMs: e.JOB_BACKOFF_MS,
    jobLockMs: e.JOB_LOCK_MS,
    jobStalledCheckMs: e.JOB_STALLED_CHECK_MS,
    concurrency: { new: e.WORKER_CONCURRENCY_NEW, backfill: e.WORKER_CONCURRENCY_BACKFILL },
    workerNice: e.WORKER_NICE,
    processorThreads: e.PROCESSOR_THREADS,
    newLaneSloMs: e.NEW_LANE_SLO_MS,
    uploadTtlMs: e.UPLOAD_TTL_S * 1000,
    reaperIntervalMs: e.REAPER_INTERVAL_S * 1000,
    presign: {
      expiresS: e.PRESIGN_EXPIRES_S,
      multipartThresholdBytes: e.PRESIGN_MULTIPART_THRESHOLD_BYTES,
      partBytes: e.PRESIGN_PART_BYTES,
    },
    tus: {
      partBytes: e.TUS_PART_BYTES,
      lockTtlMs: e.TUS_LOCK_TTL_MS,
      lockTimeoutMs: e.TUS_LOCK_TIMEOUT_MS,
    },
    variantUrls: e.VARIANT_URLS,
    sseTimeoutMs: e.SSE_TIMEOUT_S * 1000,
    pageDefault: Math.min(e.PAGE_DEFAULT, e.PAGE_MAX),
    pageMax: e.PAGE_MAX,
    mitigations,
  }
}
