/**
 * The CLI contract scripts rely on: `up` is idempotent (a second run touches nothing), `status`
 * reports every component healthy and `--quiet` answers with the exit code alone, and a port held
 * by a process that is not ours is refused with a message naming it. Never takes the shared
 * infrastructure down: other packages' tests run against it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { before, test } from 'node:test'
import type { ComponentStatus } from '../src/component.ts'
import { defaultContext } from '../src/paths.ts'
import { PortInUseError } from '../src/ports.ts'
import { componentNames } from '../src/registry.ts'
import { InfraError, infraUp } from '../src/runner.ts'
import { ports } from '../src/topology.ts'
import { cli, ensureUp, upTimeoutMs } from './support.ts'

before(() => ensureUp(), { timeout: upTimeoutMs })

async function statuses(): Promise<ComponentStatus[]> {
  const result = await cli('status', '--json')
  return JSON.parse(result.stdout) as ComponentStatus[]
}

test('status reports every component healthy', async () => {
  const all = await statuses()
  assert.deepEqual(
    all.map((s) => s.name),
    componentNames(),
  )
  for (const s of all) assert.ok(s.healthy, `${s.name} is not healthy: ${s.detail ?? ''}`)

  const quiet = await cli('status', '--quiet')
  assert.equal(quiet.code, 0)
  assert.equal(quiet.stdout, '')

  const table = await cli('status')
  assert.equal(table.code, 0)
  assert.match(table.stdout, /^COMPONENT\s+STATE\s+PID\s+ADDRESS/)
  assert.match(
    table.stdout,
    new RegExp(`postgres\\s+healthy\\s+\\d+\\s+127\\.0\\.0\\.1:${ports.postgresPrimary}`),
  )
})

test('a second `up` is a no-op: every process keeps its pid', async () => {
  const before = await statuses()
  const again = await cli('up')
  assert.equal(again.code, 0, again.stderr)
  const after = await statuses()
  assert.deepEqual(
    after.map((s) => [s.name, s.pid]),
    before.map((s) => [s.name, s.pid]),
  )
  assert.doesNotMatch(again.stderr, /starting|started|initdb|pg_basebackup|go install/)
})

test('a port held by a process that is not ours is refused, naming that process', async () => {
  // Another state dir: to it, the running redis-cache on 16379 is a stranger's process.
  const stateDir = mkdtempSync(join(tmpdir(), 'faultline-infra-test-'))
  try {
    const ctx = defaultContext({ stateDir, log: () => {} })
    const error = await infraUp(['redis-cache'], ctx).then(
      () => assert.fail('up succeeded on a taken port'),
      (err: unknown) => err,
    )
    assert.ok(error instanceof InfraError)
    const cause = error.failures[0]?.error
    assert.ok(cause instanceof PortInUseError, String(cause))
    assert.equal(cause.port, ports.redisCache)
    assert.match(cause.message, /redis-server/)
  } finally {
    rmSync(stateDir, { recursive: true, force: true })
  }
})

test('--help prints the usage and the port table; an unknown component is an error', async () => {
  const help = await cli('--help')
  assert.equal(help.code, 0)
  assert.match(help.stdout, /usage: faultline infra/)
  assert.match(help.stdout, new RegExp(`redis-cache\\s+${ports.redisCache}\\s+26379`))
  const unknown = await cli('status', 'no-such-thing')
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /unknown component "no-such-thing"/)
})
