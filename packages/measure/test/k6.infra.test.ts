// Needs the k6 binary the infra installs (`./faultline infra up k6`).
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { type K6Point, runK6 } from '../src/k6.ts'

test('runK6 streams one point per request through the pipe, after the start signal', async (t) => {
  let served = 0
  const server = createServer((req, res) => {
    served++
    res.writeHead(req.url === '/fail' ? 500 : 200)
    res.end('ok')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  const { port } = server.address() as AddressInfo
  const dir = mkdtempSync(join(tmpdir(), 'measure-k6-'))
  const script = join(dir, 'load.js')
  writeFileSync(
    script,
    `import http from 'k6/http'
import exec from 'k6/execution'
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 4, iterations: Number(__ENV.N) } } }
export default function () {
  const i = exec.scenario.iterationInTest
  http.get(__ENV.BASE_URL + (i % 5 === 0 ? '/fail' : '/ok'), { tags: { op: 'probe' } })
}
`,
  )
  const points: K6Point[] = []
  let startedBeforeFirstPoint = false
  let started = false
  const result = await runK6({
    script,
    env: { BASE_URL: `http://127.0.0.1:${port}`, N: '200' },
    cwd: dir,
    logFile: join(dir, 'k6.log'),
    workDir: dir,
    onStart: () => {
      started = true
    },
    onPoint: (p) => {
      if (points.length === 0) startedBeforeFirstPoint = started
      points.push(p)
    },
  })
  assert.equal(result.exitCode, 0, readFileSync(join(dir, 'k6.log'), 'utf8'))
  assert.equal(points.length, 200)
  assert.equal(result.points, 200)
  assert.equal(served, 200)
  assert.ok(startedBeforeFirstPoint)
  assert.equal(points.filter((p) => p.tags.status === '500').length, 40)
  assert.ok(points.every((p) => p.tags.op === 'probe'))
  assert.match(result.command, /--out json=.*\.fifo/)
})

test('runK6 returns when k6 fails before it opens its output (a broken script)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'measure-k6-'))
  const script = join(dir, 'broken.js')
  writeFileSync(script, 'this is not javascript (\n')
  const result = await runK6({
    script,
    env: {},
    cwd: dir,
    logFile: join(dir, 'k6.log'),
    workDir: dir,
    onPoint: () => {},
  })
  assert.notEqual(result.exitCode, 0)
  assert.equal(result.points, 0)
})

test('aborting stops k6 early', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'measure-k6-'))
  const script = join(dir, 'idle.js')
  writeFileSync(
    script,
    `import { sleep } from 'k6'
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '60s', gracefulStop: '0s' } } }
export default function () { sleep(0.1) }
`,
  )
  const controller = new AbortController()
  const run = runK6({
    script,
    env: {},
    cwd: dir,
    logFile: join(dir, 'k6.log'),
    workDir: dir,
    signal: controller.signal,
    onStart: () => setTimeout(() => controller.abort(), 500),
    onPoint: () => {},
  })
  const result = await run
  assert.equal(result.exitCode, 105, 'k6 reports an external abort (it would have run a minute otherwise)')
})
