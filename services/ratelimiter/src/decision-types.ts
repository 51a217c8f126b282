/**
 * The decision service's request and answer, shared by the HTTP route (POST /v1/decide) and the
 * gRPC server (Envoy's RateLimitService), so both give the same decision for the same input.
 */
import type { AlgorithmName } from '@faultline/ratelimit'

export interface DescriptorEntry {
  key: string
  value: string
}

/** One descriptor = an ordered list of entries (Envoy's `RateLimitDescriptor.entries`). */
export type Descriptor = DescriptorEntry[]

export interface DecideRequest {
  domain: string
  descriptors: Descriptor[]
  /** Cost of this request; default 1 (Envoy's `hits_addend`). */
  hitsAddend?: number
}

export type DecisionCode = 'OK' | 'OVER_LIMIT'

export interface DescriptorLimit {
  /** Requests per unit, as Envoy's `RateLimit.requests_per_unit`. */
  requestsPerUnit: number
  unit: 'SECOND' | 'MINUTE' | 'HOUR' | 'DAY'
  windowMs: number
  algorithm: AlgorithmName
  /** The rule's name in the rules file, when it has one. */
  name?: string
}

export interface DescriptorStatus {
  code: DecisionCode
  /** The matched rule's limit; absent when no rule matched (the descriptor is then always OK). */
  limit?: DescriptorLimit
  remaining: number
  /** Seconds until the quota is fully available again (Envoy's duration_until_reset). */
  resetS: number
  /** Set when the failure policy answered instead of Redis. */
  degraded?: string
}

export interface DecideResponse {
  overall: DecisionCode
  statuses: DescriptorStatus[]
  /** The applied rules version the decision used. */
  rulesVersion?: number
}

/** What the HTTP route and the gRPC server call. Unknown domain → every status OK without a limit. */
export interface DecisionEngine {
  decide(request: DecideRequest): Promise<DecideResponse>
}
