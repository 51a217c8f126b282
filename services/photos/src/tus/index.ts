/**
 * The tus routes' dependencies from the config: the S3 store's settings, the Redis locker on its
 * own cache-Redis connection (closed with the app), and the accept path every upload route shares.
 */
import { createRedis } from '@faultline/kit/clients'
import type { Config } from '../config.ts'
import type { Keys } from '../keys.ts'
import type { ObjectStore } from '../storage/object-store.ts'
import { s3ClientOptionsOf } from '../storage/s3-client.ts'
import type { S3Gate } from '../storage/s3-gate.ts'
import type { AcceptDeps } from '../uploads/accept.ts'
import { RedisLocker } from './redis-locker.ts'
import type { TusRouteDeps } from './routes.ts'

export { tusRoutes } from './routes.ts'
export { photoIdHeader, photoStatusHeader, tusPath } from './tus-server.ts'

export function createTusDeps(
  config: Config,
  parts: {
    keys: Keys
    gate: Pick<S3Gate, 'attachTo'>
    store: Pick<ObjectStore, 'sha256Of'>
    accept: AcceptDeps
  },
): TusRouteDeps {
  const redis = createRedis(config.redisUrl, {
    name: `photos-api-tus-${config.instanceId}`,
    commandTimeoutMs: config.redisCommandTimeoutMs,
  })
  return {
    s3: { ...s3ClientOptionsOf(config.s3), bucket: config.s3.bucket },
    gate: parts.gate,
    store: parts.store,
    accept: parts.accept,
    locker: new RedisLocker({
      redis,
      key: (id) => parts.keys.tusLock(id),
      ttlMs: config.tus.lockTtlMs,
      acquireTimeoutMs: config.tus.lockTimeoutMs,
    }),
    maxUploadBytes: config.limits.maxBytes,
    partBytes: config.tus.partBytes,
    expirationMs: config.uploadTtlMs,
    close: () => redis.disconnect(),
  }
}
