/**
 * The API on real infrastructure for one test: the harness's schema and Redis prefix, the object
 * graph server.ts runs (createNotificationsApi + buildApp), requests through `app.inject()`.
 *
 *   const { app, h } = await buildTestApi(t)
 *   await putRecipient(app, 'alice', { email: 'alice@example.com' })
 */
import { createRedis } from '@faultline/kit/clients'
import type { AfterHost } from '@faultline/testkit'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import { buildApp } from '../src/app.ts'
import { createNotificationsApi, type NotificationsApi } from '../src/components.ts'
import type { Config } from '../src/config.ts'
import { type NotificationsHarness, notificationsHarness, silentLog } from './harness.ts'

export interface TestApi {
  h: NotificationsHarness
  app: FastifyInstance
  api: NotificationsApi
  config: Config
  /** Sum of the series of one of this app's metrics, optionally only those matching `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>
}

export interface TestApiOptions {
  env?: Record<string, string>
  /** The cache Redis client (default the harness's); `unreachable` = a closed port. */
  redis?: 'unreachable'
}

export async function buildTestApi(t: AfterHost, o: TestApiOptions = {}): Promise<TestApi> {
  const h = await notificationsHarness(t)
  return buildTestApiOn(h, o)
}

/** Another API instance on the same harness (schema, prefix). */
export async function buildTestApiOn(h: NotificationsHarness, o: TestApiOptions = {}): Promise<TestApi> {
  const config = h.config(o.env)
  const redis = o.redis === 'unreachable' ? unreachableRedis(h) : h.redis()
  const api = createNotificationsApi(config, { pool: h.pool(), redis })
  const app = await buildApp(api.appDeps)
  h.infra.defer(() => app.close())
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const found = (await api.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)
    const values = (found?.values ?? []) as Array<{ value: number; labels: Record<string, unknown> }>
    return values
      .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
      .reduce((sum, v) => sum + v.value, 0)
  }
  return { h, app, api, config, metric }
}

/** A client of a Redis that is not there (port 1 refuses connections): every command fails fast. */
function unreachableRedis(h: NotificationsHarness): Redis {
  const redis = createRedis('redis://127.0.0.1:1', { name: 'notifications-test-down', log: silentLog })
  h.infra.defer(() => redis.disconnect())
  return redis
}

let counter = 0
/** An id no other test uses. */
export function uniqueId(prefix: string): string {
  counter += 1
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`
}

export function putRecipient(app: FastifyInstance, id: string, body: Record<string, unknown>) {
  return app.inject({ method: 'PUT', url: `/api/recipients/${encodeURIComponent(id)}`, payload: body })
}

export function postNotification(
  app: FastifyInstance,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/api/notifications',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** A recipient with every contact point, and a valid request for the `welcome` template. */
export async function welcomeRequest(app: FastifyInstance, overrides: Record<string, unknown> = {}) {
  const recipientId = uniqueId('r')
  const put = await putRecipient(app, recipientId, {
    email: 'someone@example.com',
    phone: '+33612345678',
    pushToken: 'push-token-1',
  })
  if (put.statusCode !== 201) throw new Error(`PUT recipient: ${put.statusCode} ${put.body}`)
  return {
    recipientId,
    template: 'welcome',
    data: { name: 'Ada' },
    category: 'onboarding',
    priority: 'normal',
    ...overrides,
  }
}

export async function countRows(h: NotificationsHarness, table: 'notifications' | 'outbox' | 'deliveries') {
  const { rows } = await h.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)
  return Number(rows[0]?.n ?? 0)
}
