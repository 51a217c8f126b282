// The runner's failure paths, without infrastructure (`infra: 'external'`): a service that cannot
// start, and an interrupted run. Both must release everything and still write what they have.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { defineExperiment } from '../src/experiment.ts'
import { latency } from '../src/faults/index.ts'
import { errorRateBelow } from '../src/invariants.ts'
import { labStateDir } from '../src/paths.ts'
import { defaultCommand, LabRunError, runDirFor, runExperiment } from '../src/runner.ts'
import { crashingSystem } from './fixtures/selftest.system.ts'

const broken = defineExperiment({
  id: 'pm00',
  slug: 'broken',
  system: crashingSystem,
  title: 'a service that crashes at boot',
  catalog: { incident: 'none', mechanism: 'none' },
  services: { api: { startTimeoutS: 5 } },
  mitigations: { redisTimeout: true },
  load: { script: 'packages/lab/test/fixtures/selftest-load.js', durationS: 5 },
  timeline: [{ at: 1, until: 2, action: latency('redis-cache', 100) }],
  invariants: [errorRateBelow(0.01)],
})

test('a service that cannot start fails the run with its log, writes a partial report and releases the lock', async () => {
  const out = mkdtempSync(join(tmpdir(), 'lab-runner-'))
  const err = await runExperiment(broken, { out, infra: 'external' }).then(
    () => assert.fail('the run should fail'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof LabRunError)
  assert.match(err.message, /naive run failed: api-0 did not start: exited with 1/)
  assert.equal(err.summary.aborted?.startsWith('naive run failed'), true)
  assert.equal(err.summary.modes.hardened, undefined, 'hardened is not attempted after naive failed')
  const dir = err.summary.outDir as string
  assert.match(readFileSync(join(dir, 'report.md'), 'utf8'), /Run incomplete: naive run failed/)
  assert.ok(existsSync(join(dir, 'logs', 'naive', 'api-0.log')))
  assert.equal(existsSync(join(labStateDir, 'run.lock')), false)
})

test('an aborted run is reported as interrupted', async () => {
  const controller = new AbortController()
  controller.abort()
  await assert.rejects(
    runExperiment(broken, { out: false, infra: 'external', signal: controller.signal }),
    (e: unknown) => {
      assert.ok(e instanceof LabRunError)
      assert.match(e.summary.aborted ?? '', /interrupted/)
      return true
    },
  )
})

test('results go to <out>/<system>/<id>-<slug>/<UTC timestamp>; the command names the variant', () => {
  const dir = runDirFor('/r', broken, new Date('2026-01-31T12:34:56.789Z'))
  assert.equal(dir, '/r/lab/pm00-broken/2026-01-31T12-34-56Z')
  assert.equal(
    defaultCommand(broken, { ci: true, mode: 'naive' }),
    './faultline lab run lab/pm00-broken --ci --mode naive',
  )
})
