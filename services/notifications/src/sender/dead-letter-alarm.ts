/**
 * The dead-letter alert, raised by the worker itself rather than left to whoever scrapes it: every
 * half of DEAD_LETTER_ALERT_S the alarm counts the dead letters waiting in `ntf-dead`, and when
 * the count rises it logs one `error` line (the count, and the replay command) — so the alert
 * reaches the logs within DEAD_LETTER_ALERT_S of a job being dead-lettered even when no Prometheus
 * scrapes the worker. The `notifications_dead_letter_alert` gauge reads the same alarm at scrape
 * time. The alert clears (an `info` line) once nothing waits: the dead letters were replayed or
 * removed after review.
 */

export interface DeadLetterAlarmLog {
  info(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface DeadLetterAlarmOptions {
  /** Dead letters waiting for review (DeadLetters.waiting). */
  waiting: () => Promise<number>
  /** DEAD_LETTER_ALERT_S: the alert fires within this long of a dead letter. */
  alertWithinS: number
  log: DeadLetterAlarmLog
}

export class DeadLetterAlarm {
  readonly #o: DeadLetterAlarmOptions
  #waiting = 0
  #timer: NodeJS.Timeout | undefined

  constructor(options: DeadLetterAlarmOptions) {
    this.#o = options
  }

  /** 1 while a dead letter waits unreviewed. */
  get firing(): boolean {
    return this.#waiting > 0
  }

  /** Dead letters waiting at the last check. */
  get waiting(): number {
    return this.#waiting
  }

  /**
   * Counts the dead letters now and logs a rise (one line per rise, not one per check) or the
   * clearing. A failed count keeps the last one: a Redis blip must neither clear nor raise it.
   */
  async check(): Promise<number> {
    const before = this.#waiting
    let now: number
    try {
      now = await this.#o.waiting()
    } catch {
      return before
    }
    this.#waiting = now
    if (now > before) {
      this.#o.log.error(
        { deadLetters: now, added: now - before, queue: 'ntf-dead' },
        'dead-letter alert: deliveries wait for review in ntf-dead (replay with scripts/replay-dead-letters.ts)',
      )
    } else if (now === 0 && before > 0) {
      this.#o.log.info({ deadLetters: 0 }, 'dead-letter alert cleared: nothing waits in ntf-dead')
    }
    return now
  }

  /** Checks every half of the alert's bound until stopped; the timer never keeps the process up. */
  start(): void {
    if (this.#timer !== undefined) return
    const everyMs = Math.max(100, (this.#o.alertWithinS * 1000) / 2)
    this.#timer = setInterval(() => void this.check(), everyMs)
    this.#timer.unref()
    void this.check()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
