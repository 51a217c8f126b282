/**
 * Finding experiments: `<system>/<experiment>` → `chaos/<system>/<experiment>.ts`, where the
 * experiment part may be the full file name (`pm10-hot-key-stampede`) or just its id (`pm10`).
 * `lab/selftest` is the lab's own end-to-end check. A path to a `.ts` file works too.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type Experiment, ExperimentError } from './experiment.ts'
import { repoRoot } from './paths.ts'
import { registerChaosResolution } from './register.ts'

export const chaosDir = join(repoRoot, 'chaos')

/** Experiments that ship with the lab rather than with a system. */
export const builtinExperiments: Record<string, string> = {
  'lab/selftest': join(repoRoot, 'packages', 'lab', 'test', 'fixtures', 'selftest.experiment.ts'),
}

const builtinAliases: Record<string, string> = {
  'lab/pm00': 'lab/selftest',
  'lab/pm00-selftest': 'lab/selftest',
}

const experimentFile = /^pm\d+-[a-z0-9-]+\.ts$/

/** Every `chaos/<system>/pmNN-*.ts`, sorted. */
export function experimentFiles(): string[] {
  if (!existsSync(chaosDir)) return []
  const out: string[] = []
  for (const system of readdirSync(chaosDir).sort()) {
    const dir = join(chaosDir, system)
    if (!statSync(dir).isDirectory()) continue
    for (const file of readdirSync(dir).sort()) if (experimentFile.test(file)) out.push(join(dir, file))
  }
  return out
}

export function resolveExperimentFile(ref: string, cwd = process.cwd()): string {
  const builtin = builtinExperiments[builtinAliases[ref] ?? ref]
  if (builtin) return builtin
  if (ref.endsWith('.ts')) {
    for (const candidate of [resolve(cwd, ref), resolve(repoRoot, ref)])
      if (existsSync(candidate)) return candidate
    throw new ExperimentError(`no such file: ${ref}`)
  }
  const match = /^([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(ref)
  if (!match)
    throw new ExperimentError(`"${ref}" is not <system>/<experiment> (e.g. shortener/pm10-hot-key-stampede)`)
  const [, system, name] = match as unknown as [string, string, string]
  const exact = join(chaosDir, system, `${name}.ts`)
  if (existsSync(exact)) return exact
  const byId = experimentFiles().filter((f) => relative(chaosDir, f).startsWith(`${system}/${name}-`))
  if (byId.length === 1) return byId[0] as string
  const known = experimentNames()
  throw new ExperimentError(
    byId.length > 1
      ? `"${ref}" matches several experiments: ${byId.map((f) => relative(chaosDir, f)).join(', ')}`
      : `no experiment "${ref}". Known: ${known.length ? known.join(', ') : '(none yet under chaos/)'}, ${Object.keys(builtinExperiments).join(', ')}`,
  )
}

export function experimentNames(): string[] {
  return experimentFiles().map((f) => relative(chaosDir, f).replace(/\.ts$/, ''))
}

/** Import an experiment module and check that its default export is `defineExperiment(...)`. */
export async function loadExperiment(file: string): Promise<Experiment> {
  registerChaosResolution()
  const path = isAbsolute(file) ? file : resolve(file)
  const mod = (await import(pathToFileURL(path).href)) as { default?: Experiment }
  const exp = mod.default
  if (!exp || typeof exp !== 'object' || typeof exp.name !== 'string' || !Array.isArray(exp.timeline)) {
    throw new ExperimentError(`${relative(repoRoot, path)} must \`export default defineExperiment({...})\``)
  }
  return exp
}
