import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'

const cli = join(import.meta.dirname, '..', 'src', 'cli.ts')

function lab(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

test('--help works on the CLI and on every command', () => {
  const main = lab('--help')
  assert.equal(main.code, 0)
  assert.match(main.stdout, /usage: faultline lab <command>/)
  for (const command of ['list', 'show', 'run', 'report', 'test']) {
    const r = lab(command, '--help')
    assert.equal(r.code, 0, command)
    assert.match(r.stdout, new RegExp(`usage: faultline lab ${command}`))
  }
  assert.match(lab('run', '--help').stdout, /--mode naive\|hardened\|both/)
})

test('no command prints usage and exits 2; an unknown command or option exits 2', () => {
  assert.equal(lab().code, 2)
  const unknown = lab('explode')
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /unknown command "explode"/)
  assert.equal(lab('run', 'lab/selftest', '--bogus').code, 2)
  assert.match(lab('run', 'lab/selftest', '--mode', 'sideways').stderr, /--mode must be/)
})

test('list shows the self-test; show prints its plan, CI variant included', () => {
  const list = lab('list')
  assert.equal(list.code, 0)
  assert.match(list.stdout, /lab\/selftest\s+pm00/)
  const show = lab('show', 'lab/selftest', '--ci')
  assert.equal(show.code, 0)
  assert.match(show.stdout, /\(CI variant\)/)
  assert.match(show.stdout, /F1 4–10: latency 1000 ms on redis-cache/)
  assert.match(show.stdout, /p99 latency of item in the fault window: ≤ 250 ms/)
})

test('an unknown experiment names the known ones', () => {
  const r = lab('show', 'shortener/pm99')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /no experiment "shortener\/pm99"/)
  assert.match(r.stderr, /lab\/selftest/)
})
