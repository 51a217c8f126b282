import { linkSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { InfraContext } from './component.ts'
import { isAlive, readPidFile } from './process.ts'

/**
 * One `up`/`down` at a time per state dir: two test runs calling `infra up` together must not both
 * run initdb. A lock left by a dead process is taken over.
 */
export async function withInfraLock<T>(
  ctx: InfraContext,
  fn: () => Promise<T>,
  timeoutMs = 20 * 60_000,
): Promise<T> {
  mkdirSync(ctx.stateDir, { recursive: true })
  const file = join(ctx.stateDir, '.lock')
  const deadline = Date.now() + timeoutMs
  let announced = false
  for (;;) {
    // Write the pid first, then link: the lock never exists without its owner's pid in it.
    const temp = `${file}.${process.pid}`
    writeFileSync(temp, `${process.pid}\n`)
    try {
      linkSync(temp, file)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    } finally {
      unlinkSync(temp)
    }
    const holder = readPidFile(file)
    if (holder === undefined || !isAlive(holder)) {
      try {
        unlinkSync(file)
      } catch {}
      continue
    }
    if (Date.now() > deadline) throw new Error(`another infra command (pid ${holder}) still holds ${file}`)
    if (!announced) ctx.log(`waiting for another infra command (pid ${holder}) to finish`)
    announced = true
    await sleep(250)
  }
  try {
    return await fn()
  } finally {
    try {
      unlinkSync(file)
    } catch {}
  }
}
