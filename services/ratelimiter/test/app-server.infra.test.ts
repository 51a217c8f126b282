/**
 * The real process (src/server.ts): boots on the rules file, re-reads it on SIGHUP (a bad file is
 * logged and the version stays), and exits 0 on SIGTERM.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { freePort } from '@faultline/infra'
import { testInfra } from '@faultline/testkit'
import { RatelimiterFixture } from '../src/fixture.ts'

const serverPath = fileURLToPath(new URL('../src/server.ts', import.meta.url))
const rules = (version: number) =>
  `version: ${version}\ndomains:\n  - domain: api\n    descriptors:\n      - key: k\n        rate_limit: { requests_per_unit: 1, unit: minute }\n`

/** Polls until `read` returns `want` or `attempts` run out (bounded; no time is asserted). */
async function eventually<T>(read: () => Promise<T>, want: T, attempts = 100): Promise<T> {
  let last: T | undefined
  for (let i = 0; i < attempts; i++) {
    last = await read().catch(() => undefined as T)
    if (last === want) return last
    await sleep(50)
  }
  return last as T
}

test('server.ts: SIGHUP reloads the rules file (a bad one changes nothing); SIGTERM exits 0', async (t) => {
  const infra = await testInfra(t, { need: ['redis'] })
  const dir = await mkdtemp(join(tmpdir(), 'ratelimiter-server-'))
  infra.defer(() => rm(dir, { recursive: true, force: true }))
  const rulesFile = join(dir, 'rules.yaml')
  await writeFile(rulesFile, rules(1))
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, [serverPath], {
    env: {
      ...process.env,
      PORT: String(port),
      REDIS_URL: infra.urls.redisUrl,
      REDIS_KEY_PREFIX: infra.keyPrefix(),
      RULES_FILE: rulesFile,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = once(child, 'exit')
  infra.defer(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const base = `http://127.0.0.1:${port}`
  const fixture = new RatelimiterFixture()
  const version = () => fixture.appliedVersion(base)
  assert.equal(await eventually(version, 1), 1, stderr)

  const decide = await fetch(`${base}/v1/decide`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ domain: 'api', descriptors: [{ key: 'k', value: 'v' }] }),
  })
  assert.equal(decide.status, 200)
  assert.equal(((await decide.json()) as { overall: string }).overall, 'OK')

  await writeFile(rulesFile, 'version: 2\ndomains: nope\n')
  child.kill('SIGHUP')
  // The bad file is refused: the rejection is counted, the version stays 1.
  const rejected = async () => {
    const text = await (await fetch(`${base}/metrics`)).text()
    return /ratelimiter_rules_applies_total\{[^}]*outcome="rejected"[^}]*\} 1/.test(text)
  }
  assert.equal(await eventually(rejected, true), true)
  assert.equal(await version(), 1)
  assert.equal(child.exitCode, null, 'SIGHUP does not stop the process')

  await writeFile(rulesFile, rules(2))
  child.kill('SIGHUP')
  assert.equal(await eventually(version, 2), 2)

  child.kill('SIGTERM')
  const [code] = await exited
  assert.equal(code, 0, stderr)
})

test('server.ts: a bad rules file at boot exits 1 with every reason', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ratelimiter-server-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const rulesFile = join(dir, 'rules.json')
  await writeFile(
    rulesFile,
    JSON.stringify({ version: 0, domains: [{ domain: 'api', descriptors: [{ key: '' }] }] }),
  )
  const child = spawn(process.execPath, [serverPath], {
    env: { ...process.env, PORT: String(await freePort()), RULES_FILE: rulesFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const [code] = await once(child, 'exit')
  assert.equal(code, 1)
  for (const reason of [
    'version: must be a positive integer',
    'domains[0].descriptors[0].key: must not be empty',
    'domains[0].descriptors[0]: needs rate_limit or descriptors',
  ]) {
    assert.ok(stderr.includes(reason), `missing "${reason}" in: ${stderr}`)
  }
})
