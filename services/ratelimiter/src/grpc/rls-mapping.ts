/**
 * Translation between Envoy's rate limit messages (as `@grpc/proto-loader` decodes them with
 * `rlsLoaderOptions`: proto field names, enum names, int64 as numbers) and the decision
 * service's own request and answer, so the gRPC server gives exactly the decision the HTTP route
 * gives for the same input.
 */
import type { DecideRequest, DecideResponse, DescriptorStatus } from '../decision-types.ts'
import { maxDescriptors } from '../routes/decide-schema.ts'
import { limits } from '../rules/schema.ts'

export interface RlsEntry {
  key: string
  value: string
}

export interface RlsDescriptor {
  entries: RlsEntry[]
}

/** `envoy.service.ratelimit.v3.RateLimitRequest` (the fields the service reads). */
export interface RlsRequest {
  domain: string
  descriptors: RlsDescriptor[]
  /** 0 means 1: proto3 cannot tell an unset field from 0, and Envoy documents it so. */
  hits_addend: number
}

export type RlsCode = 'UNKNOWN' | 'OK' | 'OVER_LIMIT'
export type RlsUnit = 'UNKNOWN' | 'SECOND' | 'MINUTE' | 'HOUR' | 'DAY' | 'MONTH' | 'YEAR'

export interface RlsRateLimit {
  name: string
  requests_per_unit: number
  unit: RlsUnit
}

export interface RlsDuration {
  seconds: number
  nanos: number
}

export interface RlsDescriptorStatus {
  code: RlsCode
  /** Absent when no rule matched the descriptor (it is then always OK). */
  current_limit?: RlsRateLimit
  limit_remaining: number
  duration_until_reset: RlsDuration
}

export interface RlsHeader {
  key: string
  value: string
}

/** `envoy.service.ratelimit.v3.RateLimitResponse` (the fields the service sets). */
export interface RlsResponse {
  overall_code: RlsCode
  statuses: RlsDescriptorStatus[]
  response_headers_to_add: RlsHeader[]
}

/** The HTTP route's `hitsAddend` maximum (routes/decide-schema.ts declares it inline). */
const maxHitsAddend = 1_000_000

/**
 * Bounds on one request: the HTTP route's (`POST /v1/decide`), so both protocols accept the same
 * requests. Envoy sends one descriptor per matching `rate_limits` action, each with a handful of
 * entries, so these are far above real traffic; they stop a malformed or hostile request from
 * making the service do thousands of Redis round trips.
 */
export const rlsRequestBounds = {
  maxDescriptors,
  maxEntriesPerDescriptor: limits.maxDepth,
  maxDomainLength: limits.maxNameLength,
  maxKeyLength: limits.maxKeyLength,
  maxValueLength: limits.maxValueLength,
  maxHitsAddend,
} as const

export type ParsedRlsRequest =
  | { ok: true; request: DecideRequest }
  | { ok: false; field: string; message: string }

function invalid(field: string, problem: string): ParsedRlsRequest {
  return { ok: false, field, message: `${field}: ${problem}` }
}

/** The first problem with a string field, or undefined when it is usable. */
function stringProblem(value: unknown, maxLength: number): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'must not be empty'
  if (value.length > maxLength) return `must be at most ${maxLength} characters`
  return undefined
}

/**
 * Checks what Envoy's proto demands (`entries` min_items 1, `key` and `value` min_len 1 in its
 * validate rules) plus a non-empty domain, and names the first offending field.
 */
export function toDecideRequest(message: RlsRequest): ParsedRlsRequest {
  const domainProblem = stringProblem(message.domain, rlsRequestBounds.maxDomainLength)
  if (domainProblem) return invalid('domain', domainProblem)
  const descriptors = message.descriptors ?? []
  if (descriptors.length === 0) return invalid('descriptors', 'must not be empty')
  if (descriptors.length > rlsRequestBounds.maxDescriptors) {
    return invalid('descriptors', `must have at most ${rlsRequestBounds.maxDescriptors} items`)
  }
  const out: DecideRequest['descriptors'] = []
  for (const [i, descriptor] of descriptors.entries()) {
    const entries = descriptor.entries ?? []
    const field = `descriptors[${i}].entries`
    if (entries.length === 0) return invalid(field, 'must not be empty')
    if (entries.length > rlsRequestBounds.maxEntriesPerDescriptor) {
      return invalid(field, `must have at most ${rlsRequestBounds.maxEntriesPerDescriptor} items`)
    }
    for (const [j, entry] of entries.entries()) {
      const keyProblem = stringProblem(entry.key, rlsRequestBounds.maxKeyLength)
      if (keyProblem) return invalid(`${field}[${j}].key`, keyProblem)
      const valueProblem = stringProblem(entry.value, rlsRequestBounds.maxValueLength)
      if (valueProblem) return invalid(`${field}[${j}].value`, valueProblem)
    }
    out.push(entries.map(({ key, value }) => ({ key, value })))
  }
  const hitsAddend = message.hits_addend > 0 ? message.hits_addend : 1
  if (hitsAddend > rlsRequestBounds.maxHitsAddend) {
    return invalid('hits_addend', `must be at most ${rlsRequestBounds.maxHitsAddend}`)
  }
  return { ok: true, request: { domain: message.domain, descriptors: out, hitsAddend } }
}

const uint32Max = 0xffff_ffff

function toUint32(n: number): number {
  return Number.isFinite(n) ? Math.min(uint32Max, Math.max(0, Math.floor(n))) : 0
}

/** A non-negative number of seconds as a protobuf Duration. */
export function toDuration(seconds: number): RlsDuration {
  if (!Number.isFinite(seconds) || seconds <= 0) return { seconds: 0, nanos: 0 }
  const whole = Math.floor(seconds)
  const nanos = Math.min(999_999_999, Math.round((seconds - whole) * 1e9))
  return { seconds: whole, nanos }
}

function toRlsStatus(status: DescriptorStatus): RlsDescriptorStatus {
  return {
    code: status.code,
    ...(status.limit
      ? {
          current_limit: {
            name: status.limit.name ?? '',
            requests_per_unit: toUint32(status.limit.requestsPerUnit),
            unit: status.limit.unit,
          },
        }
      : {}),
    limit_remaining: toUint32(status.remaining),
    duration_until_reset: toDuration(status.resetS),
  }
}

/** One status per request descriptor, in the request's order, as Envoy expects. */
export function toRateLimitResponse(decision: DecideResponse, headers: RlsHeader[] = []): RlsResponse {
  return {
    overall_code: decision.overall,
    statuses: decision.statuses.map(toRlsStatus),
    response_headers_to_add: headers,
  }
}
