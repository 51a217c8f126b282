/**
 * Time as the primitives see it. Injecting it is what makes their tests deterministic: a test
 * passes a {@link ManualClock} and moves time by hand instead of sleeping.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences are meaningful. */
  now(): number
  /**
   * Calls `callback` once after `ms` and returns a function that cancels it. `unref` lets the
   * process exit while the timer is pending (used for deadlines that usually never fire).
   */
  setTimer(ms: number, callback: () => void, options?: { unref?: boolean }): () => void
}

/** Node's `setTimeout` stores delays in a signed 32-bit int and fires at once above it. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The real clock: `performance.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, callback, options) {
    // A delay this long (≈ 24 days) is "never" for a request; not scheduling it avoids the
    // overflow above.
    if (!(ms <= MAX_TIMER_MS)) return () => {}
    const timer = setTimeout(callback, Math.max(0, ms))
    if (options?.unref) timer.unref()
    return () => clearTimeout(timer)
  },
}

/**
 * A timer for a time limit (a timeout, a deadline): `clock.setTimer`, except that on the system
 * clock the callback first lets the I/O that was already readable when the timer fired be read
 * (one `setImmediate`). After a GC pause or a long turn of the event loop, Node runs due timers
 * before it polls sockets, so a reply that arrived in time but was not read yet would otherwise be
 * judged late: in the ratelimit benchmark about 3 % of 5 ms decisions on a healthy Redis were.
 */
export function setExpiryTimer(
  clock: Clock,
  ms: number,
  callback: () => void,
  options?: { unref?: boolean },
): () => void {
  if (clock !== systemClock) return clock.setTimer(ms, callback, options)
  let pending: NodeJS.Immediate | undefined
  const cancel = clock.setTimer(
    ms,
    () => {
      pending = setImmediate(callback)
      if (options?.unref) pending.unref()
    },
    options,
  )
  return () => {
    cancel()
    if (pending) clearImmediate(pending)
  }
}

/** Random numbers in [0, 1), injectable for the same reason as the clock. */
export type Random = () => number

/** A sleep that rejects with the signal's reason when the signal aborts first. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>

/** A {@link Sleep} on the given clock. */
export function sleeper(clock: Clock = systemClock): Sleep {
  return (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason)
      const onAbort = () => {
        cancel()
        reject(signal?.reason)
      }
      const cancel = clock.setTimer(ms, () => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
}

interface ManualTimer {
  atMs: number
  seq: number
  callback: () => void
}

/**
 * A clock that only moves when told to. `advance(ms)` fires the timers that fall due in order,
 * letting promise callbacks run after each one, so code awaiting a sleep or a timeout behaves
 * as it would in real time, instantly and the same way every run. Exported for the tests of the
 * services that use these primitives too.
 */
export class ManualClock implements Clock {
  #nowMs: number
  #seq = 0
  #timers: ManualTimer[] = []

  constructor(startMs = 0) {
    this.#nowMs = startMs
  }

  now(): number {
    return this.#nowMs
  }

  setTimer(ms: number, callback: () => void): () => void {
    const timer = { atMs: this.#nowMs + Math.max(0, ms), seq: this.#seq++, callback }
    if (Number.isFinite(timer.atMs)) this.#timers.push(timer)
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer)
    }
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.length
  }

  /** Moves time forward by `ms`, firing due timers in order (ties in creation order). */
  async advance(ms: number): Promise<void> {
    const targetMs = this.#nowMs + ms
    await settle()
    for (;;) {
      const next = this.#timers
        .filter((t) => t.atMs <= targetMs)
        .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)[0]
      if (!next) break
      this.#timers = this.#timers.filter((t) => t !== next)
      this.#nowMs = next.atMs
      next.callback()
      await settle()
    }
    this.#nowMs = targetMs
    await settle()
  }
}

/** Lets every queued promise callback run (they all run before the next macrotask). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
