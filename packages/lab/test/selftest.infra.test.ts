// The lab end to end on the real native topology (`./faultline infra up`): k6, Toxiproxy, Redis,
// two instances of the fixture service, naive then hardened. About 40 s.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '../src/runner.ts'
import selftest from './fixtures/selftest.experiment.ts'
import { assertWellFormedXml } from './support.ts'

test('the self-test reproduces: its invariants fail naive and hold hardened (CI variant)', async () => {
  const out = mkdtempSync(join(tmpdir(), 'lab-results-'))
  const summary = await runExperiment(selftest, { ci: true, out })
  assertReproduces(summary)

  const dir = summary.outDir as string
  assert.ok(dir.startsWith(join(out, 'lab', 'pm00-selftest')))
  for (const file of ['report.md', 'summary.json', 'chart.svg', 'ledger-naive.csv', 'ledger-hardened.csv']) {
    assert.ok(existsSync(join(dir, file)), file)
  }
  assert.ok(existsSync(join(out, 'lab', 'pm00-selftest', 'latest', 'report.md')), 'latest points at the run')
  assertWellFormedXml(readFileSync(join(dir, 'chart.svg'), 'utf8'))

  const naive = summary.modes.naive
  const hardened = summary.modes.hardened
  assert.ok(naive && hardened)
  assert.deepEqual(naive.mitigations, { redisTimeout: false })
  assert.deepEqual(
    hardened.appliedMitigations['api-0'],
    { redisTimeout: true },
    'the switch went through the admin endpoint',
  )
  // By construction: with a 1 s latency toxic and a 500 ms client timeout, naive requests in the
  // window cannot finish under 500 ms; hardened ones wait at least the 100 ms fallback timer.
  assert.ok((naive.inFault?.p99Ms ?? 0) >= 500)
  assert.ok((hardened.inFault?.p50Ms ?? 0) >= 100)
  assert.ok(naive.events.some((e) => e.phase === 'heal' && e.status === 'ok' && e.reason === 'until'))
  assert.equal(naive.k6.requests, naive.totals.requests)
  assert.ok(naive.readiness.length > 0, 'the sampler ran')
  assert.match(readFileSync(join(dir, 'report.md'), 'utf8'), /REPRODUCED/)
})
