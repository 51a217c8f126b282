/**
 * The seed's progress: on a TTY one bar per stage redrawn in place, otherwise plain lines (a stage's
 * start, a line every few seconds, its end) so CI logs stay readable. Each finished stage prints its
 * duration, which is what the docs quote.
 */
export interface SeedProgress {
  /** A stage of `total` units (rows) starts. */
  stage(name: string, total: number): void
  /** `units` more of the current stage are done. */
  advance(units: number): void
  /** The current stage is done: prints its line with the time it took. */
  end(): void
  /** A line that stays. */
  line(text: string): void
}

export const silentSeedProgress: SeedProgress = { stage() {}, advance() {}, end() {}, line() {} }

export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`
  return String(n)
}

function bar(fraction: number, width = 24): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)))
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
}

export function createSeedProgress(
  stream: NodeJS.WriteStream = process.stderr,
  options: { tty?: boolean; plainEveryMs?: number; now?: () => number } = {},
): SeedProgress {
  const tty = options.tty ?? Boolean(stream.isTTY)
  const plainEveryMs = options.plainEveryMs ?? 5000
  const now = options.now ?? (() => performance.now())
  let name = ''
  let total = 0
  let done = 0
  let startedAt = 0
  let lastDrawAt = Number.NEGATIVE_INFINITY
  const status = () => {
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100
    const seconds = ((now() - startedAt) / 1000).toFixed(1)
    return `${name.padEnd(10)} ${bar(total > 0 ? done / total : 1)} ${formatCount(done)}/${formatCount(total)} ${String(pct).padStart(3)}% ${seconds} s`
  }
  return {
    stage(stageName, stageTotal) {
      name = stageName
      total = stageTotal
      done = 0
      startedAt = now()
      lastDrawAt = startedAt
      if (tty) stream.write(`\r\x1b[2K${status()}`)
      else stream.write(`${name}: ${formatCount(total)} …\n`)
    },
    advance(units) {
      done += units
      const t = now()
      if (tty && t - lastDrawAt >= 100) {
        lastDrawAt = t
        stream.write(`\r\x1b[2K${status()}`)
      } else if (!tty && t - lastDrawAt >= plainEveryMs) {
        lastDrawAt = t
        stream.write(`${status()}\n`)
      }
    },
    end() {
      done = total
      stream.write(tty ? `\r\x1b[2K${status()}\n` : `${status()}\n`)
    },
    line(text) {
      stream.write(tty ? `\r\x1b[2K${text}\n` : `${text}\n`)
    },
  }
}
