/**
 * Just enough of the Prometheus text exposition format to read a service's `/metrics`: sample
 * lines `name{label="v",…} value [timestamp]`; comments and blank lines skipped.
 */

export interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export function parsePrometheusText(text: string): PromSample[] {
  const samples: PromSample[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = sampleLine.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    for (const pair of (m[2] ?? '').matchAll(labelPair)) {
      labels[pair[1] as string] = (pair[2] as string).replace(/\\n/g, '\n').replace(/\\(.)/g, '$1')
    }
    const valueText = m[3] as string
    const value =
      valueText === '+Inf'
        ? Number.POSITIVE_INFINITY
        : valueText === '-Inf'
          ? Number.NEGATIVE_INFINITY
          : Number(valueText)
    samples.push({ name: m[1] as string, labels, value })
  }
  return samples
}

/** Sum of the finite values (a string or RegExp first keeps only matching names); undefined when none. */
export function sumSeries(samples: readonly PromSample[], name?: string | RegExp): number | undefined {
  let sum: number | undefined
  for (const s of samples) {
    if (name !== undefined && (typeof name === 'string' ? s.name !== name : !name.test(s.name))) continue
    if (!Number.isFinite(s.value)) continue
    sum = (sum ?? 0) + s.value
  }
  return sum
}
