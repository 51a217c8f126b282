/**
 * The soak's two activities (scripts/soak.ts): posting notifications at a bounded rate, and
 * SIGKILLing the channel worker every few seconds, restarting it at once.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { postNotification } from '../../bench/e2e-runs.ts'
import type { NotificationProcesses } from '../bench-target.ts'
import type { Channel } from '../types.ts'

export interface Posted {
  ids: string[]
  /** Requests without a 202 (a 5xx, a timeout): not accepted as far as the client knows. */
  failed: number
  seconds: number
}

/**
 * `count` notifications (a fresh Idempotency-Key each), one every 1/rate s at most, with at most
 * `concurrency` in flight (when the API is slower, the offered rate drops to what it answers).
 */
export async function postAtRate(o: {
  baseUrl: string
  recipients: readonly string[]
  channels: readonly Channel[]
  count: number
  rate: number
  concurrency: number
  log: (line: string) => void
}): Promise<Posted> {
  const ids: string[] = []
  let failed = 0
  let inFlight = 0
  let lastLog = Date.now()
  const started = Date.now()
  const slotFreed: (() => void)[] = []
  for (let i = 0; i < o.count; i++) {
    const wait = started + (i * 1000) / o.rate - Date.now()
    if (wait > 0) await sleep(wait)
    while (inFlight >= o.concurrency) await new Promise<void>((resolve) => slotFreed.push(resolve))
    inFlight++
    void postNotification(o.baseUrl, {
      recipientId: o.recipients[i % o.recipients.length] as string,
      channels: o.channels,
    }).then((id) => {
      if (id === undefined) failed++
      else ids.push(id)
      inFlight--
      slotFreed.shift()?.()
    })
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now()
      o.log(`  ${i + 1} posted, ${ids.length} accepted, ${failed} failed`)
    }
  }
  while (inFlight > 0) await new Promise<void>((resolve) => slotFreed.push(resolve))
  return { ids, failed, seconds: (Date.now() - started) / 1000 }
}

export interface Kills {
  kills: number
  /** Mean ms from the SIGKILL to the new worker's /readyz. */
  meanRestartMs: number | null
}

/**
 * `everyMs` after each worker is ready: SIGKILL it (no shutdown: its jobs stay locked until BullMQ's
 * stall check gives them to another worker) and start a new one at once — so a cycle is `everyMs`
 * plus the restart (Node's start, the connections, /readyz: ≈ 3–4 s on the lab machine). `stop()`
 * ends the loop with a worker running and returns the count.
 */
export function workerKiller(sys: NotificationProcesses, everyMs: number, log: (line: string) => void) {
  let stopped = false
  let kills = 0
  let restartMsSum = 0
  const loop = (async () => {
    while (!stopped) {
      await sleep(everyMs)
      if (stopped) break
      const victim = sys.roles.worker.child
      const killedAt = Date.now()
      victim.process.kill('SIGKILL')
      await victim.exited
      kills++
      try {
        sys.roles.worker = await sys.startRole('worker', `notifications-worker-${kills}`)
        restartMsSum += Date.now() - killedAt
      } catch (err) {
        log(`  restarting the worker failed: ${(err as Error).message}; trying again`)
        sys.roles.worker = await sys.startRole('worker', `notifications-worker-${kills}b`)
      }
    }
  })()
  return {
    async stop(): Promise<Kills> {
      stopped = true
      await loop
      return { kills, meanRestartMs: kills > 0 ? restartMsSum / kills : null }
    },
  }
}
