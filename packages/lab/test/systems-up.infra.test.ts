/**
 * `./faultline up shortener` serves redirects on the published port, and `down` leaves no
 * process behind: the pids `up` started are gone and the ports are free again.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { isAlive, systemPorts } from '@faultline/infra'
import { repoRoot } from '../src/paths.ts'

const run = promisify(execFile)
const cli = join(repoRoot, 'packages', 'lab', 'src', 'systems', 'cli.ts')
const faultline = (...args: string[]) =>
  run(process.execPath, [cli, ...args], { cwd: repoRoot, timeout: 180_000 })

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

test('up shortener serves redirects; down leaves no process', async (t) => {
  t.after(() => faultline('down', 'shortener').catch(() => {}))
  const { api, worker } = systemPorts.shortener
  const started = await faultline('up', 'shortener')
  assert.match(started.stdout, /shortener is up/)
  assert.match(started.stdout, new RegExp(`http://127\\.0\\.0\\.1:${api}`))
  assert.match(started.stdout, /singleFlight\s+on/, 'the switches are listed with their live state')
  assert.match(started.stdout, /\.\/faultline lab run shortener\/pm/, 'an experiment is suggested')

  const created = await fetch(`http://127.0.0.1:${api}/api/links`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://example.com/up-test' }),
  })
  assert.equal(created.status, 201)
  const { code, shortUrl } = (await created.json()) as { code: string; shortUrl: string }
  assert.equal(shortUrl, `http://127.0.0.1:${api}/${code}`, 'short URLs carry the published port')
  const redirect = await fetch(`http://127.0.0.1:${api}/${code}`, { redirect: 'manual' })
  assert.ok([301, 302].includes(redirect.status), `redirect status ${redirect.status}`)
  assert.equal(redirect.headers.get('location'), 'https://example.com/up-test')
  const workerHealth = await fetch(`http://127.0.0.1:${worker}/healthz`)
  assert.equal(workerHealth.status, 200)

  // Idempotent: a second `up` finds both healthy and starts nothing.
  const again = await faultline('up', 'shortener')
  assert.match(again.stderr, /already healthy/)

  const ps = await faultline('ps')
  const pids = [...ps.stdout.matchAll(/^shortener\s+\S+\s+healthy\s+(\d+)/gm)].map((m) => Number(m[1]))
  assert.equal(pids.length, 2, ps.stdout)

  await faultline('down', 'shortener')
  for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} is still running after down`)
  assert.equal(await portOpen(api), false, `port ${api} is still open`)
  assert.equal(await portOpen(worker), false, `port ${worker} is still open`)
  const after = await faultline('ps')
  assert.doesNotMatch(after.stdout, /^shortener\s+\S+\s+(healthy|unhealthy)/m)
})
