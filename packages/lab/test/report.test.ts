import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderChart } from '../src/report/chart-svg.ts'
import { chartInput } from '../src/report/index.ts'
import { renderReport } from '../src/report/markdown.ts'
import { computeVerdict, renderVerdictTable } from '../src/report/verdict.ts'
import type { ModeSummary, Summary } from '../src/summary.ts'
import { assertWellFormedXml, fakeSummary, series } from './support.ts'

test('the chart is well-formed SVG with one column per mode', () => {
  const svg = renderChart(chartInput(fakeSummary()))
  const { root } = assertWellFormedXml(svg)
  assert.equal(root, 'svg')
  assert.equal((svg.match(/<g class="panel"/g) ?? []).length, 2)
  assert.match(svg, /naive — all off \(singleFlight\)/)
  assert.match(svg, /hardened — singleFlight on/)
})

test('every panel row shades each fault window and marks each instant fault', () => {
  const svg = renderChart(chartInput(fakeSummary()))
  // 2 panels × 3 rows: a rect for the 10–20 s window, a line for the instant flush.
  assert.equal((svg.match(/<rect class="fault" data-fault="0"/g) ?? []).length, 6)
  assert.equal((svg.match(/<line class="fault" data-fault="1"/g) ?? []).length, 6)
  const rect = /<rect class="fault" data-fault="0" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/.exec(svg)
  assert.ok(rect)
  assert.ok(Number(rect[2]) > 0, 'the window has a width')
})

test('series paths for throughput, goodput, p50, p99 and errors are present in both panels', () => {
  const svg = renderChart(chartInput(fakeSummary()))
  for (const cls of ['throughput', 'goodput', 'p50', 'p99', 'errors']) {
    const paths = svg.match(new RegExp(`<path class="series ${cls}" d="M[^"]+"`, 'g')) ?? []
    assert.ok(paths.length >= 2, `${cls}: ${paths.length} paths`)
  }
})

/** The fake run with fills per second: 20 at each expiry naive, 1 hardened, from summary.json's `metricSeries`. */
function withFills(): Summary {
  const summary = fakeSummary()
  for (const [mode, peak] of [
    ['naive', 20],
    ['hardened', 1],
  ] as const) {
    const run = summary.modes[mode] as ModeSummary
    run.metricSeries = [
      {
        metric: 'shortener_db_lookups_total',
        kind: 'rate',
        invariants: ['Postgres fills per key per expiry'],
        points: Array.from({ length: 30 }, (_, t) => ({ t, value: t >= 10 && t % 3 === 1 ? peak : 0 })),
      },
    ]
  }
  return summary
}

/** The y coordinates of a path's points. */
function ys(d: string): number[] {
  return [...d.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]))
}

test('a metric an invariant names gets its own row, per second, on one scale for both modes', () => {
  const svg = renderChart(chartInput(withFills()))
  assertWellFormedXml(svg)
  assert.equal((svg.match(/<g class="row metric">/g) ?? []).length, 2)
  assert.match(
    svg,
    /shortener_db_lookups_total<\/tspan><tspan[^>]*>· per second · for “Postgres fills per key per expiry”</,
  )
  // 2 panels × 4 rows now: every row, the metric's too, shades the fault window.
  assert.equal((svg.match(/<rect class="fault" data-fault="0"/g) ?? []).length, 8)
  const [naive, hardened] = [...svg.matchAll(/<path class="series metric" d="([^"]+)"/g)].map((m) =>
    ys(m[1] as string),
  )
  assert.ok(naive && hardened)
  // Shared scale: hardened's peak of 1 stays near the baseline that naive's peak of 20 rises far above.
  const base = Math.max(...naive)
  const rise = (points: number[]) => base - Math.min(...points)
  assert.ok(rise(naive) > 100, `naive rises ${rise(naive)} px`)
  assert.ok(rise(hardened) < rise(naive) / 10, `hardened rises ${rise(hardened)} px, naive ${rise(naive)} px`)
  assert.match(
    renderReport(withFills()),
    /!\[Throughput, latency, errors and shortener_db_lookups_total per second/,
  )
})

test('a summary without metric series (older runs) renders the three request rows only', () => {
  const svg = renderChart(chartInput(fakeSummary()))
  assert.equal((svg.match(/<g class="row metric">/g) ?? []).length, 0)
})

test('labels are escaped and missing seconds break the latency line', () => {
  const svg = renderChart({
    title: 'a <b> & "c"',
    durationS: 10,
    panels: [
      { title: 'x', series: series(10, (t) => (t === 5 ? { count: 0, p50Ms: null, p99Ms: null } : {})) },
    ],
    faults: [{ fault: 0, label: 'flush <cache> & co', fromS: 3, toS: 3, firesS: [3] }],
  })
  assertWellFormedXml(svg)
  assert.match(svg, /a &lt;b&gt; &amp; &quot;c&quot;/)
  const p99 = /<path class="series p99" d="([^"]+)"/.exec(svg)?.[1] ?? ''
  assert.equal((p99.match(/M/g) ?? []).length, 2, 'a gap at 5 s starts a new subpath')
})

test('faults that start together get labels side by side', () => {
  const svg = renderChart({
    title: 't',
    durationS: 20,
    panels: [{ title: 'x', series: series(20, () => ({})) }],
    faults: [
      { fault: 0, label: 'a', fromS: 5, toS: 10, firesS: [5] },
      { fault: 1, label: 'b', fromS: 5, toS: 10, firesS: [5] },
    ],
  })
  const x = (label: string) => Number(new RegExp(`<text x="([\\d.]+)"[^>]*>${label}</text>`).exec(svg)?.[1])
  assert.ok(Number.isFinite(x('F1')) && Number.isFinite(x('F2')))
  assert.ok(x('F2') - x('F1') >= 15, `F1 at ${x('F1')}, F2 at ${x('F2')}`)
})

test('an empty run still renders a valid chart', () => {
  assertWellFormedXml(renderChart({ title: 't', durationS: 5, panels: [], faults: [] }))
})

test('the XML checker itself rejects broken documents', () => {
  assert.throws(() => assertWellFormedXml('<svg><g></svg>'))
  assert.throws(() => assertWellFormedXml('<svg><text>a & b</text></svg>'))
  assert.throws(() => assertWellFormedXml('<svg a="1" a="2"/>'))
  assert.throws(() => assertWellFormedXml('<svg x=1/>'))
})

test('verdict: fail naive + hold hardened reproduces; every other combination does not', () => {
  const r = (name: string, holds: boolean, expect: 'reproduces' | 'always' = 'reproduces') => ({
    name,
    expected: 'x',
    expect,
    holds,
    observed: holds ? 'ok' : 'bad',
  })
  const v = computeVerdict({
    naive: [
      r('a', false),
      r('b', true),
      r('c', false),
      r('d', true),
      r('e', true, 'always'),
      r('f', false, 'always'),
    ],
    hardened: [
      r('a', true),
      r('b', true),
      r('c', false),
      r('d', false),
      r('e', true, 'always'),
      r('f', true, 'always'),
    ],
  })
  assert.deepEqual(
    v.rows.map((row) => [row.name, row.verdict, row.pass]),
    [
      ['a', 'reproduced', true],
      ['b', 'not reproduced: naive held', false],
      ['c', 'mitigation insufficient', false],
      ['d', 'inverted', false],
      ['e', 'holds', true],
      ['f', 'violated', false],
    ],
  )
  assert.equal(v.reproduces, false)
  assert.match(v.headline, /^NOT REPRODUCED/)
  const ok = computeVerdict({
    naive: [r('a', false), r('e', true, 'always')],
    hardened: [r('a', true), r('e', true, 'always')],
  })
  assert.equal(ok.reproduces, true)
  assert.equal(ok.headline, 'REPRODUCED: 1 invariant fails naive and holds hardened; 1 check holds in both')
  const single = computeVerdict({ naive: [r('a', false)] })
  assert.equal(single.reproduces, null)
  assert.equal(single.rows[0]?.verdict, 'single mode')
})

test('the terminal table lists each invariant with both modes', () => {
  const table = renderVerdictTable(fakeSummary().verdict)
  const lines = table.split('\n')
  assert.match(lines[0] ?? '', /^invariant\s+expected\s+naive\s+hardened\s+verdict$/)
  assert.match(table, /p99 latency in the fault window\s+≤ 250 ms\s+✗ 950 ms\s+✓ 12 ms\s+reproduced/)
  assert.match(table, /REPRODUCED/)
  const esc = String.fromCharCode(27)
  assert.ok(!table.includes(esc), 'no colour unless asked')
  assert.ok(renderVerdictTable(fakeSummary().verdict, { color: true }).includes(`${esc}[32m`))
})

test('report.md: catalog row, verdict table, chart, numbers, timeline, command, machine', () => {
  const md = renderReport(fakeSummary())
  assert.match(md, /^# pm10 · Hot-key stampede — shortener/)
  assert.match(md, /\*\*Incident:\*\* Scaling Memcache at Facebook/)
  assert.match(md, /\*\*Mechanism:\*\* hot key expiry/)
  assert.match(md, /\| p99 latency in the fault window \| ≤ 250 ms \| ❌ 950 ms \| ✅ 12 ms \| reproduced \|/)
  assert.match(md, /!\[[^\]]+\]\(chart\.svg\)/)
  assert.match(md, /\| requests \| 3000 \| 3000 \|/)
  assert.match(md, /\| error rate, fault window \(10–20 s\) \| 40\.0% \| 0% \|/)
  assert.match(md, /\| F1 \| 10 s \| 20 s \| latency 1000 ms on redis-cache \|/)
  assert.match(md, /10 s · F1 latency 1000 ms on redis-cache fired/)
  assert.match(md, /```sh\n\.\/faultline lab run shortener\/pm10-hot-key-stampede\n```/)
  assert.match(md, /Test CPU, 2 cores, 4 GiB RAM/)
  assert.match(md, /2026-01-31 12:00:00 UTC/)
  assert.match(md, /\| redirect \|/, 'per-op table when there are several ops')
})
