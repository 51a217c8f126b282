/**
 * When the decision service and the gateway admitted, read from Redis. Neither process has a bench
 * hook (the candidate servers note their admissions, `RECORD_ADMITTED`; the real services do not),
 * but their exact algorithm keeps the record itself: a sliding log holds one member per admitted
 * unit, scored by the Redis time of the decision (µs), until it is a window old. Reading every log
 * under the run's key prefix more often than once per window (every 200 ms against 1 s) sees each
 * member at least once, and the union of what was seen is every admission, timed by Redis — the
 * clock the candidate servers' notes for our plugin use too, and one no client-side delay moves.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { escapeGlob } from '@faultline/infra'
import { Redis } from 'ioredis'

export class SlidingLogRecorder {
  readonly #redis: Redis
  readonly #pattern: string
  readonly #everyMs: number
  /** `<key>\0<member>` → the member's score in ms. */
  readonly #seen = new Map<string, number>()
  #running: Promise<void> | undefined
  #stopped = false
  #result: Promise<number[]> | undefined

  /** Records every sliding log under `keyPrefix` (a run's own REDIS_KEY_PREFIX). */
  constructor(redisUrl: string, keyPrefix: string, everyMs = 200) {
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true })
    this.#pattern = `${escapeGlob(keyPrefix)}*{sliding-log:*}:log`
    this.#everyMs = everyMs
  }

  start(): void {
    this.#running = (async () => {
      await this.#redis.connect()
      while (!this.#stopped) {
        await this.#poll()
        await sleep(this.#everyMs)
      }
    })()
  }

  /** Stops polling after one last read; every admission seen, in ms of Redis time, sorted. */
  stop(): Promise<number[]> {
    this.#result ??= this.#finish()
    return this.#result
  }

  async #finish(): Promise<number[]> {
    this.#stopped = true
    try {
      await this.#running
      await this.#poll()
    } finally {
      this.#redis.disconnect()
    }
    return [...this.#seen.values()].sort((a, b) => a - b)
  }

  async #poll(): Promise<void> {
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, found] = await this.#redis.scan(cursor, 'MATCH', this.#pattern, 'COUNT', 1000)
      cursor = next
      keys.push(...found)
    } while (cursor !== '0')
    for (const key of keys) {
      const flat = await this.#redis.zrange(key, '0', '-1', 'WITHSCORES')
      for (let i = 0; i + 1 < flat.length; i += 2) {
        this.#seen.set(`${key}\u0000${flat[i]}`, Number(flat[i + 1]) / 1000)
      }
    }
  }
}
