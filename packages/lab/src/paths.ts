import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The clone this package lives in: `packages/lab/src/` → three levels up. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** Default results dir: `<repo>/results` (gitignored). */
export const defaultResultsDir = resolve(repoRoot, 'results')

/** The lab's own state (lock file, scratch): `<repo>/.faultline/lab`. */
export const labStateDir = resolve(repoRoot, '.faultline', 'lab')
