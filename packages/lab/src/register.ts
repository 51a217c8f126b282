/**
 * Module resolution for experiment modules and their tests, which live in `chaos/` — outside the
 * pnpm workspace, so `@faultline/lab` (and the lab's own dependencies) are not installed there.
 * A bare specifier that does not resolve from `chaos/` is resolved again from this package;
 * `@faultline/<noun>` falls back to `packages/<noun>/src/index.ts`.
 *
 * Loaded by the CLI before it imports an experiment, and by `node --import` for the chaos tests.
 */
import { existsSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { repoRoot } from './paths.ts'

const labEntry = pathToFileURL(join(repoRoot, 'packages', 'lab', 'src', 'index.ts')).href
const chaosPrefix = pathToFileURL(join(repoRoot, 'chaos')).href

let registered = false

export function registerChaosResolution(): void {
  if (registered) return
  registered = true
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context)
      } catch (err) {
        const fromChaos = context.parentURL?.startsWith(chaosPrefix) ?? false
        const bare = !specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.includes(':')
        if (!fromChaos || !bare || (err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err
        const own = /^@faultline\/([a-z0-9-]+)$/.exec(specifier)
        if (own) {
          const entry = join(repoRoot, 'packages', own[1] as string, 'src', 'index.ts')
          if (existsSync(entry)) return { url: pathToFileURL(entry).href, shortCircuit: true }
        }
        return nextResolve(specifier, { ...context, parentURL: labEntry })
      }
    },
  })
}

registerChaosResolution()
