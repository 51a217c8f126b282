import { join } from 'node:path'
import { createMetrics } from '@faultline/kit/metrics'
import { createRedisLease } from '@faultline/kit/redis-lease'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { AppDeps } from './app.ts'
import { FileClickSpool } from './clicks/file-spool.ts'
import { ClickRecorder, type SendClicks } from './clicks/recorder.ts'
import { BlockAllocator, createCodeCodec, createScrambler } from './codes/index.ts'
import type { Config } from './config.ts'
import { createKeys } from './keys.ts'
import { LinkCache } from './link-cache.ts'
import { LinkResolver } from './link-resolver.ts'
import { LinkService } from './link-service.ts'
import { LocalLinkCache } from './local-link-cache.ts'
import { createShortenerMetrics, type GaugeSources } from './metrics.ts'
import { createMitigationState } from './mitigations.ts'
import { LinkRepository } from './repositories/links.ts'

export interface Log {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface ShortenerClients {
  pool: pg.Pool
  redis: Redis
  /** Publishes a batch of click events (server.ts: the process's one Kafka producer). */
  sendClicks: SendClicks
  log: Log
}

/**
 * Wires the domain objects from config and ready clients: what server.ts runs and what the
 * infra tests build, so both exercise the same object graph. Owns nothing it must close except
 * the click recorder (start/stop it) — the clients belong to the caller.
 */
export function createShortener(config: Config, clients: ShortenerClients) {
  const { pool, redis, log } = clients
  const kitMetrics = createMetrics({ defaultLabels: { service: 'shortener', instance: config.instanceId } })
  kitMetrics.observePgPool(pool, 'primary')
  const gauges: GaugeSources = { spoolSize: () => 0 }
  const metrics = createShortenerMetrics(kitMetrics.registry, gauges)
  const mitigations = createMitigationState(config.mitigations)
  const keys = createKeys(config.redisKeyPrefix)
  const repo = new LinkRepository(pool)
  const scrambler = createScrambler(config.codeSecret, config.codeBits)
  const codec = createCodeCodec(scrambler)
  const allocator = new BlockAllocator({
    lease: (size) => repo.leaseIdBlock(size),
    blockSize: config.idBlockSize,
    onLease: (block) => {
      metrics.idBlocksLeased.inc()
      log.info(block, 'id block leased')
    },
  })
  const cache = new LinkCache({
    redis,
    keys,
    mitigations: mitigations.current,
    ttlMs: config.cacheTtlMs,
    jitter: config.cacheTtlJitter,
    negativeTtlMs: config.negativeCacheTtlMs,
    staleWindowMs: config.cacheStaleMs,
  })
  const local = new LocalLinkCache({ ttlMs: config.localCacheTtlMs, maxEntries: config.localCacheMax })
  const resolver = new LinkResolver({
    cache,
    ...(local.enabled ? { local } : {}),
    repo,
    mitigations,
    metrics,
    log,
    coldPathConcurrency: config.coldPathConcurrency,
    coldPathQueue: config.coldPathQueue,
    coldPathWaitMs: config.coldPathWaitMs,
    fillTimeoutMs: config.fillTimeoutMs,
    ...(config.fillLeaseMs > 0
      ? {
          fillLease: createRedisLease(redis, {
            key: (code) => keys.fillLease(code),
            leaseMs: config.fillLeaseMs,
          }),
          fillWaitMs: config.fillWaitMs,
        }
      : {}),
  })
  const links = new LinkService({
    repo,
    allocator,
    codec,
    idSpace: scrambler.size,
    cache,
    metrics,
    log,
    publicBaseUrl: config.publicBaseUrl,
  })
  // The durable spool lives in a directory of its own per instance: two processes must never share one.
  const spool = config.clickSpoolDir
    ? new FileClickSpool({
        dir: join(config.clickSpoolDir, config.instanceId),
        capacity: config.clickSpoolMax,
      })
    : undefined
  if (spool && spool.recovered > 0) {
    log.info(
      { recovered: spool.recovered, corruptLines: spool.corruptLines },
      'click events recovered from the spool',
    )
  }
  const recorder = new ClickRecorder({
    send: clients.sendClicks,
    ...(spool ? { spool } : {}),
    mitigations: mitigations.current,
    spoolMax: config.clickSpoolMax,
    batchMax: config.clickBatchMax,
    flushIntervalMs: config.clickFlushIntervalMs,
    hooks: {
      onRecorded: () => metrics.clicksRecorded.inc(),
      onPublished: (n) => metrics.clicksPublished.inc(n),
      onDropped: (n, reason) => metrics.clicksDropped.inc({ reason }, n),
      onSendError: (err, batchSize) => {
        metrics.clickPublishErrors.inc()
        log.warn({ err, batchSize }, 'click batch publish failed')
      },
    },
  })
  gauges.spoolSize = () => recorder.spool.size

  const appDeps: AppDeps = {
    links,
    resolver,
    clicks: recorder,
    mitigations,
    metrics: kitMetrics,
    shortenerMetrics: metrics,
    postgresCheck: () => pool.query('SELECT 1'),
    postgresCheckTimeoutMs: config.readinessDbTimeoutMs,
    redirect: { status: config.redirectStatus, permanentMaxAgeS: config.redirectMaxAgeS },
    bodyLimitBytes: config.bodyLimitBytes,
    logRequests: config.logRequests,
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
  }
  return {
    appDeps,
    metrics,
    mitigations,
    keys,
    repo,
    cache,
    resolver,
    links,
    allocator,
    recorder,
    kitMetrics,
    codec,
  }
}

export type Shortener = ReturnType<typeof createShortener>
