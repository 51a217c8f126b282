/**
 * The project's own providers over HTTP: one Fastify plugin per named provider, mounted at
 * `/<name>`, speaking the providers' contract (docs/notifications.md) with failure knobs, plus the
 * admin routes experiments and checks read the truth from (what was actually sent, per key).
 *
 *   POST   /<name>/v1/messages     {channel, to, subject?, body} + optional Idempotency-Key → 200 {messageId}
 *   GET    /<name>/admin/knobs     PUT /<name>/admin/knobs (partial)
 *   GET    /<name>/admin/log?after=<seq>&limit=<n>     GET /<name>/admin/stats     DELETE /<name>/admin/log
 *   POST   /<name>/hook            a webhook receiver; GET /<name>/admin/hooks?after=&limit=
 *
 * A message meets the knobs in this order: down (the socket is destroyed before the request is
 * read) → the body is checked (400 naming the field) → latencyMs + jitter → rateLimitRate (429 +
 * Retry-After) → errorRate (500) → accept (a key already accepted and honoured: the same
 * messageId, counted as a replay, not a send) → dropReplyRate (the send stands, the socket is
 * destroyed without a reply: the ambiguous case a client cannot tell from a failure).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Metrics } from '@faultline/kit/metrics'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { channels } from '../types.ts'
import { fieldError, InvalidProviderRequestError } from './errors.ts'
import { type Knobs, parseKnobsOrThrow400 } from './knobs.ts'
import type { SendRequest } from './log.ts'
import type { FakeProvider } from './provider.ts'

/** Checks a webhook's raw body against its `Faultline-Signature` header. */
export type HookVerifier = (
  rawBody: string,
  signature: string | undefined,
) => { ok: boolean; reason?: string }

export interface ProvidersPluginOptions {
  providers: readonly FakeProvider[]
  /** Where `notifications_provider_fake_requests_total` goes. @default the app's `metrics` */
  metrics?: Metrics
  /** Absent: webhook entries are recorded with `verified: null`. */
  verifyHook?: HookVerifier
}

type Count = (provider: string, outcome: string) => void

/** Mounts every provider at `/<name>` on an app built with the kit's `createService`. */
export async function registerProviders(
  app: FastifyInstance,
  options: ProvidersPluginOptions,
): Promise<void> {
  const metrics = options.metrics ?? (app.hasDecorator('metrics') ? app.metrics : undefined)
  const requests = metrics?.counter({
    name: 'notifications_provider_fake_requests_total',
    help: "requests to the project's fake providers by final outcome: accepted, replayed (a key already accepted), dropped (accepted, reply withheld), error, rate_limited, refused (down), invalid; hook_* for the webhook receiver",
    labelNames: ['provider', 'outcome'],
  })
  const count: Count = (provider, outcome) => requests?.inc({ provider, outcome })
  // A request sleeping its latency (minutes, in a timeout experiment) would hold close() and the
  // process open that long: closing cuts it off, as a provider that dies would, and sends nothing.
  const closing = new AbortController()
  app.addHook('preClose', async () => closing.abort())
  const { signal } = closing
  for (const provider of options.providers) {
    await app.register(
      async (scope) => {
        messageRoute(scope, provider, count, signal)
        adminRoutes(scope, provider)
        await scope.register(async (hookScope) =>
          hookRoute(hookScope, provider, count, signal, options.verifyHook),
        )
      },
      { prefix: `/${provider.name}` },
    )
  }
}

function messageRoute(
  scope: FastifyInstance,
  provider: FakeProvider,
  count: Count,
  closing: AbortSignal,
): void {
  const { log } = provider
  scope.post('/v1/messages', { onRequest: refuseWhenDown(provider, count, '') }, async (request, reply) => {
    log.count('request')
    let message: SendRequest
    try {
      message = parseMessage(request.body, request.headers['idempotency-key'])
    } catch (err) {
      log.count('invalid')
      count(provider.name, 'invalid')
      throw err
    }
    const knobs = await waitOut(provider, closing)
    if (!knobs) return destroy(request, reply)
    if (chance(knobs.rateLimitRate)) {
      log.count('rate_limited')
      count(provider.name, 'rate_limited')
      return rateLimited(reply, knobs)
    }
    if (chance(knobs.errorRate)) {
      log.count('error')
      count(provider.name, 'error')
      return failed(reply)
    }
    const result = log.accept(message, knobs.honourIdempotencyKey)
    if (chance(knobs.dropReplyRate)) {
      log.count('dropped')
      count(provider.name, 'dropped')
      return destroy(request, reply)
    }
    count(provider.name, result.replay ? 'replayed' : 'accepted')
    if (result.replay) reply.header('idempotent-replay', 'true')
    return { messageId: result.messageId }
  })
}

function hookRoute(
  scope: FastifyInstance,
  provider: FakeProvider,
  count: Count,
  closing: AbortSignal,
  verify?: HookVerifier,
): void {
  // The signature covers the exact bytes sent, so this scope keeps the body as a string.
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body))
  scope.post('/hook', { onRequest: refuseWhenDown(provider, count, 'hook_') }, async (request, reply) => {
    const knobs = await waitOut(provider, closing)
    if (!knobs) return destroy(request, reply)
    if (chance(knobs.rateLimitRate)) {
      count(provider.name, 'hook_rate_limited')
      return rateLimited(reply, knobs)
    }
    if (chance(knobs.errorRate)) {
      count(provider.name, 'hook_error')
      return failed(reply)
    }
    const raw = typeof request.body === 'string' ? request.body : ''
    const signature = request.headers['faultline-signature']
    const check = verify?.(raw, typeof signature === 'string' ? signature : undefined)
    const entry = provider.hooks.record(raw, request.headers, check ?? null)
    if (chance(knobs.dropReplyRate)) {
      count(provider.name, 'hook_dropped')
      return destroy(request, reply)
    }
    count(provider.name, 'hook_received')
    return { received: true, seq: entry.seq, verified: entry.verified }
  })
}

function adminRoutes(scope: FastifyInstance, provider: FakeProvider): void {
  scope.get('/admin/knobs', async () => provider.knobs())
  scope.put('/admin/knobs', async (request) => provider.setKnobs(parseKnobsOrThrow400(request.body)))
  scope.get('/admin/log', async (request) => {
    const { after, limit } = pageOf(request.query)
    return provider.log.read(after, limit)
  })
  scope.get('/admin/hooks', async (request) => {
    const { after, limit } = pageOf(request.query)
    return provider.hooks.read(after, limit)
  })
  scope.get('/admin/stats', async () => ({ ...provider.log.stats(), hooks: provider.hooks.stats() }))
  scope.delete('/admin/log', async (_request, reply) => {
    provider.clear()
    return reply.code(204).send()
  })
}

/** The `down` knob: the connection is destroyed before the request is read, as a dead host's would be. */
function refuseWhenDown(provider: FakeProvider, count: Count, prefix: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!provider.knobs().down) return
    if (prefix === '') {
      provider.log.count('request')
      provider.log.count('refused')
    }
    count(provider.name, `${prefix}refused`)
    return destroy(request, reply)
  }
}

/**
 * Sleeps the configured latency, then returns the knobs in force now (they may have changed
 * meanwhile); null when the server began closing meanwhile.
 */
async function waitOut(provider: FakeProvider, closing: AbortSignal): Promise<Knobs | null> {
  const { latencyMs, latencyJitterMs } = provider.knobs()
  const delayMs = latencyMs + Math.floor(Math.random() * (latencyJitterMs + 1))
  if (delayMs > 0) await sleep(delayMs, undefined, { signal: closing }).catch(() => {})
  return closing.aborted ? null : provider.knobs()
}

/** Math.random() is in [0, 1): a rate of 0 never fires and a rate of 1 always does. */
const chance = (rate: number) => rate > 0 && Math.random() < rate

function rateLimited(reply: FastifyReply, knobs: Knobs) {
  return reply
    .code(429)
    .header('retry-after', String(knobs.retryAfterS))
    .send({
      statusCode: 429,
      code: 'NOTIFICATIONS_ERR_PROVIDER_RATE_LIMITED',
      error: 'Too Many Requests',
      message: `rate limited: retry after ${knobs.retryAfterS} s`,
    })
}

function failed(reply: FastifyReply) {
  return reply.code(500).send({
    statusCode: 500,
    code: 'NOTIFICATIONS_ERR_PROVIDER_FAILED',
    error: 'Internal Server Error',
    message: 'injected provider failure (errorRate)',
  })
}

/** No reply at all: the client sees its connection reset (or its own timeout). */
function destroy(request: FastifyRequest, reply: FastifyReply) {
  reply.hijack()
  request.raw.socket.destroy()
  return reply
}

const visibleAscii = /^[\x21-\x7e]{1,255}$/
const maxToChars = 320
const maxSubjectChars = 998
const maxBodyChars = 100_000

/** The message contract: `{channel, to, subject?, body}`, each wrong field named in the 400. */
export function parseMessage(body: unknown, key: string | string[] | undefined): SendRequest {
  const invalid = (field: string, reason: string) =>
    fieldError(InvalidProviderRequestError, field, `${field} ${reason}`)
  if (key !== undefined && (typeof key !== 'string' || !visibleAscii.test(key))) {
    throw invalid('headers.idempotency-key', 'must be 1-255 visible ASCII characters')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('body', 'must be a JSON object {channel, to, subject?, body}')
  }
  const b = body as Record<string, unknown>
  if (typeof b.channel !== 'string' || !(channels as readonly string[]).includes(b.channel)) {
    throw invalid('body.channel', `must be one of ${channels.join(', ')}`)
  }
  if (typeof b.to !== 'string' || b.to.length === 0 || b.to.length > maxToChars) {
    throw invalid('body.to', `must be a string of 1-${maxToChars} characters`)
  }
  if (b.subject !== undefined && (typeof b.subject !== 'string' || b.subject.length > maxSubjectChars)) {
    throw invalid('body.subject', `must be a string of at most ${maxSubjectChars} characters`)
  }
  if (typeof b.body !== 'string' || b.body.length > maxBodyChars) {
    throw invalid('body.body', `must be a string of at most ${maxBodyChars} characters`)
  }
  return {
    channel: b.channel,
    to: b.to,
    subject: b.subject as string | undefined,
    body: b.body,
    idempotencyKey: key as string | undefined,
  }
}

function pageOf(query: unknown): { after: number; limit: number } {
  const q = (query ?? {}) as Record<string, string | undefined>
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const raw = q[name]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min || value > max) {
      throw fieldError(
        InvalidProviderRequestError,
        `query.${name}`,
        `query.${name} must be an integer from ${min} to ${max}`,
      )
    }
    return value
  }
  return { after: integer('after', 0, 0, Number.MAX_SAFE_INTEGER), limit: integer('limit', 1000, 1, 10_000) }
}
