import { existsSync } from 'node:fs'
import { type InfraContext, MissingPrerequisiteError } from './component.ts'
import { retryDownload } from './download.ts'
import { type RunResult, run, runChecked } from './process.ts'

let aptUpdated = false

/**
 * Make sure a Debian package is installed, probing one of its files. As root with apt we install it
 * (`apt-get update` once per run first, both retried with backoff: they download); otherwise we
 * stop with the exact command to run.
 */
export async function ensureDebianPackage(
  ctx: InfraContext,
  component: string,
  pkg: string,
  probeFile: string,
): Promise<void> {
  if (existsSync(probeFile)) return
  const hint = `install it with \`sudo apt-get install -y ${pkg}\` (Debian/Ubuntu), then run \`infra up\` again`
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new MissingPrerequisiteError(`${pkg} (${probeFile} not found)`, hint)
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    if (!aptUpdated) {
      ctx.log(`${component}: apt-get update…`)
      await retryDownload(
        'the apt package lists (apt-get update)',
        () => runChecked('apt-get', ['update'], { env }),
        { log: ctx.log },
      )
      aptUpdated = true
    }
    ctx.log(`${component}: apt-get install -y ${pkg}…`)
    await retryDownload(
      `the Debian package ${pkg} (apt-get install)`,
      () => runChecked('apt-get', ['install', '-y', '--no-install-recommends', pkg], { env }),
      { log: ctx.log },
    )
  } catch (err) {
    throw new MissingPrerequisiteError(pkg, `${hint}; apt-get failed: ${(err as Error).message}`)
  }
  if (!existsSync(probeFile))
    throw new MissingPrerequisiteError(pkg, `${probeFile} is still missing after apt-get install`)
}

/**
 * Runs `command args`; when the command does not exist at all (exit 127), installs the Debian
 * package that provides it (see ensureDebianPackage) and runs it again. Any other failure is
 * returned as it is, for the caller to judge (an old version, say).
 */
export async function runInstallingIfAbsent(
  ctx: InfraContext,
  component: string,
  command: string,
  args: string[],
  pkg: { name: string; probeFile: string },
  timeoutMs?: number,
): Promise<RunResult> {
  const first = await run(command, args, { timeoutMs })
  if (first.code !== 127) return first
  await ensureDebianPackage(ctx, component, pkg.name, pkg.probeFile)
  return run(command, args, { timeoutMs })
}
