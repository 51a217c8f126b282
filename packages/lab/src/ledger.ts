/**
 * The ledger: every request the load generator made and what came back — "acknowledged
 * operations" are the entries with a status (an answer), the rest timed out or were refused.
 * Invariants are queries over it (and over the final state).
 */
import { quantile } from './timeseries.ts'

export interface LedgerEntry {
  /** When the response (or the error) arrived, milliseconds since the load start. */
  endMs: number
  /** `endMs − latencyMs`: roughly when the request was sent. */
  startMs: number
  latencyMs: number
  /** HTTP status; 0 when no answer came (timeout, connection refused or reset). */
  status: number
  /** What k6 counts as a success (`expected_response`; by default a status in 200–399). */
  ok: boolean
  /** The request's `op` tag, else its `name` tag (k6 defaults that to the URL). */
  op: string
  scenario: string
  method: string
  /** k6 error code for a failed request (1050 = timeout, 1211/1212 = refused …). */
  errorCode?: number
  /** The script's own tags (`tags: { op, code }`), without k6's system tags. */
  tags: Record<string, string>
}

export interface LedgerSelect {
  /** One op or several. */
  op?: string | string[]
  /** Window in seconds since the load start, [fromS, toS). */
  fromS?: number
  toS?: number
  /** Which timestamp the window applies to. Default `end` (when the answer arrived). */
  by?: 'end' | 'start'
  /** Only entries for which this returns true. */
  where?: (entry: LedgerEntry) => boolean
}

export class Ledger {
  readonly entries: LedgerEntry[]
  private sorted: number[] | undefined

  constructor(entries: LedgerEntry[] = []) {
    this.entries = entries
  }

  add(entry: LedgerEntry): void {
    this.entries.push(entry)
    this.sorted = undefined
  }

  select(sel: LedgerSelect): Ledger {
    const ops = sel.op === undefined ? undefined : new Set(Array.isArray(sel.op) ? sel.op : [sel.op])
    const fromMs = sel.fromS === undefined ? -Infinity : sel.fromS * 1000
    const toMs = sel.toS === undefined ? Infinity : sel.toS * 1000
    const key = sel.by === 'start' ? 'startMs' : 'endMs'
    return new Ledger(
      this.entries.filter(
        (e) =>
          (ops === undefined || ops.has(e.op)) &&
          e[key] >= fromMs &&
          e[key] < toMs &&
          (sel.where === undefined || sel.where(e)),
      ),
    )
  }

  get count(): number {
    return this.entries.length
  }

  /** Requests k6 counts as successful. */
  get okCount(): number {
    let n = 0
    for (const e of this.entries) if (e.ok) n++
    return n
  }

  /** Requests that got an answer at all (any status). */
  get answeredCount(): number {
    let n = 0
    for (const e of this.entries) if (e.status !== 0) n++
    return n
  }

  /** Failed / all; 0 for an empty selection. */
  errorRate(): number {
    return this.count === 0 ? 0 : (this.count - this.okCount) / this.count
  }

  /** Successful / all; 1 for an empty selection. */
  successRatio(): number {
    return this.count === 0 ? 1 : this.okCount / this.count
  }

  /** Latency quantile in ms over every entry (failed ones included: a timeout is a slow answer). */
  quantileMs(q: number): number {
    this.sorted ??= this.entries.map((e) => e.latencyMs).sort((a, b) => a - b)
    return quantile(this.sorted, q)
  }

  maxLatencyMs(): number {
    return this.count === 0 ? Number.NaN : this.quantileMs(1)
  }

  /** Count per status, e.g. `{ '200': 980, '503': 12, '0': 8 }`. */
  statusCounts(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const e of this.entries) out[e.status] = (out[e.status] ?? 0) + 1
    return out
  }

  ops(): string[] {
    return [...new Set(this.entries.map((e) => e.op))].sort()
  }

  /** One line per entry, for offline analysis (`ledger-<mode>.csv`). */
  toCsv(): string {
    const lines = ['end_ms,start_ms,latency_ms,status,ok,op,scenario,method,error_code']
    for (const e of this.entries) {
      lines.push(
        [
          e.endMs.toFixed(1),
          e.startMs.toFixed(1),
          e.latencyMs.toFixed(3),
          e.status,
          e.ok ? 1 : 0,
          csvField(e.op),
          csvField(e.scenario),
          e.method,
          e.errorCode ?? '',
        ].join(','),
      )
    }
    return `${lines.join('\n')}\n`
  }
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}
