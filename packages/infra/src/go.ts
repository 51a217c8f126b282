import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { arch } from 'node:os'
import { dirname, join } from 'node:path'
import { ensureDebianPackage } from './apt.ts'
import { type InfraContext, MissingPrerequisiteError } from './component.ts'
import { downloadFile, retryDownload } from './download.ts'
import { binDir } from './paths.ts'
import { run, runChecked } from './process.ts'

const goMinMinor = 22
const goHint =
  'install Go ≥1.22 (`apt-get install golang` on Debian ≥13 / Ubuntu ≥24.04, `golang-1.23` from bookworm-backports, or https://go.dev/dl) and put `go` on PATH'

/**
 * The toolchain fetched when the machine has no usable Go: the Go module proxy serves every
 * release as the module `golang.org/toolchain` (it is how `GOTOOLCHAIN` downloads work), so it
 * comes from a registry this project may reach.
 */
export const fallbackGoVersion = '1.26.8'

/** `go` on PATH, or the fallback toolchain once ensureGo() has fetched it. */
let goCommand = 'go'
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

async function usableGo(command: string): Promise<string | undefined> {
  const result = await run(command, ['env', 'GOVERSION'], { env: goEnv() })
  if (result.code !== 0) return undefined
  const match = /^go1\.(\d+)/.exec(result.stdout.trim())
  return match && Number(match[1]) < goMinMinor ? undefined : result.stdout.trim()
}

/**
 * Go ≥1.22: the one on PATH, else the fallback toolchain under `<cacheDir>/go` (fetched from the
 * module proxy on first use, as root or not). A `MissingPrerequisiteError` only if that fails.
 */
export async function ensureGo(ctx: InfraContext): Promise<void> {
  if (goCommand !== 'go' || (await usableGo('go')) !== undefined) return
  const goArch = { x64: 'amd64', arm64: 'arm64' }[arch() as string]
  if (process.platform !== 'linux' || goArch === undefined) {
    throw new MissingPrerequisiteError('Go (the `go` command)', goHint)
  }
  const module = `golang.org/toolchain@v0.0.1-go${fallbackGoVersion}.linux-${goArch}`
  const root = join(ctx.cacheDir, 'go')
  const command = join(root, module, 'bin', 'go')
  if (!existsSync(command)) {
    try {
      await fetchToolchain(ctx, root, module)
    } catch (err) {
      throw new MissingPrerequisiteError(
        'Go (the `go` command)',
        `${goHint}; fetching go${fallbackGoVersion} from the module proxy failed: ${(err as Error).message}`,
      )
    }
  }
  if ((await usableGo(command)) === undefined) {
    throw new MissingPrerequisiteError('Go (the `go` command)', `${goHint}; ${command} does not run`)
  }
  goCommand = command
}

/**
 * Downloads (with retries, see download.ts) and unpacks the toolchain module zip into
 * `root/<module>` (atomically, by rename).
 */
async function fetchToolchain(ctx: InfraContext, root: string, module: string): Promise<void> {
  const [path, version] = module.split('@') as [string, string]
  const url = `https://proxy.golang.org/${path}/@v/${version}.zip`
  ctx.log(`go: no Go ≥1.${goMinMinor} on PATH; fetching go${fallbackGoVersion} from ${url}…`)
  const scratch = join(root, `.fetch-${process.pid}`)
  rmSync(scratch, { recursive: true, force: true })
  mkdirSync(scratch, { recursive: true })
  try {
    const zip = join(scratch, 'toolchain.zip')
    await downloadFile(url, zip, { attemptTimeoutMs: 15 * 60_000, log: ctx.log })
    if ((await run('unzip', ['-v'])).code !== 0) {
      await ensureDebianPackage(ctx, 'go', 'unzip', '/usr/bin/unzip')
    }
    await runChecked('unzip', ['-q', zip, '-d', scratch])
    rmSync(zip)
    const unpacked = join(scratch, module)
    // Module zips carry no file modes; the go command sets them the same way after its own download.
    for (const dir of [join(unpacked, 'bin'), ...toolDirs(unpacked)]) {
      for (const name of readdirSync(dir)) chmodSync(join(dir, name), 0o755)
    }
    mkdirSync(join(root, 'golang.org'), { recursive: true })
    renameSync(unpacked, join(root, module))
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

function toolDirs(goroot: string): string[] {
  const tool = join(goroot, 'pkg', 'tool')
  return existsSync(tool) ? readdirSync(tool).map((d) => join(tool, d)) : []
}

function goEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // GOTOOLCHAIN=local: never download a toolchain behind the user's back; the module cache and
  // build cache stay the user's defaults (outside the clone, shared between clones).
  return { ...process.env, GOTOOLCHAIN: 'local', ...extra }
}

/** The module version a Go binary was built from (`go version -m`), or undefined. */
export async function builtVersion(file: string, module: string): Promise<string | undefined> {
  const result = await run(goCommand, ['version', '-m', file], { env: goEnv() })
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
    const goAvailable = (await run(goCommand, ['env', 'GOVERSION'], { env: goEnv() })).code === 0
    // Without Go we cannot tell the version: trust what is there rather than fail.
    if (!goAvailable || (await builtVersion(target, binary.module)) === binary.version) return target
  }
  await ensureGo(ctx)
  const scratch = join(binDir(ctx), `.build-${binary.target}-${process.pid}`)
  mkdirSync(scratch, { recursive: true })
  const started = Date.now()
  ctx.log(`${component}: go install ${binary.pkg}@${binary.version} (first build takes a while)…`)
  try {
    // `go install` downloads the module and its dependencies from the module proxy and has no
    // retry of its own. Every failure is retried: the module cache keeps what already arrived,
    // and the build cache makes a retried compile error cheap to reach again.
    await retryDownload(
      `Go module ${binary.pkg}@${binary.version}`,
      async () => {
        const result = await run(goCommand, ['install', `${binary.pkg}@${binary.version}`], {
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
        if (result.code !== 0)
          throw new Error(`go install exited with ${result.code}:\n${result.stderr.trim()}`)
      },
      { log: ctx.log },
    )
    renameSync(join(scratch, binary.builtName), target)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  ctx.log(`${component}: built ${target} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return target
}
