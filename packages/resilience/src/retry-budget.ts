export interface RetryBudgetOptions {
  /**
   * Tokens each first attempt deposits (default 0.1): in steady state retries are capped at this
   * fraction of requests, so a failing dependency sees at most `1 + ratio` times its normal load
   * instead of `maxAttempts` times.
   */
  ratio?: number
  /** Cap on saved tokens (default 10), which bounds the burst of retries after a quiet period. */
  maxTokens?: number
  /** Tokens at start (default `maxTokens`), so the first failures of a fresh process can retry. */
  initialTokens?: number
}

export interface RetryBudgetStats {
  tokens: number
  /** Retries the budget paid for. */
  withdrawn: number
  /** Retries refused because the bucket was empty. */
  refused: number
}

/**
 * A token bucket shared by every call to one dependency (Finagle's RetryBudget, gRPC's retry
 * throttling): first attempts deposit `ratio` tokens, each retry withdraws one, and with no
 * whole token left a failure is returned instead of retried. Per-call retry limits multiply load
 * during an outage (pm06); a shared budget keeps the total bounded whatever the failure rate.
 */
export class RetryBudget {
  readonly ratio: number
  readonly maxTokens: number
  #tokens: number
  #withdrawn = 0
  #refused = 0

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.1
    this.maxTokens = options.maxTokens ?? 10
    if (!(this.ratio >= 0) || !(this.maxTokens >= 0)) throw new RangeError('ratio and maxTokens must be ≥ 0')
    this.#tokens = Math.min(this.maxTokens, options.initialTokens ?? this.maxTokens)
  }

  /** Records a first attempt. */
  deposit(): void {
    this.#tokens = Math.min(this.maxTokens, this.#tokens + this.ratio)
  }

  /** Takes one token for a retry; false (and no retry) when there is not a whole one. */
  tryWithdraw(): boolean {
    // The epsilon keeps ten deposits of 0.1 worth one retry despite floating-point sums.
    if (this.#tokens < 1 - 1e-9) {
      this.#refused++
      return false
    }
    this.#tokens = Math.max(0, this.#tokens - 1)
    this.#withdrawn++
    return true
  }

  get tokens(): number {
    return this.#tokens
  }

  stats(): RetryBudgetStats {
    return { tokens: this.#tokens, withdrawn: this.#withdrawn, refused: this.#refused }
  }
}
