/**
 * WORKER_NICE reaches every thread of the worker: the ones that exist when it is set (libuv's pool,
 * V8's, libvips') and the ones started after (the processor threads). Checked in a child process,
 * since a raised nice value cannot be lowered again without privileges.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { getPriority } from 'node:os'
import { test } from 'node:test'

/** What the child starts at: this process's own nice (a CI runner may already be niced). */
const inherited = getPriority()

const child = `
import 'sharp' // its libvips threads exist before the priority is set, as in the worker
import { readFileSync, readdirSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { lowerPriority } from ${JSON.stringify(new URL('../src/worker/priority.ts', import.meta.url).href)}
const before = readdirSync('/proc/self/task').length
lowerPriority(7, console)
const thread = new Worker('setInterval(() => {}, 1000)', { eval: true })
await new Promise((resolve) => thread.once('online', resolve))
const nices = readdirSync('/proc/self/task').map((tid) =>
  Number(readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' ')[16]),
)
console.log(JSON.stringify({ before, nices }))
await thread.terminate()
`

test(
  'every thread of the process runs at the nice value, those started later too',
  { skip: process.platform !== 'linux' },
  () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8' })
    const { before, nices } = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
      before: number
      nices: number[]
    }
    assert.ok(before > 1, 'threads existed before the priority was set')
    assert.ok(nices.length > before, 'a thread was started after it')
    assert.deepEqual([...new Set(nices)], [Math.max(7, inherited)], `nice per thread: ${nices.join(' ')}`)
  },
)

test('0 leaves the priority alone', () => {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { lowerPriority } from ${JSON.stringify(new URL('../src/worker/priority.ts', import.meta.url).href)}; import { getPriority } from 'node:os'; lowerPriority(0, console); console.log(getPriority())`,
    ],
    { encoding: 'utf8' },
  )
  assert.equal(out.trim(), String(inherited))
})
