/**
 * The one mapping from a rule's failure policy name (`open`, `closed`, `local`, from a rules file or
 * GATEWAY_FAILURE_POLICY) and the live switches to the library's `FailurePolicy`. The decision
 * service and the gateway both call it on every switch change, so "naive" means the same client in
 * both: every switch off gives pm06's naive client (no deadline, 6 attempts of 500 ms each, no
 * breaker, fail-open), every switch on the hardened one.
 */
import { type FailurePolicy, hardenedFailurePolicy, naiveFailurePolicy } from '@faultline/ratelimit'
import type { Mitigations } from './mitigations.ts'
import type { FailurePolicyName } from './rules/schema.ts'

export interface FailurePolicyOptions {
  /** DECISION_DEADLINE_MS: what a caller waits for Redis while decisionDeadline is on. */
  deadlineMs: number
  /** Instances sharing the limit: each local bucket holds 1/instances of the rule. */
  instances: number
}

type PolicySwitches = Pick<
  Mitigations,
  'decisionDeadline' | 'retryBackoff' | 'circuitBreaker' | 'localFallback'
>

export function failurePolicyFor(
  name: FailurePolicyName,
  switches: PolicySwitches,
  options: FailurePolicyOptions,
): FailurePolicy {
  // Without the local bucket a `local` rule falls back to what the naive client does: admit.
  const onFailure = name === 'local' && !switches.localFallback ? 'open' : name
  return {
    deadlineMs: switches.decisionDeadline ? options.deadlineMs : naiveFailurePolicy.deadlineMs,
    onFailure,
    breaker: switches.circuitBreaker ? hardenedFailurePolicy.breaker : false,
    retry: switches.retryBackoff ? hardenedFailurePolicy.retry : naiveFailurePolicy.retry,
    ...(onFailure === 'local' ? { localBucket: { limitShare: 1 / Math.max(1, options.instances) } } : {}),
  }
}
