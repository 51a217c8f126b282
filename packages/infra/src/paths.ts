import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { InfraContext } from './component.ts'

/** The clone this package lives in: `packages/infra/src/` → three levels up. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** Project-local state: data dirs, pidfiles and logs of every component (gitignored). */
export const defaultStateDir = join(repoRoot, '.faultline', 'infra')

/** Downloads and builds live outside the clone so a fresh clone re-uses them. */
export function defaultCacheDir(): string {
  return process.env.FAULTLINE_CACHE || join(homedir(), '.cache', 'faultline')
}

/** Directory of the binaries the infra builds itself (`go install` targets). */
export function binDir(ctx: InfraContext): string {
  return join(ctx.cacheDir, 'bin')
}

export function defaultContext(overrides: Partial<InfraContext> = {}): InfraContext {
  return {
    stateDir: defaultStateDir,
    cacheDir: defaultCacheDir(),
    log: (message) => process.stderr.write(`[infra] ${message}\n`),
    ...overrides,
  }
}
