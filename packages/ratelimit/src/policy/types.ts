/**
 * What a rule does when Redis is slow or gone. A policy is plain data so a service can build it
 * from config and switches and change it at run time: the guard reads it on every decision.
 */

/** The breaker's settings, in the vocabulary of `@faultline/resilience`'s `CircuitBreaker`. */
export interface BreakerPolicy {
  /** Opens when at least this fraction of the calls in the window failed (0 < x ≤ 1)… */
  failureRateThreshold: number
  /** …and the window holds at least this many calls, so two failures in a quiet second don't open it. */
  minimumRequests: number
  /** Length of the rolling window of outcomes. */
  windowMs: number
  /** Also opens after this many failures in a row (optional). */
  consecutiveFailures?: number
  /** How long it stays open (no Redis calls at all) before one trial call is let through. */
  coolDownMs: number
}

export type RetryPolicy =
  /** One attempt, bounded only by the deadline. */
  | { mode: 'none' }
  /**
   * The naive client of pm06: every attempt gets its own timeout and a failure is retried at once.
   * `attempts` counts every attempt, the first included (5 retries = 6 attempts).
   */
  | { mode: 'immediate'; attempts: number; attemptTimeoutMs: number }
  /**
   * Exponential backoff with full jitter (`backoffDelayMs`), paid for by a retry budget shared by
   * every decision of the rule, so an outage costs Redis at most `1 + ratio` times its normal load.
   */
  | {
      mode: 'backoff'
      attempts: number
      baseMs: number
      capMs: number
      /** Optional per-attempt timeout; without it an attempt is bounded by the deadline only. */
      attemptTimeoutMs?: number
      /** `ratio`: tokens each decision deposits; `maxTokens`: the most saved up (default 10). */
      budget: { ratio: number; maxTokens?: number }
    }

export interface FailurePolicy {
  /**
   * The most a caller waits for Redis, all attempts included; after it the degraded answer is
   * given. `null` means no deadline: the caller waits for every attempt (the naive client).
   */
  deadlineMs: number | null
  /**
   * The degraded answer: `open` admits, `closed` denies, `local` answers from an in-process
   * token bucket holding `localBucket.limitShare` of the rule (1/instances).
   */
  onFailure: 'open' | 'closed' | 'local'
  /** `false`: no breaker; every decision calls Redis however often it fails. */
  breaker: false | BreakerPolicy
  retry: RetryPolicy
  /** Required for `onFailure: 'local'`. */
  localBucket?: { limitShare: number }
}

/**
 * The hardened default: Redis gets 20 ms (the `DECISION_DEADLINE_MS` default, and Envoy's rate
 * limit filter's default timeout: a loaded host's GC pause or busy turn must not turn a healthy
 * Redis into fail-open answers — at 5 ms the benchmark's bursts degraded about 3 %), one retry with
 * jittered backoff at most 10% of decisions can pay for, and a breaker that stops calling a Redis
 * that failed half of 20+ calls in 10 s for 1 s.
 */
export const hardenedFailurePolicy: FailurePolicy = {
  deadlineMs: 20,
  onFailure: 'open',
  breaker: { failureRateThreshold: 0.5, minimumRequests: 20, windowMs: 10_000, coolDownMs: 1_000 },
  retry: { mode: 'backoff', attempts: 2, baseMs: 1, capMs: 4, budget: { ratio: 0.1, maxTokens: 10 } },
}

/**
 * The naive client of pm06 (postmortems: "clients 500 ms timeout, 5 immediate retries"): no
 * deadline, no breaker, fail-open once every attempt failed. A decision may wait 6 × 500 ms.
 */
export const naiveFailurePolicy: FailurePolicy = {
  deadlineMs: null,
  onFailure: 'open',
  breaker: false,
  retry: { mode: 'immediate', attempts: 6, attemptTimeoutMs: 500 },
}

const positive = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0
const positiveInteger = (value: unknown): value is number => Number.isInteger(value) && (value as number) > 0

/**
 * Every problem of `policy`, each naming its field under `path` (`rules[0].failure.deadlineMs
 * must be …`); empty when it is valid. Callers report them all at once.
 */
export function failurePolicyProblems(policy: unknown, path = 'failure'): string[] {
  if (typeof policy !== 'object' || policy === null) return [`${path} must be an object`]
  const p = policy as Record<string, unknown>
  const problems: string[] = []
  if (p.deadlineMs !== null && !positive(p.deadlineMs)) {
    problems.push(`${path}.deadlineMs must be a positive number of milliseconds or null`)
  }
  if (p.onFailure !== 'open' && p.onFailure !== 'closed' && p.onFailure !== 'local') {
    problems.push(`${path}.onFailure must be one of open, closed, local`)
  }
  if (p.onFailure === 'local') {
    const share = (p.localBucket as { limitShare?: unknown } | undefined)?.limitShare
    if (!positive(share) || share > 1) {
      problems.push(`${path}.localBucket.limitShare must be a number in (0, 1] when onFailure is local`)
    }
  }
  problems.push(...breakerProblems(p.breaker, `${path}.breaker`))
  problems.push(...retryProblems(p.retry, `${path}.retry`))
  return problems
}

function breakerProblems(breaker: unknown, path: string): string[] {
  if (breaker === false) return []
  if (typeof breaker !== 'object' || breaker === null) return [`${path} must be false or an object`]
  const b = breaker as Record<string, unknown>
  const problems: string[] = []
  if (!positive(b.failureRateThreshold) || b.failureRateThreshold > 1) {
    problems.push(`${path}.failureRateThreshold must be a number in (0, 1]`)
  }
  if (!positiveInteger(b.minimumRequests)) problems.push(`${path}.minimumRequests must be a positive integer`)
  if (!positive(b.windowMs)) problems.push(`${path}.windowMs must be a positive number`)
  if (!positive(b.coolDownMs)) problems.push(`${path}.coolDownMs must be a positive number`)
  if (b.consecutiveFailures !== undefined && !positiveInteger(b.consecutiveFailures)) {
    problems.push(`${path}.consecutiveFailures must be a positive integer`)
  }
  return problems
}

function retryProblems(retry: unknown, path: string): string[] {
  if (typeof retry !== 'object' || retry === null) return [`${path} must be an object`]
  const r = retry as Record<string, unknown>
  if (r.mode === 'none') return []
  const problems: string[] = []
  if (r.mode !== 'immediate' && r.mode !== 'backoff')
    return [`${path}.mode must be one of none, immediate, backoff`]
  if (!positiveInteger(r.attempts)) problems.push(`${path}.attempts must be a positive integer`)
  if (r.mode === 'immediate' && !positive(r.attemptTimeoutMs)) {
    problems.push(`${path}.attemptTimeoutMs must be a positive number`)
  }
  if (r.mode === 'backoff') {
    if (r.attemptTimeoutMs !== undefined && !positive(r.attemptTimeoutMs)) {
      problems.push(`${path}.attemptTimeoutMs must be a positive number`)
    }
    if (!positive(r.baseMs)) problems.push(`${path}.baseMs must be a positive number`)
    if (!positive(r.capMs)) problems.push(`${path}.capMs must be a positive number`)
    const budget = r.budget as Record<string, unknown> | undefined
    if (
      typeof budget !== 'object' ||
      budget === null ||
      !(typeof budget.ratio === 'number' && budget.ratio >= 0)
    ) {
      problems.push(`${path}.budget.ratio must be a number ≥ 0`)
    } else if (
      budget.maxTokens !== undefined &&
      !(typeof budget.maxTokens === 'number' && budget.maxTokens >= 0)
    ) {
      problems.push(`${path}.budget.maxTokens must be a number ≥ 0`)
    }
  }
  return problems
}
