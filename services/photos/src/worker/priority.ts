/**
 * The worker's CPU priority (WORKER_NICE): image work yields a core to the API on a host they
 * share, so uploads are acknowledged at idle speed while a backlog drains (the ack-during-drain
 * benchmark). Done with nice rather than fewer job slots: the worker still uses every idle cycle.
 */
import { readdirSync } from 'node:fs'
import { getPriority, setPriority } from 'node:os'

/**
 * Lowers this process's CPU priority. On Linux a nice value belongs to a thread, and a new thread
 * takes its creator's: the threads that exist already (libuv's pool, where sharp runs its
 * pipelines, and the libvips threads loaded with sharp) are lowered one by one, and the processor
 * threads started later inherit it. The API keeps the default, and gets a core first when both
 * want one.
 */
export function lowerPriority(nice: number, log: { warn(obj: object, msg: string): void }): void {
  if (nice === 0) return
  let threads: number[]
  try {
    threads = readdirSync('/proc/self/task').map(Number)
  } catch {
    threads = [0] // not Linux: the calling thread, which is the process elsewhere
  }
  for (const tid of threads) {
    try {
      setPriority(tid, Math.max(getPriority(tid), nice))
    } catch (err) {
      log.warn({ err, tid, nice }, 'could not lower a thread of the worker; it runs at its priority')
    }
  }
}
