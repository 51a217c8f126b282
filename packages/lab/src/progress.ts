/**
 * Progress while an experiment runs: on a TTY one status line redrawn in place (phase,
 * elapsed/total, current req/s, errors, p99) with fault events printed above it; otherwise plain
 * lines — a status line every few seconds and one per event — so CI logs stay readable.
 */
import { formatMs } from './invariants.ts'

export interface LoadStatus {
  mode: string
  elapsedS: number
  totalS: number
  /** Requests answered (or failed) during the last complete second. */
  rps: number
  errors: number
  p99Ms: number | null
}

export interface Progress {
  /** A new phase of a mode: `starting services`, `load`, `checking invariants` … */
  phase(mode: string, text: string): void
  status(status: LoadStatus): void
  /** A line that stays (a fault fired, a warning). */
  line(text: string): void
  /** Clear the status line before the final output. */
  done(): void
}

export const silentProgress: Progress = {
  phase: () => {},
  status: () => {},
  line: () => {},
  done: () => {},
}

function bar(fraction: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)))
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
}

export function formatStatus(s: LoadStatus): string {
  const elapsed = Math.min(s.elapsedS, s.totalS)
  const p99 = s.p99Ms === null ? '—' : formatMs(s.p99Ms)
  return `[${s.mode}] load ${elapsed.toFixed(0).padStart(3)}/${s.totalS} s ${bar(elapsed / s.totalS)} ${String(Math.round(s.rps)).padStart(5)} req/s · ${String(s.errors).padStart(4)} err/s · p99 ${p99}`
}

export function createProgress(
  stream: NodeJS.WriteStream = process.stderr,
  options: { tty?: boolean; plainEveryS?: number } = {},
): Progress {
  const tty = options.tty ?? Boolean(stream.isTTY)
  const plainEveryS = options.plainEveryS ?? 5
  let current = ''
  let lastPlain = Number.NEGATIVE_INFINITY
  const clear = () => {
    if (tty && current) stream.write('\r\x1b[2K')
  }
  const redraw = () => {
    if (tty && current) stream.write(current.slice(0, Math.max(20, (stream.columns || 120) - 1)))
  }
  return {
    phase(mode, text) {
      clear()
      current = ''
      stream.write(`[${mode}] ${text}\n`)
    },
    status(status) {
      const text = formatStatus(status)
      if (tty) {
        clear()
        current = text
        redraw()
      } else if (status.elapsedS - lastPlain >= plainEveryS) {
        lastPlain = status.elapsedS
        stream.write(`${text}\n`)
      }
    },
    line(text) {
      clear()
      stream.write(`${text}\n`)
      redraw()
    },
    done() {
      clear()
      current = ''
      lastPlain = Number.NEGATIVE_INFINITY
    },
  }
}
