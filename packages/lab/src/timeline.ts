/**
 * The timeline scheduler: fires each fault's action at its second (relative to the load start),
 * heals it at `until`, and — whatever happens — heals every fault still active when it stops.
 * Time comes from an injected clock so the ordering logic is tested without waiting.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { extendContext, type LabContext } from './context.ts'
import type { Fault } from './experiment.ts'
import type { Action, ActionResult, Heal, HealReason } from './faults/action.ts'

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number
  /** Resolves after `ms`; rejects with an AbortError when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(Math.max(0, ms), undefined, { signal }),
}

export interface Step {
  atS: number
  kind: 'inject' | 'heal'
  fault: number
  occurrence: number
  label: string
}

/** A fault's span for the chart and for invariant windows. Instant faults have fromS = toS. */
export interface FaultWindow {
  fault: number
  label: string
  fromS: number
  toS: number
  /** Seconds at which the action fires (one, or one per repetition of `every`). */
  firesS: number[]
}

export function faultLabel(fault: Fault): string {
  return fault.label ?? fault.action.describe
}

/** Every inject and heal, in firing order; on the same second heals go first. */
export function planTimeline(faults: Fault[]): Step[] {
  const steps: Step[] = []
  faults.forEach((fault, index) => {
    const label = faultLabel(fault)
    if (fault.every !== undefined && fault.until !== undefined) {
      let occurrence = 0
      for (let t = fault.at; t < fault.until - 1e-9; t = fault.at + ++occurrence * fault.every) {
        steps.push({ atS: t, kind: 'inject', fault: index, occurrence, label })
        if (fault.hold !== undefined)
          steps.push({ atS: t + fault.hold, kind: 'heal', fault: index, occurrence, label })
      }
      return
    }
    steps.push({ atS: fault.at, kind: 'inject', fault: index, occurrence: 0, label })
    if (fault.until !== undefined)
      steps.push({ atS: fault.until, kind: 'heal', fault: index, occurrence: 0, label })
  })
  const rank = (s: Step) => (s.kind === 'heal' ? 0 : 1)
  return steps.sort(
    (a, b) => a.atS - b.atS || rank(a) - rank(b) || a.fault - b.fault || a.occurrence - b.occurrence,
  )
}

export function faultWindows(faults: Fault[]): FaultWindow[] {
  const steps = planTimeline(faults)
  return faults.map((fault, index) => {
    const firesS = steps.filter((s) => s.fault === index && s.kind === 'inject').map((s) => s.atS)
    const toS = fault.until ?? fault.at
    return { fault: index, label: faultLabel(fault), fromS: fault.at, toS, firesS }
  })
}

export type EventStatus = 'started' | 'ok' | 'failed'

export interface TimelineEvent {
  /** The fault's timeline index; negative for a fault injected from setup (`ctx.inject`). */
  fault: number
  occurrence: number
  label: string
  phase: 'inject' | 'heal'
  status: EventStatus
  /** When it fired, seconds since the load start (actual, not planned; negative before it). */
  tS: number
  plannedS: number
  /** How long the action or heal took, once it finished. */
  tookMs?: number
  note?: string
  /** `until` or `cleanup` for heals. */
  reason?: HealReason
}

export interface TimelineOptions {
  faults: Fault[]
  context: LabContext
  clock?: Clock
  /** Called when something fires (status `started`) and when it finishes (`ok` / `failed`). */
  onEvent?: (event: TimelineEvent) => void
  /** How long `stop()` waits for an action still running before it aborts it. Default 10 s. */
  graceMs?: number
}

interface Active {
  step: Step
  result: Promise<ActionResult | undefined>
}

/**
 * Runs the plan from `start()` (time zero) until every step fired or `stop()` is called.
 * `stop()` is idempotent, never throws, and heals every active fault in reverse order.
 */
export class Timeline {
  readonly events: TimelineEvent[] = []
  private readonly steps: Step[]
  private readonly clock: Clock
  private readonly loop = new AbortController()
  private readonly actions = new AbortController()
  private readonly active = new Map<string, Active>()
  /** Faults injected outside the plan (from setup), addressed by negative indexes -1, -2 … */
  private readonly injected: Fault[] = []
  private readonly inflight = new Set<Promise<unknown>>()
  private startMs = 0
  private running: Promise<void> | undefined
  private stopped: Promise<void> | undefined
  private readonly options: TimelineOptions

  constructor(options: TimelineOptions) {
    this.options = options
    this.steps = planTimeline(options.faults)
    this.clock = options.clock ?? realClock
    // Until `start()`, time counts from construction; start moves zero to the load's start.
    this.startMs = this.clock.now()
  }

  /** Seconds since start, as the timeline sees them. */
  elapsedS(): number {
    return (this.clock.now() - this.startMs) / 1000
  }

  start(): Promise<void> {
    const now = this.clock.now()
    // Events before the start (faults injected from setup) keep their time, now before zero.
    const shiftS = (now - this.startMs) / 1000
    for (const e of this.events) {
      e.tS -= shiftS
      e.plannedS -= shiftS
    }
    this.startMs = now
    this.running = this.runLoop()
    return this.running
  }

  private async runLoop(): Promise<void> {
    for (const step of this.steps) {
      const waitMs = this.startMs + step.atS * 1000 - this.clock.now()
      if (this.loop.signal.aborted) return
      if (waitMs > 0) {
        try {
          await this.clock.sleep(waitMs, this.loop.signal)
        } catch {
          return
        }
      }
      if (this.loop.signal.aborted) return
      if (step.kind === 'inject') this.fire(step)
      else this.track(this.heal(step, 'until'))
    }
  }

  private key(step: Pick<Step, 'fault' | 'occurrence'>): string {
    return `${step.fault}:${step.occurrence}`
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inflight.add(promise)
    promise.finally(() => this.inflight.delete(promise)).catch(() => {})
    return promise
  }

  private emit(event: TimelineEvent): void {
    if (event.status !== 'started') this.events.push(event)
    this.options.onEvent?.(event)
  }

  /**
   * Fire `action` now, outside the plan: recorded like a planned fault, healed when the timeline
   * stops. Rejects when the action fails (it is recorded as failed too), and once `stop()` was
   * called: nothing would heal the fault then.
   */
  async inject(action: Action, label = action.describe): Promise<void> {
    if (this.stopped)
      throw new Error(
        `cannot inject "${label}": the mode's faults were already healed (inject from setup, not after the run)`,
      )
    this.injected.push({ at: 0, action, label })
    const index = -this.injected.length
    const result = this.fire({ atS: this.elapsedS(), kind: 'inject', fault: index, occurrence: 0, label })
    await result
    const failed = this.events.find((e) => e.fault === index && e.phase === 'inject' && e.status === 'failed')
    if (failed) throw new Error(`${label}: ${failed.note}`)
  }

  private faultAt(index: number): Fault | undefined {
    return index >= 0 ? this.options.faults[index] : this.injected[-index - 1]
  }

  private fire(step: Step): Promise<ActionResult | undefined> | undefined {
    const fault = this.faultAt(step.fault)
    if (!fault) return undefined
    const base = {
      fault: step.fault,
      occurrence: step.occurrence,
      label: step.label,
      phase: 'inject' as const,
      tS: this.elapsedS(),
      plannedS: step.atS,
    }
    this.emit({ ...base, status: 'started' })
    const began = this.clock.now()
    const result = fault.action
      .run(extendContext(this.options.context, { signal: this.actions.signal }))
      .then((r) => {
        this.emit({ ...base, status: 'ok', tookMs: this.clock.now() - began, note: r?.note })
        return r
      })
      .catch((err: unknown) => {
        this.emit({ ...base, status: 'failed', tookMs: this.clock.now() - began, note: errorText(err) })
        return undefined
      })
    this.track(result)
    this.active.set(this.key(step), { step, result })
    return result
  }

  private async heal(
    step: Pick<Step, 'fault' | 'occurrence'>,
    reason: HealReason,
    plannedS?: number,
  ): Promise<void> {
    const active = this.active.get(this.key(step))
    if (!active) return
    this.active.delete(this.key(step))
    const result = await active.result
    const heal: Heal | undefined = result?.heal
    if (!heal) return
    const base = {
      fault: step.fault,
      occurrence: step.occurrence,
      label: active.step.label,
      phase: 'heal' as const,
      tS: this.elapsedS(),
      plannedS: plannedS ?? this.elapsedS(),
      reason,
    }
    this.emit({ ...base, status: 'started' })
    const began = this.clock.now()
    try {
      const note = await heal(reason)
      this.emit({ ...base, status: 'ok', tookMs: this.clock.now() - began, note })
    } catch (err) {
      this.emit({ ...base, status: 'failed', tookMs: this.clock.now() - began, note: errorText(err) })
    }
  }

  /**
   * Stop firing, then heal what is still active (last injected first). An action still running
   * after `graceMs` is aborted through its signal (a blocked SQL statement is cancelled).
   */
  stop(): Promise<void> {
    this.stopped ??= this.doStop()
    return this.stopped
  }

  private async doStop(): Promise<void> {
    this.loop.abort()
    await this.running?.catch(() => {})
    const graceMs = this.options.graceMs ?? 10_000
    const timeout = new AbortController()
    const deadline = this.clock.sleep(graceMs, timeout.signal).then(
      () => this.actions.abort(),
      () => {},
    )
    const remaining = [...this.active.values()].reverse()
    for (const { step } of remaining) await this.heal(step, 'cleanup')
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
    timeout.abort()
    await deadline
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
