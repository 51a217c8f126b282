import { type Clock, setExpiryTimer, systemClock } from './clock.ts'
import { TimeoutError } from './errors.ts'

export interface TimeoutOptions {
  /**
   * A caller's cancellation (a request's {@link Deadline} signal, a closed connection). When it
   * aborts, the call is aborted too and the promise rejects with the signal's reason.
   */
  signal?: AbortSignal
  /** Off switch: `false` sets no timer at all (the call may hang forever); `signal` still works. */
  enabled?: boolean
  clock?: Clock
}

/**
 * Runs `fn` and rejects with a {@link TimeoutError} if it has not settled after `ms`, aborting
 * the signal `fn` received so it can stop its work (a query, a socket read). A call that ignores
 * the signal keeps running in the background; its eventual result is dropped.
 *
 * `ms <= 0` rejects without calling `fn`: there is no time to do anything useful. `Infinity`
 * means no timer.
 */
export function withTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T> | T,
  ms: number,
  options: TimeoutOptions = {},
): Promise<T> {
  const { signal: parent, enabled = true, clock = systemClock } = options
  if (parent?.aborted) return Promise.reject(parent.reason)
  const limited = enabled && Number.isFinite(ms)
  if (limited && ms <= 0) return Promise.reject(new TimeoutError(ms))

  const controller = new AbortController()
  return new Promise<T>((resolve, reject) => {
    let cancelTimer = () => {}
    const finish = () => {
      cancelTimer()
      parent?.removeEventListener('abort', onParentAbort)
    }
    const onParentAbort = () => {
      finish()
      controller.abort(parent?.reason)
      reject(parent?.reason)
    }
    parent?.addEventListener('abort', onParentAbort, { once: true })
    if (limited) {
      cancelTimer = setExpiryTimer(clock, ms, () => {
        finish()
        const err = new TimeoutError(ms)
        controller.abort(err)
        reject(err)
      })
    }
    let result: Promise<T>
    try {
      result = Promise.resolve(fn(controller.signal))
    } catch (err) {
      finish()
      reject(err)
      return
    }
    result.then(
      (value) => {
        finish()
        resolve(value)
      },
      (err: unknown) => {
        finish()
        reject(err)
      },
    )
  })
}
