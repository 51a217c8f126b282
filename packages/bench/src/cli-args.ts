/** Argument checks shared by the bench CLIs: a bad flag exits 2 with one line naming it. */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'

export function failWith(prefix: string): (message: string) => never {
  return (message) => {
    process.stderr.write(`${prefix}: ${message}\n`)
    process.exit(2)
  }
}

/**
 * `raw` as a positive number (an integer unless `integer` is false) of at most `max`, or `fail`
 * naming the flag.
 */
export function positiveFlag(
  fail: (message: string) => never,
  name: string,
  raw: string | undefined,
  integer = true,
  max = Number.POSITIVE_INFINITY,
): number {
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    fail(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${raw}`)
  }
  if (value > max) fail(`--${name} must be at most ${max}, got ${raw}`)
  return value
}

/** Repeated `--env NAME=VALUE` flags as an env object, or `fail` naming the malformed pair. */
export function envPairs(fail: (message: string) => never, pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq < 1) fail(`--env ${pair}: expected NAME=VALUE`)
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return env
}

/**
 * A bench CLI's flags (declare `help: { type: 'boolean', short: 'h' }` among them): `--help`
 * prints `usage` and exits 0; an unknown or malformed flag prints one line naming it and the
 * usage, and exits 2 (not a stack trace). `positive(name, max?)` reads a flag as a positive
 * integer the same way, `fail(message)` refuses any other value so.
 */
export function parseBenchCli<const O extends ParseArgsOptionsConfig>(
  options: O,
  usage: string,
  args: string[] = process.argv.slice(2),
) {
  const run = () => parseArgs({ args, options })
  let parsed: ReturnType<typeof run>
  try {
    parsed = run()
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`)
    return process.exit(2)
  }
  const raw = parsed.values as Record<string, string | boolean | string[] | undefined>
  if (raw.help === true) {
    process.stdout.write(`${usage}\n`)
    process.exit(0)
  }
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n${usage}\n`)
    return process.exit(2)
  }
  return {
    values: parsed.values,
    positive: (name: string, max?: number): number =>
      positiveFlag(fail, name, raw[name] as string | undefined, true, max),
    fail,
  }
}
