/**
 * k6's CSV output (`--out csv=<file>`), read after the run. One row per metric sample; for the
 * knee we keep `http_req_duration` (one per request: its end time, latency, status and tags) and
 * `dropped_iterations` (the arrival-rate executor had no free VU: offered load the run did not
 * deliver), and skip the other eleven rows per request with a prefix test before splitting.
 *
 * Why CSV and after the run, not JSON streamed live: on a 2-core machine shared by k6, the service
 * and the infrastructure, a parser running during the ramp steals CPU from what it measures. CSV
 * rows are about a third of the size of JSON lines, and with `K6_CSV_TIME_FORMAT=unix_micro` they
 * carry microsecond timestamps (the default is whole seconds; @faultline/measure's runner sets it
 * whenever it writes a CSV).
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'

/** System tags worth their bytes in the CSV; the others (url, proto, tls_version …) are dropped. */
export const k6SystemTags = ['status', 'scenario', 'expected_response', 'error_code', 'name']

export interface K6Sample {
  metric: string
  /** Epoch milliseconds (fractional). For http_req_duration: when the response ended. */
  timeMs: number
  value: number
  /** System tags that have a value, plus the script's own tags (`extra_tags`). */
  tags: Record<string, string>
}

export interface K6CsvHeader {
  columns: string[]
  metric: number
  timestamp: number
  value: number
  extraTags: number
  metadata: number
}

/** Splits one CSV line (RFC 4180 quoting: `"a,b"`, `""` for a quote inside a quoted field). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',')
  const fields: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      fields.push(field)
      field = ''
    } else field += c
  }
  fields.push(field)
  return fields
}

export function parseCsvHeader(line: string): K6CsvHeader {
  const columns = splitCsvLine(line.trim())
  const at = (name: string, required: boolean): number => {
    const i = columns.indexOf(name)
    if (i === -1 && required) throw new Error(`k6 CSV header has no "${name}" column: ${line}`)
    return i
  }
  return {
    columns,
    metric: at('metric_name', true),
    timestamp: at('timestamp', true),
    value: at('metric_value', true),
    extraTags: at('extra_tags', false),
    metadata: at('metadata', false),
  }
}

/**
 * A k6 CSV timestamp → epoch ms. The unit follows K6_CSV_TIME_FORMAT and is told apart by the
 * number of digits (seconds have 10 until 2286): unix, unix_milli, unix_micro, unix_nano, or an
 * RFC 3339 date.
 */
export function parseK6Timestamp(text: string): number {
  if (/^\d+$/.test(text)) {
    const digits = text.length
    if (digits <= 11) return Number(text) * 1000
    if (digits <= 14) return Number(text)
    if (digits <= 17) return Number(text) / 1000
    // Nanoseconds exceed 2^53: split to keep sub-millisecond precision.
    return Number(text.slice(0, -6)) + Number(text.slice(-6)) / 1e6
  }
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)$/.exec(text)
  const whole = m ? Date.parse(`${m[1]}${m[3]}`) : Number.NaN
  if (!m || Number.isNaN(whole)) throw new Error(`not a k6 timestamp: ${text}`)
  // Date.parse keeps at most milliseconds; the fraction is added separately to keep the rest.
  return whole + (m[2] ? Number(`0${m[2]}`) * 1000 : 0)
}

/** `op=redirect&step=03` → `{ op: 'redirect', step: '03' }`. */
export function parseExtraTags(text: string, into: Record<string, string> = {}): Record<string, string> {
  if (text === '') return into
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    into[decodeTag(pair.slice(0, eq))] = decodeTag(pair.slice(eq + 1))
  }
  return into
}

function decodeTag(text: string): string {
  if (!text.includes('%')) return text
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** One data row → a sample, or null when it is not one of `wanted` (cheap: a prefix test first). */
export function parseCsvRow(header: K6CsvHeader, line: string, wanted: ReadonlySet<string>): K6Sample | null {
  const comma = line.indexOf(',')
  if (comma <= 0 || !wanted.has(line.slice(0, comma))) return null
  const fields = splitCsvLine(line)
  const tags: Record<string, string> = {}
  fields.forEach((value, i) => {
    if (
      value === '' ||
      i === header.metric ||
      i === header.timestamp ||
      i === header.value ||
      i === header.extraTags ||
      i === header.metadata
    ) {
      return
    }
    tags[header.columns[i] as string] = value
  })
  if (header.extraTags !== -1) parseExtraTags(fields[header.extraTags] ?? '', tags)
  return {
    metric: fields[header.metric] as string,
    timeMs: parseK6Timestamp(fields[header.timestamp] as string),
    value: Number(fields[header.value]),
    tags,
  }
}

/** Parses a whole CSV text (tests, small runs). */
export function parseK6Csv(text: string, wanted: Iterable<string>): K6Sample[] {
  const wantedSet = new Set(wanted)
  const lines = text.split('\n')
  const header = parseCsvHeader(lines[0] ?? '')
  const samples: K6Sample[] = []
  for (const line of lines.slice(1)) {
    const sample = parseCsvRow(header, line.trimEnd(), wantedSet)
    if (sample) samples.push(sample)
  }
  return samples
}

/** Streams a CSV file, calling `onSample` for the wanted metrics; resolves to the row count read. */
export async function streamK6Csv(
  path: string,
  wanted: Iterable<string>,
  onSample: (sample: K6Sample) => void,
): Promise<number> {
  const wantedSet = new Set(wanted)
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY })
  let header: K6CsvHeader | undefined
  let rows = 0
  for await (const line of lines) {
    if (header === undefined) {
      header = parseCsvHeader(line)
      continue
    }
    rows++
    const sample = parseCsvRow(header, line, wantedSet)
    if (sample) onSample(sample)
  }
  return rows
}
