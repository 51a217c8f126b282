/**
 * The switches the ratelimiter's chaos experiments flip, declared once (see the shortener's
 * `mitigations.ts` for how the kit and the lab use a manifest). "Naive" is every switch of an
 * experiment off; the defaults here are the hardened service.
 */
import { defineSwitches, type SwitchName, SwitchState, type SwitchValues } from '@faultline/kit/switches'

export const switches = defineSwitches({
  decisionDeadline: {
    description:
      "a decision waits for Redis at most DECISION_DEADLINE_MS, then the rule's failure policy answers (fail-open, fail-closed or the local bucket); off = the naive client: a 500 ms timeout and 5 immediate retries",
    default: true,
    defends: ['pm06', 'pm19'],
  },
  retryBackoff: {
    description:
      'a failed Redis call is retried with exponential backoff, full jitter and a retry budget (at most 10% extra attempts); off = immediate retries',
    default: true,
    defends: ['pm06'],
  },
  circuitBreaker: {
    description:
      'after repeated Redis failures decisions stop calling Redis for a cool-down and use the failure policy',
    default: true,
    defends: ['pm06', 'pm19'],
  },
  localFallback: {
    description:
      'while Redis is unreachable a rule with failure policy "local" answers from an in-process bucket of limit/instances, so admission stays bounded',
    default: true,
    defends: ['pm19'],
  },
  rulesCompareAndSet: {
    description:
      'a rules applier writes a ruleset in one atomic script only if its generation is newer than the applied one; off = delete then write, unconditionally',
    default: true,
    defends: ['pm07'],
  },
})

export type MitigationName = SwitchName<typeof switches>
export type Mitigations = SwitchValues<typeof switches>
export type MitigationState = SwitchState<MitigationName>
export { SwitchState }
