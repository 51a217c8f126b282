/**
 * Drives N limiter instances (child processes, accuracy-instance.ts), each with its own Redis
 * connection and a skewed wall clock, against one key, and gathers the Redis times of their
 * admissions. Used by accuracy.infra.test.ts (single Redis) and cluster.infra.test.ts.
 */
import { type ChildProcess, fork } from 'node:child_process'
import type { Decision, LimitRule } from '../src/types.ts'

export type InstanceTarget =
  | { kind: 'redis'; url: string }
  | {
      kind: 'cluster'
      nodes: Array<{ host: string; port: number }>
      natMap?: Record<string, { host: string; port: number }>
    }

/** Load from every worker of an instance during each phase, in Redis time (µs). */
export interface LoadPlan {
  key: string
  rule: LimitRule
  phases: Array<{ fromUs: number; toUs: number }>
  /** Decisions in flight per instance. */
  concurrency: number
}

export interface LoadResult {
  /** decidedAtUs of each admission (cost 1). */
  admitted: number[]
  decisions: number
  errors: number
  firstError: string | undefined
}

export type InstanceRequest = { id: number } & (
  | { type: 'init'; target: InstanceTarget; prefix: string; clockOffsetMs: number }
  | { type: 'decide'; key: string; rule: LimitRule; cost: number }
  | { type: 'load'; plan: LoadPlan }
  /** The instance's Date.now(): its skewed wall clock. */
  | { type: 'now' }
  | { type: 'close' }
)
export type InstanceReply = { id: number; result?: unknown; error?: string }

type Payload<T> = T extends unknown ? Omit<T, 'id'> : never

export class Instance {
  readonly clockOffsetMs: number
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  #nextId = 0

  constructor(clockOffsetMs: number) {
    this.clockOffsetMs = clockOffsetMs
    this.#child = fork(new URL('./accuracy-instance.ts', import.meta.url), { stdio: 'inherit' })
    this.#child.on('message', (message) => {
      const reply = message as InstanceReply
      const pending = this.#pending.get(reply.id)
      this.#pending.delete(reply.id)
      if (reply.error !== undefined) pending?.reject(new Error(reply.error))
      else pending?.resolve(reply.result)
    })
    this.#child.on('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`instance exited with ${code}`))
      this.#pending.clear()
    })
  }

  request<T>(payload: Payload<InstanceRequest>): Promise<T> {
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.#child.send({ ...payload, id })
    })
  }

  /** This instance's Date.now(), skewed by its offset. */
  localNowMs(): Promise<number> {
    return this.request({ type: 'now' })
  }

  decide(key: string, rule: LimitRule, cost = 1): Promise<Decision & { decidedAtUs: number }> {
    return this.request({ type: 'decide', key, rule, cost })
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || !this.#child.connected) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    await this.request({ type: 'close' }).catch(() => {})
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
}

/** Wall-clock offsets of the four instances: up to ±5 s, none equal. */
export const clockOffsetsMs = [-5000, -1700, 2300, 5000]

/** Starts one instance per offset, each connected to `target` with a limiter on `prefix`. */
export async function startInstances(
  target: InstanceTarget,
  prefix: string,
  offsetsMs: number[] = clockOffsetsMs,
): Promise<Instance[]> {
  const instances = offsetsMs.map((offset) => new Instance(offset))
  await Promise.all(
    instances.map((i) => i.request({ type: 'init', target, prefix, clockOffsetMs: i.clockOffsetMs })),
  )
  return instances
}

/**
 * The traffic of the correctness test, in Redis time, around the first window boundary B at
 * least `leadMs` away. Every instance hammers the key from `edgeMs` before B for two windows
 * (steady overload), stays quiet for most of the third, then hammers from `edgeMs` before the
 * third boundary to `edgeMs` after it. Both bursts start at the end of a window with its quota
 * unused: the worst case of the two window approximations — a fixed window admits its quota
 * twice within 2 × edgeMs, and the sliding-window counter, which assumes the previous window's
 * admissions were spread evenly, admits nearly a second quota over the next window.
 */
export function correctnessPhases(nowUs: number, windowMs: number, leadMs = 400, edgeMs = 150) {
  const windowUs = windowMs * 1000
  const edgeUs = edgeMs * 1000
  const boundaryUs = Math.ceil((nowUs + leadMs * 1000) / windowUs) * windowUs
  const lastBoundaryUs = boundaryUs + 3 * windowUs
  return [
    { fromUs: boundaryUs - edgeUs, toUs: boundaryUs + 2 * windowUs },
    { fromUs: lastBoundaryUs - edgeUs, toUs: lastBoundaryUs + edgeUs },
  ]
}

/** Runs `plan` on every instance at once; admissions merged and sorted. */
export async function runLoad(instances: Instance[], plan: LoadPlan): Promise<LoadResult> {
  const results = await Promise.all(instances.map((i) => i.request<LoadResult>({ type: 'load', plan })))
  return {
    admitted: results.flatMap((r) => r.admitted).sort((a, b) => a - b),
    decisions: results.reduce((n, r) => n + r.decisions, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError,
  }
}
