import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parsePrometheusText, sumSeries } from '@faultline/measure'
import { cpuGroup, parseProcEntry, parseProcStat, parseStatTicks } from '../src/proc.ts'
import { metricsFromPrometheus, named, parseRedisInfo } from '../src/sampler.ts'
import type { SystemMetric } from '../src/target.ts'

const scrape = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total{service="shortener",instance="vm-1"} 20.5
pg_pool_requests_waiting{pool="primary",service="shortener"} 2
pg_pool_requests_waiting{pool="replica",service="shortener"} 1
pg_pool_clients_total{pool="primary",service="shortener"} 10
shortener_clicks_spooled{service="shortener"} 123
shortener_cache_hits_total{kind="link"} 900
shortener_cache_hits_total{kind="stale"} 100
shortener_cache_misses_total 7
shortener_clicks_dropped_total{reason="spool_full"} 0
shortener_clicks_dropped_total{reason="shutdown"} 3
http_request_duration_seconds_bucket{le="+Inf"} 5
weird_label{msg="a \\"quoted\\" value, with comma"} 1 1700000000000
`

test('the Prometheus text parser reads names, labels (escapes included) and values', () => {
  const samples = parsePrometheusText(scrape)
  assert.equal(samples.length, 12)
  assert.deepEqual(samples[0], {
    name: 'process_cpu_seconds_total',
    labels: { service: 'shortener', instance: 'vm-1' },
    value: 20.5,
  })
  assert.equal(samples.find((s) => s.name === 'weird_label')?.labels.msg, 'a "quoted" value, with comma')
  assert.equal(samples.find((s) => s.name === 'http_request_duration_seconds_bucket')?.value, 5)
  assert.equal(sumSeries(samples, 'shortener_cache_hits_total'), 1000)
  assert.equal(sumSeries(samples, /^nothing$/), undefined)
})

/** A target's own series, as services/shortener/src/bench-target.ts declares them. */
const systemMetrics: Record<string, SystemMetric> = {
  spool: { kind: 'gauge', select: [named('shortener_clicks_spooled')] },
  clicksDropped: { kind: 'counter', select: [named('shortener_clicks_dropped_total')] },
  cacheHits: {
    kind: 'counter',
    select: [named('nothing_by_this_name'), named('shortener_cache_hits_total')],
  },
  cacheMisses: { kind: 'counter', select: [named('shortener_cache_misses_total')] },
  dbLookups: { kind: 'counter', select: [named('shortener_db_lookups_total')] },
}

test("the generic series and the target's own are picked and summed across labels", () => {
  // cacheHits: the first selector matches nothing, so the second is used; dbLookups: absent.
  assert.deepEqual(metricsFromPrometheus(parsePrometheusText(scrape), systemMetrics), {
    processCpuSeconds: 20.5,
    poolWaiting: 3,
    poolTotal: 10,
    spool: 123,
    clicksDropped: 3,
    cacheHits: 1000,
    cacheMisses: 7,
  })
  // Without a target, only what every service exposes.
  assert.deepEqual(metricsFromPrometheus(parsePrometheusText(scrape)), {
    processCpuSeconds: 20.5,
    poolWaiting: 3,
    poolTotal: 10,
  })
  // A service writing its own pool gauge is still read by the generic `…pool…waiting` fallback.
  const own = parsePrometheusText('myapp_pool_waiting{pool="a"} 4\nmyapp_pool_waiting_bucket{le="1"} 9\n')
  assert.equal(metricsFromPrometheus(own).poolWaiting, 4)
})

test('Redis INFO gives total and main-thread CPU and the command count', () => {
  const info = [
    '# CPU',
    'used_cpu_sys:1.50',
    'used_cpu_user:2.25',
    'used_cpu_sys_main_thread:1.00',
    'used_cpu_user_main_thread:2.00',
    '',
    '# Stats',
    'total_commands_processed:12345',
    'instantaneous_ops_per_sec:678',
  ].join('\r\n')
  assert.deepEqual(parseRedisInfo(info), {
    cpuSeconds: 3.75,
    mainThreadCpuSeconds: 3,
    commands: 12345,
    opsPerSec: 678,
  })
  assert.equal(parseRedisInfo('# Server\r\nredis_version:7.0.0'), undefined)
})

test('/proc stat lines: the command may hold spaces and parentheses', () => {
  // utime (field 14) = 250, stime (field 15) = 50 clock ticks.
  const stat = '4242 (node (my app)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 0 0'
  assert.equal(parseStatTicks(stat), 300)
  const entry = parseProcEntry(stat)
  assert.equal(entry?.pid, 4242)
  assert.equal(entry?.comm, 'node (my app)')
  assert.ok((entry?.cpuSeconds ?? 0) > 0)
  assert.equal(parseStatTicks('garbage'), undefined)
})

test('/proc/stat: busy excludes idle and iowait, over all cores', () => {
  const text = 'cpu  100 10 50 800 40 0 5 0 0 0\ncpu0 50 5 25 400 20 0 2 0 0 0\n'
  assert.deepEqual(parseProcStat(text), { busy: 165, total: 1005 })
})

test('processes are grouped by what the bench started, then by infrastructure name', () => {
  const known = new Map([[10, 'api']])
  assert.equal(cpuGroup('MainThread', 10, known), 'api')
  assert.equal(cpuGroup('postgres', 11, known), 'postgres')
  assert.equal(cpuGroup('redis-server', 12, known), 'redis')
  assert.equal(cpuGroup('java', 13, known), 'kafka')
  assert.equal(cpuGroup('toxiproxy-serve', 14, known), 'toxiproxy')
  assert.equal(cpuGroup('versitygw', 18, known), 's3')
  assert.equal(cpuGroup('k6', 15, known), 'other')
  assert.equal(cpuGroup('MainThread', 16, known), 'other')
})
