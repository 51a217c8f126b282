/**
 * Readiness: "should a load balancer send this process traffic now?". Unlike liveness, it may
 * depend on other components, but only explicitly: each dependency is a check a service adds
 * (and may remove at run time), because making readiness depend on a shared database is exactly
 * how one slow Postgres takes every replica out of rotation at once (pm03).
 */
import { KitReadinessTimeoutError } from './errors.ts'

/** Resolves when the dependency is usable; rejects (or is aborted by the timeout) when not. */
export type ReadinessCheck = (signal: AbortSignal) => Promise<unknown>

export interface ReadinessCheckOptions {
  /** How long the check may take before it counts as failed. Defaults to the service's. */
  timeoutMs?: number
}

export interface CheckResult {
  ok: boolean
  durationMs: number
  /** Why it failed, e.g. `connect ECONNREFUSED 127.0.0.1:25432`. */
  error?: string
}

export interface ReadinessReport {
  ready: boolean
  /** Names of the failing checks, in registration order. */
  failing: string[]
  checks: Record<string, CheckResult>
}

export interface Readiness {
  /** Adds (or replaces) the check called `name`. */
  add(name: string, check: ReadinessCheck, options?: ReadinessCheckOptions): void
  /** Removes the check called `name`; true if there was one. */
  remove(name: string): boolean
  names(): string[]
  /** Runs every check in parallel, each under its timeout. */
  run(): Promise<ReadinessReport>
}

export function createReadiness(defaultTimeoutMs = 1000): Readiness {
  const checks = new Map<string, { check: ReadinessCheck; timeoutMs: number }>()
  return {
    add(name, check, options = {}) {
      checks.set(name, { check, timeoutMs: options.timeoutMs ?? defaultTimeoutMs })
    },
    remove: (name) => checks.delete(name),
    names: () => [...checks.keys()],
    async run() {
      const entries = [...checks.entries()]
      const results = await Promise.all(
        entries.map(([name, { check, timeoutMs }]) => runCheck(name, check, timeoutMs)),
      )
      const report: ReadinessReport = { ready: true, failing: [], checks: {} }
      entries.forEach(([name], index) => {
        const result = results[index] as CheckResult
        report.checks[name] = result
        if (!result.ok) {
          report.ready = false
          report.failing.push(name)
        }
      })
      return report
    },
  }
}

async function runCheck(name: string, check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  const controller = new AbortController()
  const startedAt = performance.now()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new KitReadinessTimeoutError(name, timeoutMs)
      controller.abort(error)
      reject(error)
    }, timeoutMs)
  })
  try {
    await Promise.race([Promise.resolve().then(() => check(controller.signal)), timeout])
    return { ok: true, durationMs: elapsedMs(startedAt) }
  } catch (err) {
    return { ok: false, durationMs: elapsedMs(startedAt), error: describe(err) }
  } finally {
    clearTimeout(timer)
  }
}

const elapsedMs = (startedAt: number) => Math.round((performance.now() - startedAt) * 10) / 10

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describe(err.errors[0])
  if (err instanceof Error) return err.message || err.name
  return String(err)
}
