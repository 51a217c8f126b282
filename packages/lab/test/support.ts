/** Test helpers: a synthetic run summary and a small XML well-formedness checker. */
import { computeVerdict } from '../src/report/verdict.ts'
import type { ModeSummary, Stats, Summary } from '../src/summary.ts'
import type { SecondStats } from '../src/timeseries.ts'

const entityRef = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/

function checkText(text: string, where: string): void {
  for (let i = text.indexOf('&'); i !== -1; i = text.indexOf('&', i + 1)) {
    if (!entityRef.test(text.slice(i))) throw new Error(`bare & in ${where}: ${text.slice(i, i + 20)}`)
  }
  if (text.includes('<')) throw new Error(`bare < in ${where}`)
}

/**
 * Throws unless `xml` is well-formed: one root, tags nest and close, attributes are quoted and
 * unique, text and attribute values escape & and <. Enough for generated SVG (no CDATA, no DTD).
 */
export function assertWellFormedXml(xml: string): { root: string; elements: number } {
  const stack: string[] = []
  let root = ''
  let elements = 0
  let i = 0
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '')
  while (i < body.length) {
    const lt = body.indexOf('<', i)
    const text = lt === -1 ? body.slice(i) : body.slice(i, lt)
    checkText(text, 'text')
    if (lt === -1) {
      if (text.trim() !== '') throw new Error('text after the root element')
      break
    }
    if (stack.length === 0 && root !== '' && body.slice(lt).trim() !== '')
      throw new Error('content after the root element')
    const gt = body.indexOf('>', lt)
    if (gt === -1) throw new Error('unterminated tag')
    const tag = body.slice(lt + 1, gt)
    i = gt + 1
    if (tag.startsWith('!--')) continue
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim()
      const open = stack.pop()
      if (open !== name) throw new Error(`</${name}> closes <${open}>`)
      continue
    }
    const selfClosing = tag.endsWith('/')
    const inner = selfClosing ? tag.slice(0, -1) : tag
    const m = /^([A-Za-z_][\w:.-]*)([\s\S]*)$/.exec(inner)
    if (!m) throw new Error(`bad tag <${tag}>`)
    const [, name, attrs] = m as unknown as [string, string, string]
    const seen = new Set<string>()
    const attrPattern = /\s+([A-Za-z_][\w:.-]*)="([^"]*)"/y
    let rest = attrs.replace(/\s+$/, '')
    attrPattern.lastIndex = 0
    let pos = 0
    while (pos < rest.length) {
      attrPattern.lastIndex = pos
      const a = attrPattern.exec(rest)
      if (!a) throw new Error(`bad attributes in <${name}>: ${rest.slice(pos, pos + 40)}`)
      if (seen.has(a[1] as string)) throw new Error(`duplicate attribute ${a[1]} in <${name}>`)
      seen.add(a[1] as string)
      checkText(a[2] as string, `attribute ${a[1]}`)
      pos = attrPattern.lastIndex
    }
    rest = ''
    elements++
    if (!root) root = name
    else if (stack.length === 0) throw new Error('second root element')
    if (!selfClosing) stack.push(name)
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('> <')}>`)
  return { root, elements }
}

export function series(durationS: number, shape: (t: number) => Partial<SecondStats>): SecondStats[] {
  return Array.from({ length: durationS }, (_, t) => ({
    t,
    count: 100,
    ok: 100,
    errors: 0,
    errorRate: 0,
    p50Ms: 2,
    p99Ms: 8,
    maxMs: 12,
    ...shape(t),
  }))
}

const stats: Stats = {
  requests: 3000,
  ok: 2900,
  errors: 100,
  errorRate: 1 / 30,
  rps: 100,
  p50Ms: 2,
  p99Ms: 900,
  maxMs: 1000,
}

function modeSummary(mode: 'naive' | 'hardened', holds: boolean): ModeSummary {
  const broken = mode === 'naive'
  return {
    mode,
    mitigations: { singleFlight: !broken },
    appliedMitigations: { 'api-0': { singleFlight: !broken } },
    startedAt: '2026-01-31T12:00:00.000Z',
    loadStartEpochMs: 0,
    durationS: 30,
    k6: { command: 'k6 run x.js', exitCode: broken ? 99 : 0, requests: 3000 },
    totals: stats,
    inFault: { ...stats, errorRate: broken ? 0.4 : 0 },
    faultWindow: { fromS: 10, toS: 20 },
    byOp: { redirect: stats, create: { ...stats, requests: 30 } },
    series: series(31, (t) =>
      broken && t >= 10 && t < 20 ? { p99Ms: 950, p50Ms: 400, errors: 40, ok: 60, errorRate: 0.4 } : {},
    ),
    events: [
      {
        fault: 0,
        occurrence: 0,
        label: 'latency 1000 ms on redis-cache',
        phase: 'inject',
        status: 'ok',
        tS: 10.01,
        plannedS: 10,
        tookMs: 4,
      },
      {
        fault: 0,
        occurrence: 0,
        label: 'latency 1000 ms on redis-cache',
        phase: 'heal',
        status: 'ok',
        tS: 20,
        plannedS: 20,
        tookMs: 3,
        reason: 'until',
      },
    ],
    invariants: [
      {
        name: 'p99 latency in the fault window',
        expected: '≤ 250 ms',
        expect: 'reproduces',
        holds,
        observed: holds ? '12 ms' : '950 ms',
      },
      { name: 'no lost writes', expected: '0 lost', expect: 'always', holds: true, observed: 0 },
    ],
    readiness: [],
    metrics: { before: {}, after: {} },
    services: [{ name: 'api-0', pid: 1, port: 4000, logFile: `logs/${mode}/api-0.log` }],
    files: { ledger: `ledger-${mode}.csv`, k6Log: `logs/${mode}/k6.log`, logs: [`logs/${mode}/api-0.log`] },
    errors: [],
  }
}

export function fakeSummary(): Summary {
  const naive = modeSummary('naive', false)
  const hardened = modeSummary('hardened', true)
  return {
    schema: 'faultline.lab.summary/1',
    experiment: {
      name: 'shortener/pm10-hot-key-stampede',
      id: 'pm10',
      slug: 'hot-key-stampede',
      system: 'shortener',
      title: 'Hot-key stampede',
      variant: 'full',
      catalog: {
        id: 'pm10',
        incident: "Scaling Memcache at Facebook, NSDI'13 (leases)",
        mechanism: 'hot key expiry → every concurrent miss queries the DB',
      },
      services: { api: { entry: 'services/shortener/src/server.ts', instances: 2 } },
      load: { script: 'loadtests/shortener/hot-key.js', durationS: 30, env: { RATE: '400' } },
      mitigations: { singleFlight: true },
      timeline: [
        { at: 10, until: 20, label: 'latency 1000 ms on redis-cache', kind: 'toxic' },
        { at: 25, label: 'flush <cache> & co', kind: 'flushRedis' },
      ],
      faults: [
        { fault: 0, label: 'latency 1000 ms on redis-cache', fromS: 10, toS: 20, firesS: [10] },
        { fault: 1, label: 'flush <cache> & co', fromS: 25, toS: 25, firesS: [25] },
      ],
      invariants: [
        { name: 'p99 latency in the fault window', expected: '≤ 250 ms', expect: 'reproduces' },
        { name: 'no lost writes', expected: '0 lost', expect: 'always' },
      ],
    },
    command: './faultline lab run shortener/pm10-hot-key-stampede',
    startedAt: '2026-01-31T12:00:00.000Z',
    finishedAt: '2026-01-31T12:02:00.000Z',
    machine: {
      cpuModel: 'Test CPU',
      cores: 2,
      memoryGiB: 4,
      os: 'Linux',
      node: 'v24.0.0',
      k6: 'k6 v1.8.1',
      hostname: 'h',
    },
    infra: 'native',
    modes: { naive, hardened },
    verdict: computeVerdict({ naive: naive.invariants, hardened: hardened.invariants }),
  }
}
