/**
 * The decision service over Envoy's rate limit service protocol: a gRPC server implementing
 * `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit` from Envoy's own proto, so a real
 * Envoy (`envoy.filters.http.ratelimit`) or an Istio gateway can call it. Each call is one
 * `DecisionEngine.decide`, the same as `POST /v1/decide`.
 *
 * Errors are gRPC statuses, never a hang: a malformed request is INVALID_ARGUMENT naming the
 * field; an engine that fails or does not answer within `backstopMs` is UNAVAILABLE, which
 * Envoy's `failure_mode_deny` setting turns into allow or deny at the proxy. The engine has its
 * own decision deadline of a few ms; the backstop is only there so that a bug or a naive
 * configuration (every mitigation off) can never leave Envoy waiting.
 */

import { withTimeout } from '@faultline/resilience'
import {
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js'
import type { DecisionEngine } from '../decision-types.ts'
import { loadRateLimitService } from './envoy-proto.ts'
import { draftRateLimitHeaders } from './rls-headers.ts'
import { type RlsRequest, type RlsResponse, toDecideRequest, toRateLimitResponse } from './rls-mapping.ts'

export interface RlsLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface RlsServerOptions {
  engine: DecisionEngine
  /** Interface to bind: HOST (127.0.0.1 natively, 0.0.0.0 in a container so Envoy can reach it). */
  host: string
  /** 0 → an ephemeral port; the bound port is on the returned handle. */
  port: number
  log: RlsLog
  /** Longest a call waits for the engine before UNAVAILABLE. @default 1000 */
  backstopMs?: number
  /** Add the IETF draft `RateLimit-Policy` / `RateLimit` headers to `response_headers_to_add`. @default true */
  rateLimitHeaders?: boolean
}

export interface RlsServer {
  readonly port: number
  /** Stops accepting calls, lets in-flight ones finish for up to `graceMs`, then cancels the rest. */
  close(graceMs?: number): Promise<void>
}

function grpcError(code: status, details: string): ServerErrorResponse {
  return Object.assign(new Error(details), { code, details })
}

/** The `ShouldRateLimit` handler, separate from the server so its error mapping reads in one place. */
export function shouldRateLimitHandler(options: Omit<RlsServerOptions, 'host' | 'port'>) {
  const { engine, log, backstopMs = 1000, rateLimitHeaders = true } = options
  return async (call: ServerUnaryCall<RlsRequest, RlsResponse>, callback: sendUnaryData<RlsResponse>) => {
    const parsed = toDecideRequest(call.request)
    if (!parsed.ok) {
      callback(grpcError(status.INVALID_ARGUMENT, parsed.message))
      return
    }
    try {
      const decision = await withTimeout(() => engine.decide(parsed.request), backstopMs)
      callback(null, toRateLimitResponse(decision, rateLimitHeaders ? draftRateLimitHeaders(decision) : []))
    } catch (err) {
      callback(failureStatus(err, parsed.request.domain, log))
    }
  }
}

/**
 * A caller's mistake the engine found (an error with a 4xx `statusCode`, as the HTTP route would
 * answer 400) is INVALID_ARGUMENT with its message; anything else — Redis, no rules yet, the
 * backstop — is UNAVAILABLE, with the cause in the log rather than in the answer.
 */
function failureStatus(err: unknown, domain: string, log: RlsLog): ServerErrorResponse {
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return grpcError(status.INVALID_ARGUMENT, (err as Error).message)
  }
  log.warn({ err, domain }, 'rate limit decision failed')
  return grpcError(status.UNAVAILABLE, 'rate limit decision unavailable')
}

/** Binds the server and resolves once it accepts calls. */
export async function startRlsServer(options: RlsServerOptions): Promise<RlsServer> {
  const service = loadRateLimitService()
  const server = new Server()
  server.addService(service.service, { ShouldRateLimit: shouldRateLimitHandler(options) })
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    )
  })
  options.log.info({ port, host: options.host }, 'envoy rate limit gRPC server listening')
  return {
    port,
    close: (graceMs = 5000) => closeServer(server, graceMs),
  }
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown()
      resolve()
    }, graceMs)
    server.tryShutdown(() => {
      clearTimeout(force)
      resolve()
    })
  })
}
