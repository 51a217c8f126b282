export { Bulkhead, type BulkheadOptions, type BulkheadStats } from './bulkhead.ts'
export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  type CircuitState,
  type CircuitStateChange,
  type CircuitTransitionReason,
} from './circuit-breaker.ts'
export {
  type Clock,
  ManualClock,
  type Random,
  type Sleep,
  setExpiryTimer,
  sleeper,
  systemClock,
} from './clock.ts'
export { Deadline, type DeadlineOptions, type IfStillTimeOptions, ifStillTime } from './deadline.ts'
export {
  BulkheadFullError,
  CircuitOpenError,
  DeadlineExceededError,
  ResilienceError,
  TimeoutError,
} from './errors.ts'
export { inParallel } from './parallel.ts'
export {
  type AttemptEvent,
  type Backoff,
  backoffDelayMs,
  isRetryableByDefault,
  type RetryContext,
  type RetryPolicy,
  type RetryStop,
  retry,
} from './retry.ts'
export { RetryBudget, type RetryBudgetOptions, type RetryBudgetStats } from './retry-budget.ts'
export { SingleFlight, type SingleFlightOptions, type SingleFlightStats } from './single-flight.ts'
export { type TimeoutOptions, withTimeout } from './timeout.ts'
