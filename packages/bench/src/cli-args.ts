/** Argument checks shared by the bench CLIs: a bad flag exits 2 with one line naming it. */

export function failWith(prefix: string): (message: string) => never {
  return (message) => {
    process.stderr.write(`${prefix}: ${message}\n`)
    process.exit(2)
  }
}

/** `raw` as a positive number (an integer unless `integer` is false), or `fail` naming the flag. */
export function positiveFlag(
  fail: (message: string) => never,
  name: string,
  raw: string | undefined,
  integer = true,
): number {
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    fail(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${raw}`)
  }
  return value
}
