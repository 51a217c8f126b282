/** A promise with its resolve/reject exposed, to control when a fake dependency answers. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (err: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Whether `promise` has settled, after letting every queued callback run. */
export async function settledState(promise: Promise<unknown>): Promise<'pending' | 'fulfilled' | 'rejected'> {
  let state: 'pending' | 'fulfilled' | 'rejected' = 'pending'
  promise.then(
    () => {
      state = 'fulfilled'
    },
    () => {
      state = 'rejected'
    },
  )
  await new Promise((resolve) => setImmediate(resolve))
  return state
}

/** A promise that never settles: a dependency that hangs. */
export function never<T>(): Promise<T> {
  return new Promise<T>(() => {})
}

/** Returns the values in turn, then repeats the last one: a scripted `random`. */
export function sequence(...values: number[]): () => number {
  let i = 0
  return () => values[Math.min(i++, values.length - 1)] as number
}
