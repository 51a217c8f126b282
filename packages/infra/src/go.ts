import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type InfraContext, MissingPrerequisiteError } from './component.ts'
import { binDir } from './paths.ts'
import { run } from './process.ts'

const goMinMinor = 22
const goHint =
  'install Go ≥1.22 (`apt-get install golang` on Debian ≥13 / Ubuntu ≥24.04, `golang-1.23` from bookworm-backports, or https://go.dev/dl) and put `go` on PATH'

export interface GoBinary {
  /** Module path, as `go version -m` prints it (`go.k6.io/k6`). */
  module: string
  /** Package to install (`github.com/Shopify/toxiproxy/v2/cmd/server`). */
  pkg: string
  version: string
  /** Name `go install` gives the binary (last element of `pkg`). */
  builtName: string
  /** Name under `<cacheDir>/bin`. */
  target: string
}

export function goBinaryPath(ctx: InfraContext, binary: GoBinary): string {
  return join(binDir(ctx), binary.target)
}

/** Go ≥1.22 on PATH, or a `MissingPrerequisiteError` that says how to get it. */
export async function ensureGo(): Promise<void> {
  const result = await run('go', ['env', 'GOVERSION'], { env: goEnv() })
  if (result.code !== 0) throw new MissingPrerequisiteError('Go (the `go` command)', goHint)
  const match = /^go1\.(\d+)/.exec(result.stdout.trim())
  if (match && Number(match[1]) < goMinMinor) {
    throw new MissingPrerequisiteError(`Go ≥1.${goMinMinor} (found ${result.stdout.trim()})`, goHint)
  }
}

function goEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // GOTOOLCHAIN=local: never download a toolchain behind the user's back; the module cache and
  // build cache stay the user's defaults (outside the clone, shared between clones).
  return { ...process.env, GOTOOLCHAIN: 'local', ...extra }
}

/** The module version a Go binary was built from (`go version -m`), or undefined. */
export async function builtVersion(file: string, module: string): Promise<string | undefined> {
  const result = await run('go', ['version', '-m', file], { env: goEnv() })
  if (result.code !== 0) return undefined
  for (const line of result.stdout.split('\n')) {
    const [kind, path, version] = line.trim().split(/\s+/)
    if (kind === 'mod' && path === module) return version
  }
  return undefined
}

/**
 * `go install pkg@version` into `<cacheDir>/bin/<target>` unless that exact version is already
 * there. Builds into a private GOBIN and renames, so a half-built binary is never visible.
 */
export async function goInstall(
  ctx: InfraContext,
  component: string,
  binary: GoBinary,
  logFile?: string,
): Promise<string> {
  const target = goBinaryPath(ctx, binary)
  if (existsSync(target)) {
    const goAvailable = (await run('go', ['env', 'GOVERSION'], { env: goEnv() })).code === 0
    // Without Go we cannot tell the version: trust what is there rather than fail.
    if (!goAvailable || (await builtVersion(target, binary.module)) === binary.version) return target
  }
  await ensureGo()
  const scratch = join(binDir(ctx), `.build-${binary.target}-${process.pid}`)
  mkdirSync(scratch, { recursive: true })
  const started = Date.now()
  ctx.log(`${component}: go install ${binary.pkg}@${binary.version} (first build takes a while)…`)
  try {
    const result = await run('go', ['install', `${binary.pkg}@${binary.version}`], {
      env: goEnv({ GOBIN: scratch }),
      cwd: scratch,
    })
    if (logFile !== undefined) {
      mkdirSync(dirname(logFile), { recursive: true })
      appendFileSync(
        logFile,
        `=== ${new Date().toISOString()} go install ${binary.pkg}@${binary.version}: exit ${result.code}\n${result.stderr}`,
      )
    }
    if (result.code !== 0) {
      throw new Error(
        `${component}: go install ${binary.pkg}@${binary.version} failed:\n${result.stderr.trim()}`,
      )
    }
    renameSync(join(scratch, binary.builtName), target)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  ctx.log(`${component}: built ${target} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return target
}
