/**
 * The API's wiring, in one place (the shortener's model): every component from the config and the
 * clients server.ts made, so the infra tests build the same object graph against their own infra.
 * Owns nothing it must close — the clients belong to the caller.
 */
import { createMetrics } from '@faultline/kit/metrics'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { AppDeps } from './app.ts'
import type { Config } from './config.ts'
import { InFlightMarker } from './idempotency.ts'
import { NotificationKeys } from './keys.ts'
import { createApiMetrics } from './metrics.ts'
import { createMitigationState } from './mitigations.ts'
import { DeliveryRepository } from './repositories/deliveries.ts'
import { NotificationRepository } from './repositories/notifications.ts'
import { RecipientRepository } from './repositories/recipients.ts'
import { TemplateRepository } from './repositories/templates.ts'
import { checkLiteralUrl, parseAllowlist } from './webhook/ssrf-guard.ts'

export interface ApiClients {
  /** The primary, search_path = DB_SCHEMA. */
  pool: pg.Pool
  /** The cache Redis (the idempotency in-flight markers). */
  redis: Redis
}

/**
 * A request body is a notification's parameters, a recipient or a template (a few Liquid sources
 * of at most 20 000 characters each): 256 KiB holds any of them; more is 413 before parsing.
 */
export const bodyLimitBytes = 256 * 1024

export function createNotificationsApi(config: Config, clients: ApiClients) {
  const mitigations = createMitigationState(config.mitigations)
  const metrics = createMetrics({ defaultLabels: { service: 'notifications', instance: config.instanceId } })
  const apiMetrics = createApiMetrics(metrics, clients.pool)
  const keys = new NotificationKeys(config.redisKeyPrefix)
  const notifications = new NotificationRepository(clients.pool)
  const recipients = new RecipientRepository(clients.pool)
  const templates = new TemplateRepository(clients.pool)
  const deliveries = new DeliveryRepository(clients.pool)
  const marker = new InFlightMarker({
    redis: clients.redis,
    keys,
    lockMs: config.idempotencyLockMs,
    metrics: apiMetrics,
  })
  // Parsed once, here: a bad WEBHOOK_ALLOWLIST entry fails the boot, not a request.
  const allowlist = parseAllowlist(config.webhook.allowlist)
  const appDeps: AppDeps = {
    notifications,
    recipients,
    templates,
    deliveries,
    marker,
    metrics,
    apiMetrics,
    keyTtlS: config.idempotencyTtlS,
    defaultTtlS: config.defaultTtlS,
    maxTtlS: config.maxTtlS,
    webhookUrlProblem: (raw) => checkLiteralUrl(raw, allowlist),
    mitigations,
    bodyLimitBytes,
    adminToken: config.adminToken,
    logRequests: config.logRequests,
  }
  return { appDeps, mitigations, metrics, apiMetrics, keys, notifications, recipients, templates, deliveries }
}

export type NotificationsApi = ReturnType<typeof createNotificationsApi>
