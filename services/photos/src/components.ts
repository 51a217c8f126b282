/**
 * The photo API's wiring, in one place (the shortener's model): every component from the config
 * and the clients server.ts made, so tests build the same graph against their own infra.
 */
import { createMetrics } from '@faultline/kit/metrics'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { AppDeps } from './app.ts'
import type { Config } from './config.ts'
import { PhotoEventHub } from './events.ts'
import { Keys } from './keys.ts'
import { createMitigationState, type MitigationState } from './mitigations.ts'
import { LaneQueues, queueConnection } from './queue/lanes.ts'
import { PhotoRepository } from './repositories/photos.ts'
import { UploadRepository } from './repositories/uploads.ts'
import { presignedVariantUrls, proxiedVariantUrls } from './routes/views.ts'
import { createStorage } from './storage/index.ts'
import { createS3, type S3Client, s3ClientOptionsOf } from './storage/s3-client.ts'
import { createTusDeps } from './tus/index.ts'

export interface PhotoClients {
  pool: pg.Pool
  /** A cache Redis connection for subscribe mode only (SSE). */
  subscriber: Redis
  s3: S3Client
  log: { warn(obj: object, msg: string): void }
}

/** The storage every process uses: the bucket behind the s3Breaker switch. */
export function photoStorage(config: Config, s3: S3Client, mitigations: MitigationState) {
  const { gate, objects, uploads } = createStorage({
    client: s3,
    bucket: config.s3.bucket,
    breakerEnabled: () => mitigations.current.s3Breaker,
    // Presigned URLs name the endpoint clients reach (S3_PUBLIC_ENDPOINT); signing is local, so
    // this client never opens a connection.
    ...(config.s3.publicEndpoint === config.s3.endpoint
      ? {}
      : {
          signer: createS3(s3ClientOptionsOf(config.s3, config.s3.publicEndpoint)),
        }),
  })
  return { gate, store: objects, uploads }
}

/** The queues with attempts from the deadLetter switch (off: retried without end). */
export function createQueues(config: Config, keys: Keys, mitigations: MitigationState): LaneQueues {
  return new LaneQueues({
    connection: queueConnection(config.queueRedisUrl),
    keys,
    attempts: () => (mitigations.current.deadLetter ? config.jobAttempts : Number.MAX_SAFE_INTEGER),
    backoffMs: config.jobBackoffMs,
  })
}

export function createPhotosApi(config: Config, clients: PhotoClients) {
  const mitigations = createMitigationState(config.mitigations)
  const keys = new Keys(config.redisKeyPrefix, config.queuePrefix)
  const metrics = createMetrics({ defaultLabels: { service: 'photos', instance: config.instanceId } })
  metrics.observePgPool(clients.pool, 'primary')
  const photos = new PhotoRepository(clients.pool)
  const { gate, store, uploads } = photoStorage(config, clients.s3, mitigations)
  const queues = createQueues(config, keys, mitigations)
  const accept: AppDeps['accept'] = {
    photos,
    queues,
    deleteObject: (key) => store.delete(key),
    log: clients.log,
  }
  const appDeps: AppDeps = {
    photos,
    store,
    accept,
    presigned: {
      uploads: new UploadRepository(clients.pool),
      photos,
      signer: uploads,
      store,
      accept,
      presign: config.presign,
      uploadTtlMs: config.uploadTtlMs,
      log: clients.log,
    },
    events: new PhotoEventHub(clients.subscriber, keys),
    variantUrls:
      config.variantUrls === 'presigned'
        ? presignedVariantUrls(uploads, config.presign.expiresS)
        : proxiedVariantUrls(config.publicBaseUrl),
    maxUploadBytes: config.limits.maxBytes,
    uploadSinglePut: config.uploadSinglePut,
    // A second under S3's idle timeout, so a client's pause is the client's (400), not S3's.
    uploadStallMs: Math.max(1000, config.s3.timeoutMs - 1000),
    page: { pageDefault: config.pageDefault, pageMax: config.pageMax },
    sseTimeoutMs: config.sseTimeoutMs,
    durableAck: () => mitigations.current.durableAck,
    mitigations,
    metrics,
    reprocess: { photos, queues },
    adminToken: config.adminToken,
    logRequests: config.logRequests,
    tus: createTusDeps(config, { keys, gate, store, accept }),
  }
  return { appDeps, mitigations, keys, photos, gate, store, queues }
}
