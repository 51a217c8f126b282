// End-of-test summary: a JSON file for docs and comparisons (naive vs hardened), plus a text
// summary for the human at the terminal.
//
//   import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
//   export const options = { …, summaryTrendStats }
//   export const handleSummary = summaryHandler('shortener-redirect')
//
// With SUMMARY_PATH set, the JSON goes to that file and the text to stdout. Without it, the JSON
// goes to stdout and the text to stderr, so `k6 run x.js > summary.json` still yields clean JSON.
//
// The text is Faultline's own compact rendering: once a script defines handleSummary, k6 no longer
// prints its default summary, and k6's textSummary() lives in a remote jslib (jslib.k6.io) that
// these machines cannot fetch.

import { envString } from './env.js'

/** Trend stats to compute: k6's default set stops at p(95); tail latency is the point here. */
export const summaryTrendStats = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)']

/** The __ENV knobs recorded in the JSON (never the whole environment: it may hold secrets). */
const recordedEnv = [
  'BASE_URL',
  'SCENARIO',
  'RATE',
  'DURATION',
  'VUS',
  'MAX_VUS',
  'ITERATIONS',
  'START_RATE',
  'STEP',
  'STEPS',
  'STEP_DURATION',
  'BASE_RATE',
  'SPIKE_RATE',
  'BASE_DURATION',
  'SPIKE_DURATION',
  'RECOVERY_DURATION',
  'P99_MS',
  'P95_MS',
  'MAX_ERROR_RATE',
  'SEED',
  'KEYS',
  'ZIPF_S',
  'MODE',
  'EXPERIMENT',
]

/** Returns a handleSummary function for a test called `name` (default: TEST_NAME or "k6"). */
export function summaryHandler(name) {
  return (data) => {
    const testName = name ?? envString('TEST_NAME', 'k6')
    const json = `${JSON.stringify(jsonSummary(testName, data), null, 2)}\n`
    const text = textSummary(testName, data)
    const path = envString('SUMMARY_PATH', '')
    return path === '' ? { stdout: json, stderr: text } : { [path]: json, stdout: text }
  }
}

/** handleSummary with the default name: `export { handleSummary } from '../lib/summary.js'`. */
export function handleSummary(data) {
  return summaryHandler()(data)
}

function trendOf(metric) {
  if (metric === undefined) return undefined
  const v = metric.values
  return {
    avg: v.avg,
    min: v.min,
    med: v.med,
    p90: v['p(90)'],
    p95: v['p(95)'],
    p99: v['p(99)'],
    p999: v['p(99.9)'],
    max: v.max,
  }
}

function thresholdResults(data) {
  const results = {}
  let ok = true
  for (const [metric, m] of Object.entries(data.metrics)) {
    if (!m.thresholds) continue
    results[metric] = {}
    for (const [expression, outcome] of Object.entries(m.thresholds)) {
      results[metric][expression] = outcome.ok
      ok = ok && outcome.ok
    }
  }
  return { ok, results }
}

function collectChecks(group, out) {
  for (const check of group.checks ?? []) out.push(check)
  for (const sub of group.groups ?? []) collectChecks(sub, out)
  return out
}

/** Per-scenario HTTP numbers, for the scenarios that have thresholds (see thresholds.js). */
function scenarioResults(data) {
  const scenarios = {}
  for (const [metric, m] of Object.entries(data.metrics)) {
    const match = /^(http_req_duration|http_req_failed|http_reqs)\{scenario:([^}]+)\}$/.exec(metric)
    if (!match) continue
    const entry = scenarios[match[2]] ?? {}
    if (match[1] === 'http_req_duration') entry.durationMs = trendOf(m)
    if (match[1] === 'http_req_failed') entry.failedRate = m.values.rate
    if (match[1] === 'http_reqs') entry.reqs = m.values.count
    scenarios[match[2]] = entry
  }
  return scenarios
}

function jsonSummary(name, data) {
  const env = {}
  for (const key of recordedEnv) if (__ENV[key] !== undefined) env[key] = __ENV[key]
  const m = data.metrics
  const thresholds = thresholdResults(data)
  const checks = collectChecks(data.root_group, [])
  const passes = checks.reduce((n, c) => n + c.passes, 0)
  const fails = checks.reduce((n, c) => n + c.fails, 0)
  return {
    schema: 'faultline.k6-summary/1',
    name,
    finishedAt: new Date().toISOString(),
    durationMs: data.state.testRunDurationMs,
    env,
    thresholdsOk: thresholds.ok,
    thresholds: thresholds.results,
    http: {
      reqs: m.http_reqs?.values.count ?? 0,
      rps: m.http_reqs?.values.rate ?? 0,
      failedRate: m.http_req_failed?.values.rate ?? 0,
      durationMs: trendOf(m.http_req_duration),
    },
    iterations: m.iterations?.values.count ?? 0,
    droppedIterations: m.dropped_iterations?.values.count ?? 0,
    checks: { passes, fails },
    scenarios: scenarioResults(data),
    metrics: data.metrics,
  }
}

// ── text ────────────────────────────────────────────────────────────────────

function formatMs(ms) {
  if (ms === undefined || ms === null) return '-'
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)}s`
  if (ms >= 1) return `${ms.toFixed(2)}ms`
  return `${(ms * 1000).toFixed(0)}µs`
}

function formatBytes(bytes) {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MB`
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} kB`
  return `${Math.round(bytes)} B`
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(2)
}

function formatValue(metric, value) {
  if (metric.contains === 'time') return formatMs(value)
  if (metric.contains === 'data') return formatBytes(value)
  return formatNumber(value)
}

function formatMetric(metric, trendStats) {
  const v = metric.values
  switch (metric.type) {
    case 'trend':
      return trendStats
        .filter((stat) => v[stat] !== undefined)
        .map((stat) => `${stat}=${formatValue(metric, v[stat])}`)
        .join(' ')
    case 'rate':
      return `${(v.rate * 100).toFixed(2)}% (${v.passes} of ${v.passes + v.fails})`
    case 'counter':
      return `${formatValue(metric, v.count)}  ${v.rate.toFixed(2)}/s`
    case 'gauge':
      return `${formatValue(metric, v.value)} min=${formatValue(metric, v.min)} max=${formatValue(metric, v.max)}`
    default:
      return JSON.stringify(v)
  }
}

function observed(metric, expression) {
  const match = /^\s*(p\([\d.]+\)|avg|min|max|med|rate|count|value)/.exec(expression)
  if (!match) return ''
  const value = metric.values[match[1]]
  if (value === undefined) return ''
  if (match[1] === 'rate') return `${match[1]}=${(value * 100).toFixed(2)}%`
  return `${match[1]}=${formatValue(metric, value)}`
}

function pad(text, width) {
  return text.length >= width ? `${text} ` : `${text}${'.'.repeat(width - text.length)} `
}

export function textSummary(name, data) {
  const trendStats = data.options?.summaryTrendStats ?? summaryTrendStats
  const lines = ['', `  █ ${name} — ${formatMs(data.state.testRunDurationMs)}`, '']
  const names = Object.keys(data.metrics).sort()

  const withThresholds = names.filter((n) => data.metrics[n].thresholds)
  if (withThresholds.length > 0) {
    lines.push('  THRESHOLDS')
    for (const n of withThresholds) {
      const metric = data.metrics[n]
      for (const [expression, outcome] of Object.entries(metric.thresholds)) {
        lines.push(`    ${outcome.ok ? '✓' : '✗'} ${n} '${expression}' ${observed(metric, expression)}`)
      }
    }
    lines.push('')
  }

  const checks = collectChecks(data.root_group, [])
  if (checks.length > 0) {
    lines.push('  CHECKS')
    for (const c of checks) {
      lines.push(`    ${c.fails === 0 ? '✓' : '✗'} ${c.name} (${c.passes} passed, ${c.fails} failed)`)
    }
    lines.push('')
  }

  lines.push('  METRICS')
  const width = Math.min(48, Math.max(...names.map((n) => n.length)) + 3)
  for (const n of names) {
    lines.push(`    ${pad(n, width)}${formatMetric(data.metrics[n], trendStats)}`)
  }
  lines.push('')
  return `${lines.join('\n')}\n`
}
