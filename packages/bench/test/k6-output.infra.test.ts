// Runs the real k6 (installed by the infra) for a few seconds against a local server, through the
// same path the knee finder takes: step-ramp.js with the CSV output, parsed back into steps.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { repoRoot } from '@faultline/infra'
import { runK6 } from '@faultline/measure'
import { k6SystemTags, streamK6Csv } from '../src/k6-csv.ts'
import { planSteps, StepAggregator } from '../src/steps.ts'

test('step-ramp.js tags every plateau request with its step, and the CSV reads back into steps', async (t) => {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/teapot' ? 418 : 200, { 'content-type': 'text/plain' })
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dir = mkdtempSync(join(tmpdir(), 'bench-k6-'))
  t.after(() => {
    server.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const port = (server.address() as AddressInfo).port
  const plan = planSteps({ startRate: 20, step: 20, maxRate: 40, holdSeconds: 2 })
  const csvPath = join(dir, 'k6.csv')
  const run = await runK6({
    script: join(repoRoot, 'loadtests', 'shortener', 'step-ramp.js'),
    env: {
      BASE_URL: `http://127.0.0.1:${port}`,
      TARGET_PATH: '/',
      START_RATE: '20',
      STEP: '20',
      STEPS: '2',
      STEP_DURATION: '2s',
      RAMP_DURATION: '1s',
      VUS: '5',
      MAX_VUS: '20',
    },
    csvPath,
    systemTags: k6SystemTags,
    summaryPath: join(dir, 'summary.json'),
    logFile: join(dir, 'k6.log'),
    timeoutMs: 60_000,
  })
  assert.equal(run.exitCode, 0, `k6 failed; log in ${join(dir, 'k6.log')}`)
  assert.equal(run.summary?.schema, 'faultline.k6-summary/1')

  const agg = new StepAggregator()
  const seenSteps = new Set<string>()
  await streamK6Csv(csvPath, ['http_req_duration', 'dropped_iterations'], (s) => {
    if (s.tags.step) seenSteps.add(s.tags.step)
    assert.equal(s.tags.op, 'baseline')
    agg.add(s)
  })
  assert.deepEqual([...seenSteps].sort(), ['01', '02', 'ramp-01', 'ramp-02'])
  const [one, two] = agg.steps(plan)
  assert.ok(
    (one?.requests ?? 0) > 0 && (two?.requests ?? 0) > (one?.requests ?? 0),
    JSON.stringify([one, two]),
  )
  assert.equal(one?.failures, 0)
  assert.equal(two?.failures, 0)
  // k6's own per-step count (observe-only thresholds on {step:NN}) agrees with the CSV.
  assert.equal(run.summary?.metrics['http_reqs{step:02}']?.values.count, two?.requests)
})
