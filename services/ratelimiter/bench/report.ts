/** bench.md: the tables of one benchmark run, with the targets of docs/ratelimiter.md beside them. */
import { markdownTable, ms, num } from '@faultline/bench'
import type { Accuracy } from './accuracy-run.ts'
import type { LatencyAtHalf } from './latency-run.ts'
import type { OutageRun } from './outage-run.ts'
import type { Throughput } from './throughput-run.ts'

export interface BenchResult {
  settings: {
    durationS: number
    vus: number
    limit: number
    windowMs: number
    deadlineMs: number
    accuracyDeadlineMs: number
  }
  throughput?: Throughput
  latency?: LatencyAtHalf[]
  accuracy?: Accuracy[]
  outage?: OutageRun[]
}

const exact = new Set(['plugin sliding-log', 'decision-service', 'gateway'])

const peers = ['fastify-rate-limit', 'rate-limiter-flexible']

function throughputSection(t: Throughput): string[] {
  const rows = t.rows.map((r) => [
    r.candidate,
    num(r.rps),
    r.ratioToHello === null ? '–' : `${r.ratioToHello.toFixed(2)}×`,
    ms(r.p50Ms),
    ms(r.p99Ms),
    `${(r.failedRate * 100).toFixed(2)} %`,
    r.degraded === null ? '–' : num(r.degraded),
  ])
  const fasterPeer = Math.max(...t.rows.filter((r) => peers.includes(r.candidate)).map((r) => r.rps), 0)
  const ours = t.rows.find((r) => r.candidate === 'plugin sliding-log')
  const service = t.rows.find((r) => r.candidate === 'decision-service')
  const floor = t.rows.find((r) => r.candidate === 'decide-floor')
  const echo = t.rows.find((r) => r.candidate === 'decide-echo')
  const verdicts = [
    ours && fasterPeer > 0
      ? `- Exact algorithm (sliding log) vs the faster peer: ${num(ours.rps)} vs ${num(fasterPeer)} req/s (${(ours.rps / fasterPeer).toFixed(2)}×; target ≥ 1.00) — ${ours.rps >= fasterPeer ? 'met' : 'NOT met'}`
      : undefined,
    service?.ratioToHello != null
      ? `- Decision service vs hello-world: ${service.ratioToHello.toFixed(2)}× (target ≥ 0.7) — ${service.ratioToHello >= 0.7 ? 'met' : 'NOT met'}`
      : undefined,
    echo?.ratioToHello != null
      ? `- Ceiling: the decision service's request answered without a decision (decide-echo) vs hello-world: ${echo.ratioToHello.toFixed(2)}×`
      : undefined,
    floor?.ratioToHello != null
      ? `- Ceiling: the request plus one Redis decision and nothing else (decide-floor) vs hello-world: ${floor.ratioToHello.toFixed(2)}×`
      : undefined,
    service && floor
      ? `- Decision service vs decide-floor (the cost of its rules, policy, validation, metrics and logs): ${(service.rps / floor.rps).toFixed(2)}×`
      : undefined,
  ].filter((l): l is string => l !== undefined)
  return [
    '## Throughput (closed model, 1 000 keys, every request admitted)',
    '',
    markdownTable(['candidate', 'req/s', 'vs hello', 'p50', 'p99', 'errors', 'degraded'], rows),
    '',
    ...verdicts,
    '',
  ]
}

function accuracySection(a: Accuracy[], s: BenchResult['settings']): string[] {
  const rows = a.map((r) => [
    r.candidate,
    String(r.instances),
    num(r.offeredPerS),
    num(r.admitted),
    num(r.maxInWindow),
    `${r.ratio.toFixed(2)}×`,
    r.degraded === null ? '–' : num(r.degraded),
  ])
  const worstExact = Math.max(...a.filter((r) => exact.has(r.candidate)).map((r) => r.ratio), 0)
  return [
    `## Accuracy (4 instances, one key, ${s.limit} per ${s.windowMs} ms)`,
    '',
    markdownTable(
      [
        'candidate',
        'instances',
        'offered/s',
        'admitted',
        `max in any ${s.windowMs} ms`,
        'max / limit',
        'degraded',
      ],
      rows,
    ),
    '',
    `- Exact (sliding log, deadline ${s.accuracyDeadlineMs} ms): ${worstExact.toFixed(2)}× (target 1.00) — ${worstExact <= 1 ? 'met' : 'NOT met'}. Token bucket and GCRA admit their burst plus the rate (up to 2× in one window with burst = limit): exact to their own definition, not to a sliding window. Exact covers our plugin, the decision service and the demo gateway (both on their default sliding log). Admission times: for our plugin the Redis time of the decision (the clock that decided), for the decision service and the gateway the same Redis time, read from their sliding logs in Redis every 200 ms (they have no bench hook), for the peers the handler's clock (they report no decision time; a request or two in flight at a window's edge can move between windows).`,
    '',
  ]
}

function latencySection(l: LatencyAtHalf): string[] {
  return [
    `## Latency at half the plugin's maximum (${num(l.rate)}/s, open model, ${l.generator})`,
    '',
    markdownTable(
      ['candidate', 'p50', 'p99', 'max', 'dropped'],
      [
        ['hello', ms(l.hello.p50Ms), ms(l.hello.p99Ms), ms(l.hello.maxMs), num(l.hello.dropped)],
        [
          'plugin sliding-log',
          ms(l.plugin.p50Ms),
          ms(l.plugin.p99Ms),
          ms(l.plugin.maxMs),
          num(l.plugin.dropped),
        ],
        ['rate-limiter-flexible', ms(l.peer.p50Ms), ms(l.peer.p99Ms), ms(l.peer.maxMs), num(l.peer.dropped)],
      ],
    ),
    '',
    `- p99 added by a decision (${l.generator}): ${ms(l.addedP99Ms)} (target ≤ 1 ms) — ${l.addedP99Ms !== null && l.addedP99Ms <= 1 ? 'met' : 'NOT met'}${l.plugin.dropped > 0.01 * l.plugin.requests ? `; ${num(l.plugin.dropped)} requests not sent on time` : ''}`,
    `- Ceiling: p99 added by rate-limiter-flexible at the same rate (one Redis round trip, nothing around it): ${ms(l.peerAddedP99Ms)}`,
    '',
  ]
}

function outageSection(o: OutageRun[], deadlineMs: number): string[] {
  const floor = o.find((r) => r.condition === 'hello (floor)')?.run.p99Ms ?? 0
  const rows = o.map((r) => [
    r.condition,
    r.candidate,
    num(r.rate),
    ms(r.run.p50Ms),
    ms(r.run.p99Ms),
    ms(r.run.maxMs),
    `${(r.run.failedRate * 100).toFixed(2)} %`,
  ])
  const verdicts = o
    .filter((r) => r.condition === 'redis gone' || r.condition.startsWith('redis slow'))
    .map((r) => {
      const added = (r.run.p99Ms ?? Number.POSITIVE_INFINITY) - floor
      return `- ${r.condition}: p99 ${ms(r.run.p99Ms)} = floor + ${ms(added)} (target ≤ deadline ${deadlineMs} ms + 2 ms) — ${added <= deadlineMs + 2 ? 'met' : 'NOT met'}; max ${ms(r.run.maxMs)}`
    })
  return [
    `## Redis outage (plugin, fail-open, deadline ${deadlineMs} ms, via Toxiproxy)`,
    '',
    markdownTable(['condition', 'candidate', 'rate/s', 'p50', 'p99', 'max', 'errors'], rows),
    '',
    ...verdicts,
    '',
  ]
}

export function renderReport(r: BenchResult, machine: string): string {
  return [
    '# Ratelimiter benchmark',
    '',
    `Machine: ${machine}`,
    '',
    ...(r.throughput ? throughputSection(r.throughput) : []),
    ...(r.latency ? r.latency.flatMap(latencySection) : []),
    ...(r.accuracy ? accuracySection(r.accuracy, r.settings) : []),
    ...(r.outage ? outageSection(r.outage, r.settings.deadlineMs) : []),
    'Command: `node services/ratelimiter/bench/compare.ts`',
    '',
  ].join('\n')
}
