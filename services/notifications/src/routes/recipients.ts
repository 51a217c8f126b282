import type { FastifyInstance } from 'fastify'
import { IANAZone } from 'luxon'
import { invalidField, recipientNotFound } from '../errors.ts'
import type { RecipientInput, RecipientRepository } from '../repositories/recipients.ts'
import type { Channel } from '../types.ts'
import { errorResponses, recipientBody, recipientParams, recipientSchema } from './schemas.ts'

export interface RecipientRouteDeps {
  recipients: RecipientRepository
  /**
   * Why a webhook URL may not be called (its literal host is loopback, private, link-local,
   * metadata … and not allow-listed), or null: src/webhook/ssrf-guard.ts checkLiteralUrl. Names
   * are resolved and checked again at every send: this refuses what is refused whatever DNS says.
   */
  webhookUrlProblem(raw: string): string | null
}

interface RecipientBody {
  email?: string | null
  phone?: string | null
  pushToken?: string | null
  webhookUrl?: string | null
  timezone?: string
  quietHours?: { start: string; end: string } | null
  optOuts?: Record<string, Array<Channel | '*'>>
}

/** WHATWG's e-mail rule (what `<input type=email>` accepts), with at least one dot in the domain. */
const emailPattern =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/

// Whitespace, control characters and backslashes: WHATWG URL parsing silently strips or rewrites
// them, so what would be stored would not be what the caller sent.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const forbiddenUrlChars = /[\u0000-\u0020\u007f\\]/

/** PUT /api/recipients/:id (a full replace: 201 created, 200 replaced), GET /api/recipients/:id. */
export function recipientRoutes(app: FastifyInstance, deps: RecipientRouteDeps) {
  app.put<{ Params: { id: string }; Body: RecipientBody }>(
    '/api/recipients/:id',
    {
      schema: {
        summary: 'Create or replace a recipient: contact points, time zone, quiet hours, opt-outs',
        tags: ['recipients'],
        params: recipientParams,
        body: recipientBody,
        response: { 200: recipientSchema, 201: recipientSchema, ...errorResponses(400, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const input = toRecipientInput(request.params.id, request.body, deps)
      const { recipient, created } = await deps.recipients.put(input)
      return reply.code(created ? 201 : 200).send(recipient)
    },
  )

  app.get<{ Params: { id: string } }>(
    '/api/recipients/:id',
    {
      schema: {
        summary: 'A recipient',
        tags: ['recipients'],
        params: recipientParams,
        response: { 200: recipientSchema, ...errorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const recipient = await deps.recipients.get(request.params.id)
      if (!recipient) throw recipientNotFound(request.params.id)
      return recipient
    },
  )
}

/** The checks a schema cannot express; absent fields are null (PUT replaces the whole record). */
export function toRecipientInput(id: string, body: RecipientBody, deps: RecipientRouteDeps): RecipientInput {
  if (body.email != null && !emailPattern.test(body.email)) {
    throw invalidField('body', 'email', 'must be an e-mail address (local@domain.tld)')
  }
  const timezone = body.timezone ?? 'UTC'
  if (!IANAZone.isValidZone(timezone)) {
    throw invalidField('body', 'timezone', 'must be an IANA time zone, e.g. Europe/Paris')
  }
  const quietHours = body.quietHours ?? null
  if (quietHours && quietHours.start === quietHours.end) {
    throw invalidField('body', 'quietHours.end', 'must differ from quietHours.start')
  }
  return {
    id,
    email: body.email ?? null,
    phone: body.phone ?? null,
    pushToken: body.pushToken ?? null,
    webhookUrl: body.webhookUrl == null ? null : checkWebhookUrl(body.webhookUrl, deps),
    timezone,
    quietHours,
    optOuts: body.optOuts ?? {},
  }
}

/** An absolute http(s) URL without credentials whose literal host is not refused; stored as given. */
function checkWebhookUrl(raw: string, deps: RecipientRouteDeps): string {
  const bad = (message: string) => invalidField('body', 'webhookUrl', message)
  if (forbiddenUrlChars.test(raw)) throw bad('must not contain whitespace, control characters or "\\"')
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw bad('must be an absolute URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('must use http or https')
  if (url.hostname === '') throw bad('must have a host')
  if (url.username !== '' || url.password !== '') throw bad('must not contain credentials (user:password@)')
  const problem = deps.webhookUrlProblem(raw)
  if (problem) throw bad(`is refused: ${problem}`)
  return raw
}
