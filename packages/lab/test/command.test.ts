import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FaultContext } from '../src/faults/action.ts'
import { command } from '../src/faults/index.ts'
import { externalInfra } from '../src/infra.ts'

function ctx(signal = new AbortController().signal): FaultContext {
  return {
    mode: 'hardened',
    mitigations: { lockTimeout: true },
    signal,
    infra: externalInfra({}),
    fleet: { switchEnv: () => ({ MITIGATION_LOCK_TIMEOUT: 'true' }) },
  } as unknown as FaultContext
}

test('command runs with the mode, the switches and the infra URLs in its env', async () => {
  const script =
    'console.log([process.env.LAB_MODE, process.env.MITIGATION_LOCK_TIMEOUT, process.env.EXTRA, !!process.env.DATABASE_URL].join(" "))'
  const result = await command('node', ['-e', script], { env: (c) => ({ EXTRA: c.mode }) }).run(ctx())
  assert.match(result?.note ?? '', /^exit 0 in [\d.]+ s: hardened true hardened true$/)
})

test('a non-zero exit fails the action with the last output', async () => {
  await assert.rejects(
    command('node', ['-e', 'console.error("lock timeout"); process.exit(3)']).run(ctx()),
    /exited with 3 .*lock timeout/,
  )
})

test('aborting terminates a running command', async () => {
  const controller = new AbortController()
  const running = command('node', ['-e', 'setTimeout(() => {}, 60000)']).run(ctx(controller.signal))
  setTimeout(() => controller.abort(), 200)
  await assert.rejects(running, /exited with SIGTERM/)
})
