/**
 * What the demo gateway protects: every request the limiter admits goes to an upstream. By default
 * that is a sample in this process, which answers where the request went and who served it (so a
 * load test sees which instance admitted what); with UPSTREAM_URL it is a real HTTP service,
 * reached with Node's own fetch. No proxy package is installed, and forwarding one request with its
 * method, path, headers and body takes a few lines.
 */
import { defineError } from '@faultline/kit/errors'
import type { FastifyReply, FastifyRequest } from 'fastify'

export const UpstreamUnavailableError = defineError(
  'RATELIMITER_ERR_UPSTREAM_UNAVAILABLE',
  'the upstream could not be reached',
  502,
)
export const UpstreamTimeoutError = defineError(
  'RATELIMITER_ERR_UPSTREAM_TIMEOUT',
  'the upstream did not answer in time',
  504,
)

export type UpstreamHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

/** The sample upstream's answer. */
export interface SampleAnswer {
  ok: true
  path: string
  method: string
  /** The caller's `x-api-key`, when it sent one: the key its quota was counted under. */
  apiKey?: string
  /** INSTANCE_ID of the gateway that admitted and served the request. */
  servedBy: string
}

export function apiKeyOf(request: FastifyRequest): string | undefined {
  const value = request.headers['x-api-key']
  const key = Array.isArray(value) ? value[0] : value
  return key === undefined || key === '' ? undefined : key
}

/** The built-in upstream: a JSON echo of the request line, no I/O. */
export function sampleUpstream(instanceId: string): UpstreamHandler {
  return async (request) => {
    const answer: SampleAnswer = {
      ok: true,
      path: request.url.split('?')[0] ?? request.url,
      method: request.method,
      servedBy: instanceId,
    }
    const apiKey = apiKeyOf(request)
    if (apiKey !== undefined) answer.apiKey = apiKey
    return answer
  }
}

/**
 * Connection-level headers (RFC 9110 §7.6.1) belong to one hop and are never forwarded; fetch
 * sets `host` and `content-length` itself, and it decompresses bodies, so the upstream's
 * `content-encoding` and `content-length` would describe bytes the client no longer gets.
 */
const hopHeaders = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'content-encoding',
])

function forwardedHeaders(request: FastifyRequest): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || hopHeaders.has(name)) continue
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item)
  }
  const forwardedFor = request.headers['x-forwarded-for']
  headers.set('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${request.ip}` : request.ip)
  headers.set('x-forwarded-host', request.headers.host ?? '')
  headers.set('x-forwarded-proto', request.protocol)
  return headers
}

/**
 * Forwards the request to `baseUrl` + its path and query, and relays status, headers and body.
 * A connection error is a 502, no answer within `timeoutMs` a 504, both with the kit's JSON body.
 */
export function proxyUpstream(options: { baseUrl: string; timeoutMs: number }): UpstreamHandler {
  return async (request, reply) => {
    const body = request.body
    const hasBody =
      Buffer.isBuffer(body) && body.length > 0 && request.method !== 'GET' && request.method !== 'HEAD'
    let response: Response
    try {
      response = await fetch(`${options.baseUrl}${request.url}`, {
        method: request.method,
        headers: forwardedHeaders(request),
        ...(hasBody ? { body } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      })
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') throw new UpstreamTimeoutError()
      request.log.warn({ err, upstream: options.baseUrl }, 'upstream unreachable')
      throw new UpstreamUnavailableError()
    }
    reply.code(response.status)
    for (const [name, value] of response.headers) {
      if (!hopHeaders.has(name) && name !== 'set-cookie') reply.header(name, value)
    }
    const cookies = response.headers.getSetCookie()
    if (cookies.length > 0) reply.header('set-cookie', cookies)
    return reply.send(Buffer.from(await response.arrayBuffer()))
  }
}
