/**
 * What a request waits while Redis is gone or slow, with our plugin's failure policy (fail-open,
 * DECISION_DEADLINE_MS): the plugin reaches Redis through Toxiproxy's `redis-cache` proxy, which
 * the run disables (connections refused: Redis gone) or slows (a latency toxic far above the
 * deadline). The hello-world at the same rate is the floor of the generator and the machine.
 * Target (docs/ratelimiter.md): p99 ≤ deadline + 2 ms over the floor, and nothing hangs.
 */
import { latency, withProxyDisabled, withToxic } from '@faultline/toxiproxy'
import { type CandidateSpec, type LoadRun, label, runLoad, startInstances } from './runs.ts'
import type { RunSettings } from './throughput-run.ts'

export interface OutageRun {
  condition: 'hello (floor)' | 'redis healthy' | 'redis gone' | 'redis slow (+500 ms)'
  candidate: string
  rate: number
  run: LoadRun
}

const rate = 500
const proxy = 'redis-cache'

export async function measureOutage(s: RunSettings): Promise<OutageRun[]> {
  const plugin: CandidateSpec = {
    name: 'plugin',
    algorithm: 'sliding-log',
    env: {
      REDIS_URL: s.redisUrl,
      LIMIT: '10000',
      WINDOW_MS: '1000',
      KEY_PREFIX: `bench:${s.runId}:outage`,
      DEADLINE_MS: String(s.deadlineMs),
      FAILURE_POLICY: 'open',
    },
  }
  const results: OutageRun[] = []
  const load = async (urls: string[], name: string) =>
    runLoad({
      urls,
      mode: 'get',
      scenario: 'rate',
      rate,
      durationS: s.durationS,
      warmupS: 1,
      vus: 32,
      keys: 1000,
      keyPrefix: `${s.runId}-o`,
      logDir: s.logDir,
      name,
    })
  const hello = await startInstances({ name: 'hello', env: {} }, 1, s.logDir)
  try {
    s.log('outage: hello-world floor …')
    results.push({
      condition: 'hello (floor)',
      candidate: 'hello',
      rate,
      run: await load(hello.urls, 'outage-hello'),
    })
  } finally {
    await hello.stop()
  }
  const instances = await startInstances(plugin, 1, s.logDir)
  try {
    s.log('outage: redis healthy …')
    results.push({
      condition: 'redis healthy',
      candidate: label(plugin),
      rate,
      run: await load(instances.urls, 'outage-healthy'),
    })
    s.log('outage: redis gone (proxy disabled) …')
    const gone = await withProxyDisabled(proxy, () => load(instances.urls, 'outage-gone'))
    results.push({ condition: 'redis gone', candidate: label(plugin), rate, run: gone })
    s.log('outage: redis slow (+500 ms latency toxic) …')
    const slow = await withToxic(proxy, latency({ latencyMs: 500, stream: 'downstream' }), () =>
      load(instances.urls, 'outage-slow'),
    )
    results.push({ condition: 'redis slow (+500 ms)', candidate: label(plugin), rate, run: slow })
  } finally {
    await instances.stop()
  }
  return results
}
