export interface SingleFlightOptions {
  /** Off switch: `false` runs `fn` for every caller (each miss hits the database: pm10's stampede). */
  enabled?: boolean
  /** Called for every `do()`, for a leaders/followers counter. */
  onEvent?: (event: { role: 'leader' | 'follower' | 'bypass' }) => void
}

export interface SingleFlightStats {
  /** Calls that ran `fn`. */
  leaders: number
  /** Calls that joined a call already in flight. */
  followers: number
  /** Calls made while disabled (each ran `fn`). */
  bypassed: number
  inFlight: number
}

/**
 * Go's `singleflight`: concurrent `do(key, fn)` calls for one key share a single execution of
 * `fn`, so a hot cache key that expires costs one database query instead of one per waiting
 * request (pm10, pm02). The result, value or error, goes to every caller of that flight; the key
 * is released when it settles, so the next call after a failure tries again.
 *
 * It only merges calls that overlap in time; it caches nothing.
 */
export class SingleFlight<K, V> {
  enabled: boolean
  readonly #onEvent: SingleFlightOptions['onEvent']
  readonly #flights = new Map<K, Promise<V>>()
  #leaders = 0
  #followers = 0
  #bypassed = 0

  constructor(options: SingleFlightOptions = {}) {
    this.enabled = options.enabled ?? true
    this.#onEvent = options.onEvent
  }

  do(key: K, fn: () => Promise<V> | V): Promise<V> {
    if (!this.enabled) {
      this.#bypassed++
      this.#onEvent?.({ role: 'bypass' })
      return invoke(fn)
    }
    const existing = this.#flights.get(key)
    if (existing) {
      this.#followers++
      this.#onEvent?.({ role: 'follower' })
      return existing
    }
    this.#leaders++
    this.#onEvent?.({ role: 'leader' })
    const flight = invoke(fn).finally(() => {
      // A forget() and a new leader may have replaced this flight meanwhile: leave theirs alone.
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
    })
    this.#flights.set(key, flight)
    return flight
  }

  /** Lets the next `do(key)` start a new flight even while the current one is still running. */
  forget(key: K): void {
    this.#flights.delete(key)
  }

  has(key: K): boolean {
    return this.#flights.has(key)
  }

  stats(): SingleFlightStats {
    return {
      leaders: this.#leaders,
      followers: this.#followers,
      bypassed: this.#bypassed,
      inFlight: this.#flights.size,
    }
  }
}

/** Calls `fn`, turning a synchronous throw into a rejection. */
function invoke<V>(fn: () => Promise<V> | V): Promise<V> {
  try {
    return Promise.resolve(fn())
  } catch (err) {
    return Promise.reject(err)
  }
}
