import type { FastifyInstance } from 'fastify'
import {
  channelNotInTemplate,
  invalidField,
  notificationNotFound,
  recipientNotFound,
  templateDataError,
  unknownTemplate,
} from '../errors.ts'
import { type AcceptDeps, acceptNotification } from '../idempotency/accept.ts'
import { parseIdempotencyKey, requestHash } from '../idempotency.ts'
import type { Delivery, DeliveryRepository } from '../repositories/deliveries.ts'
import type { NewNotification } from '../repositories/notifications.ts'
import type { RecipientRepository } from '../repositories/recipients.ts'
import { type TemplateRepository, templateChannelsOf } from '../repositories/templates.ts'
import { RenderError, renderChannel } from '../templates/render.ts'
import { type Channel, type Priority, terminalStatuses } from '../types.ts'
import {
  acceptedSchema,
  createNotificationBody,
  errorResponses,
  idParams,
  notificationSchema,
  statsSchema,
} from './schemas.ts'

export interface NotificationRouteDeps extends AcceptDeps {
  recipients: RecipientRepository
  templates: TemplateRepository
  deliveries: DeliveryRepository
  defaultTtlS: number
  maxTtlS: number
}

interface CreateBody {
  recipientId: string
  template: string
  data?: Record<string, unknown>
  channels?: Channel[]
  category: string
  priority: Priority
  ttlS?: number
}

/** Deeper `data` is refused (see dataProblem). */
export const maxDataDepth = 16

/** POST /api/notifications, GET /api/notifications/:id, GET /api/stats. */
export function notificationRoutes(app: FastifyInstance, deps: NotificationRouteDeps) {
  app.post<{ Body: CreateBody }>(
    '/api/notifications',
    {
      schema: {
        summary: 'Accept a notification (Idempotency-Key header optional)',
        description:
          'With an Idempotency-Key header (kept 24 h): a repeat while the first request runs is 409 + Retry-After, ' +
          'a repeat after it is the stored answer with Idempotent-Replay: true, the same key with other parameters is 422.',
        tags: ['notifications'],
        body: createNotificationBody(deps.maxTtlS),
        response: { 202: acceptedSchema, ...errorResponses(400, 404, 409, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      const key = parseIdempotencyKey(request.headers['idempotency-key'])
      const input = toNewNotification(request.body, deps.defaultTtlS)
      const result = await acceptNotification(
        deps,
        {
          key,
          hash: requestHash({ ...input }),
          input,
          validate: () => checkAcceptable(deps, input),
        },
        request.log,
      )
      if (result.replay) reply.header('idempotent-replay', 'true')
      return reply.code(202).send({ id: result.id, status: 'accepted' })
    },
  )

  app.get<{ Params: { id: string } }>(
    '/api/notifications/:id',
    {
      schema: {
        summary: "A notification and each channel's delivery",
        tags: ['notifications'],
        params: idParams,
        response: { 200: notificationSchema, ...errorResponses(404, 503) },
      },
    },
    async (request) => {
      const notification = await deps.notifications.get(request.params.id)
      if (!notification) throw notificationNotFound(request.params.id)
      const deliveries = await deps.deliveries.listForNotification(notification.id)
      const { data: _data, channels: _channels, ...shown } = notification
      return { ...shown, status: overallStatus(deliveries), deliveries: deliveries.map(deliveryView) }
    },
  )

  app.get(
    '/api/stats',
    {
      schema: {
        summary: 'Accepted notifications and deliveries per status (the balance)',
        tags: ['notifications'],
        response: { 200: statsSchema, ...errorResponses(503) },
      },
    },
    async () => deps.notifications.stats(),
  )
}

/** The parameters with their defaults applied: what is stored and what the key's hash covers. */
function toNewNotification(body: CreateBody, defaultTtlS: number): NewNotification {
  const data = body.data ?? {}
  const problem = dataProblem(data)
  if (problem) throw invalidField('body', 'data', problem)
  return {
    recipientId: body.recipientId,
    template: body.template,
    data,
    // Sorted: the same set of channels is the same request, whatever the order.
    channels: body.channels ? [...body.channels].sort() : null,
    category: body.category,
    priority: body.priority,
    ttlS: body.ttlS ?? defaultTtlS,
  }
}

/**
 * Why `data` cannot be stored, or null: nested deeper than maxDataDepth (nothing a template needs,
 * and it would cost recursion everywhere), or a string Postgres' jsonb refuses (a NUL character,
 * a lone UTF-16 surrogate) — a 400 here instead of a 500 from the INSERT. Iterative, so a hostile
 * body cannot blow the stack.
 */
export function dataProblem(value: unknown): string | null {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }]
  const storable = (s: string) => s.isWellFormed() && !s.includes('\u0000')
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number }
    if (typeof v === 'string') {
      if (!storable(v)) return 'must not contain NUL characters or lone surrogates'
      continue
    }
    if (v === null || typeof v !== 'object') continue
    if (depth + 1 > maxDataDepth) return `must be nested at most ${maxDataDepth} levels deep`
    for (const [k, child] of Object.entries(v)) {
      if (!storable(k)) return 'must not contain NUL characters or lone surrogates'
      stack.push({ v: child, depth: depth + 1 })
    }
  }
  return null
}

/**
 * Refuses what can never be delivered, at accept time: an unknown recipient (404), an unknown
 * template (422), a channel the template lacks (422), data missing a variable a channel uses
 * (422 `body.data.<name>`: every asked channel is rendered, as the worker will).
 */
async function checkAcceptable(deps: NotificationRouteDeps, input: NewNotification): Promise<void> {
  if (!(await deps.recipients.exists(input.recipientId))) {
    throw recipientNotFound(input.recipientId, 'body.recipientId')
  }
  const template = await deps.templates.get(input.template)
  if (!template) throw unknownTemplate(input.template)
  const available = templateChannelsOf(template)
  const asked = input.channels ?? available
  for (const channel of asked) {
    if (!available.includes(channel)) throw channelNotInTemplate(input.template, channel)
  }
  for (const channel of asked) {
    try {
      renderChannel(template.channels, channel, input.data)
    } catch (err) {
      if (err instanceof RenderError && err.reason === 'missing_variable') {
        throw templateDataError(
          err.field,
          `is required by template ${input.template} (${channel}.${err.part})`,
        )
      }
      if (err instanceof RenderError && err.reason === 'unprintable_variable' && err.variable !== undefined) {
        throw templateDataError(
          err.field,
          `must be a string, a number or a boolean: template ${input.template} prints it (${channel}.${err.part})`,
        )
      }
      if (err instanceof RenderError) throw templateDataError(err.field, err.message)
      throw err
    }
  }
}

/** `accepted` before the router wrote deliveries, `done` once every one is terminal. */
function overallStatus(deliveries: Delivery[]): 'accepted' | 'in_progress' | 'done' {
  if (deliveries.length === 0) return 'accepted'
  const terminal: readonly string[] = terminalStatuses
  return deliveries.every((d) => terminal.includes(d.status)) ? 'done' : 'in_progress'
}

function deliveryView(d: Delivery) {
  return {
    channel: d.channel,
    status: d.status,
    reason: d.reason,
    attempts: d.attempts,
    provider: d.provider,
    heldUntil: d.heldUntil,
    sentAt: d.sentAt,
    updatedAt: d.updatedAt,
  }
}
