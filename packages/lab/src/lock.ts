/**
 * One lab run at a time on this machine: two runs' faults on the shared infra would collide
 * (one run's Postgres stop is the other's mystery outage). The lock is a pidfile; a stale one
 * (its process gone) is taken over.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { labStateDir } from './paths.ts'

/** Take the lock or throw naming the run that holds it; returns the release. */
export function acquireLock(): () => void {
  mkdirSync(labStateDir, { recursive: true })
  const file = join(labStateDir, 'run.lock')
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim())
    let alive = false
    try {
      if (pid > 0) process.kill(pid, 0)
      alive = pid > 0
    } catch {}
    if (alive && pid !== process.pid) {
      throw new Error(
        `another lab run is in progress (pid ${pid}); its faults would collide with this one (${file})`,
      )
    }
  }
  writeFileSync(file, String(process.pid))
  return () => rmSync(file, { force: true })
}
