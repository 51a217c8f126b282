/**
 * Every rejection a primitive makes on its own (as opposed to passing on the error of the
 * wrapped call) is a `ResilienceError` with a `RESILIENCE_ERR_*` code, so a service's error
 * handler can map them to HTTP statuses in one place (timeout → 504, open circuit and full
 * bulkhead → 503) and metrics can label them.
 */
export class ResilienceError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** The call did not settle within its time limit; the signal given to it was aborted. */
export class TimeoutError extends ResilienceError {
  override name = 'TimeoutError'
  readonly timeoutMs: number

  constructor(timeoutMs: number, message = `timed out after ${timeoutMs} ms`) {
    super('RESILIENCE_ERR_TIMEOUT', message)
    this.timeoutMs = timeoutMs
  }
}

/**
 * The request's {@link Deadline} passed. A subclass of {@link TimeoutError} so one
 * `instanceof TimeoutError` catches both a local timeout and an exhausted budget, but with its
 * own code because the remedy differs: a deadline error must not be retried (the caller has
 * already given up), a local timeout may be.
 */
export class DeadlineExceededError extends TimeoutError {
  override name = 'DeadlineExceededError'
  override readonly code = 'RESILIENCE_ERR_DEADLINE_EXCEEDED'

  constructor(message = 'deadline exceeded') {
    super(0, message)
  }
}

/** The breaker is open (or half-open with every trial permit taken) and failed the call fast. */
export class CircuitOpenError extends ResilienceError {
  override name = 'CircuitOpenError'
  readonly breaker: string
  /** How long until the breaker lets a trial call through; 0 when half-open. */
  readonly retryAfterMs: number

  constructor(breaker: string, retryAfterMs: number) {
    super('RESILIENCE_ERR_CIRCUIT_OPEN', `circuit ${breaker} is open`)
    this.breaker = breaker
    this.retryAfterMs = retryAfterMs
  }
}

/** Every slot of the bulkhead and every place in its queue is taken: the call was shed. */
export class BulkheadFullError extends ResilienceError {
  override name = 'BulkheadFullError'
  readonly bulkhead: string

  constructor(bulkhead: string) {
    super('RESILIENCE_ERR_BULKHEAD_FULL', `bulkhead ${bulkhead} is full`)
    this.bulkhead = bulkhead
  }
}
