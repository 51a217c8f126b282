/**
 * The Prometheus text exposition format, as much of it as reading a service's `/metrics` needs:
 * sample lines `name{label="v",…} value [timestamp]`. Comments (`# HELP`, `# TYPE`), blank lines
 * and malformed lines are skipped, so one odd line never costs a whole scrape. The lab's
 * invariants and the bench's sampler both read scrapes through this one parser.
 */

export interface MetricSample {
  name: string
  labels: Record<string, string>
  value: number
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  return Number(text)
}

/** `a="1",b="x \"y\""` → labels; null when the body is malformed (an unterminated quote). */
function parseLabels(body: string): Record<string, string> | null {
  const labels: Record<string, string> = {}
  let i = 0
  while (i < body.length) {
    while (body[i] === ' ' || body[i] === ',') i++
    if (i >= body.length) break
    const eq = body.indexOf('=', i)
    if (eq === -1 || body[eq + 1] !== '"') return null
    const key = body.slice(i, eq).trim()
    let value = ''
    let j = eq + 2
    for (; j < body.length && body[j] !== '"'; j++) {
      if (body[j] === '\\' && j + 1 < body.length) {
        const next = body[++j]
        value += next === 'n' ? '\n' : (next as string)
      } else value += body[j]
    }
    if (j >= body.length) return null
    labels[key] = value
    i = j + 1
  }
  return labels
}

/**
 * Text exposition format → samples. A `NaN` value (a summary with no observations yet) is
 * skipped: it is no measurement, and a sum over it would be NaN.
 */
export function parsePrometheusText(text: string): MetricSample[] {
  const out: MetricSample[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = sampleLine.exec(line)
    if (!m) continue
    const labels = m[3] ? parseLabels(m[3]) : {}
    const value = parseValue(m[4] as string)
    if (!labels || Number.isNaN(value)) continue
    out.push({ name: m[1] as string, labels, value })
  }
  return out
}

/**
 * Sum of the finite values (a string or RegExp first keeps only matching names); undefined when
 * nothing matched, so a metric nobody exposes is told apart from a metric at 0.
 */
export function sumSeries(samples: readonly MetricSample[], name?: string | RegExp): number | undefined {
  let sum: number | undefined
  for (const s of samples) {
    if (name !== undefined && (typeof name === 'string' ? s.name !== name : !name.test(s.name))) continue
    if (!Number.isFinite(s.value)) continue
    sum = (sum ?? 0) + s.value
  }
  return sum
}
