// Real child processes (the self-test fixture service); no infrastructure needed: its Redis
// client just retries in the background and /healthz does not depend on it.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { repoRoot } from '../src/paths.ts'
import { ServiceFleet } from '../src/services.ts'
import { crashingSystem, twoRoleSystem } from './fixtures/selftest.system.ts'

function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
}

type FleetOptions = ConstructorParameters<typeof ServiceFleet>[0]

/** A started fleet of the two-role self-test system, stopped after the test; `applied` lists the instances that got their switches. */
async function startTwoRoleFleet(
  t: TestContext,
  options: Pick<FleetOptions, 'services' | 'mode' | 'mitigations' | 'baseEnv'>,
): Promise<{ fleet: ServiceFleet; applied: string[] }> {
  const applied: string[] = []
  const fleet = new ServiceFleet({
    repoRoot,
    system: twoRoleSystem,
    ...options,
    logDir: mkdtempSync(join(tmpdir(), 'lab-fleet-')),
    log: () => {},
    afterStart: async (instance) => {
      applied.push(instance.name)
    },
  })
  t.after(() => fleet.stopAll())
  await fleet.start()
  return { fleet, applied }
}

test('a fleet starts instances on distinct ports, signals, restarts and stops them', async (t) => {
  const { fleet, applied } = await startTwoRoleFleet(t, {
    services: { api: { instances: 2, env: { REDIS_URL: 'redis://127.0.0.1:1' } } },
    mode: 'hardened',
    mitigations: { redisTimeout: true },
    baseEnv: {},
  })
  const [a, b] = fleet.instancesOf('api')
  assert.ok(a?.url && b?.url && a.pid && b.pid)
  assert.notEqual(a.port, b.port)
  assert.deepEqual(applied.sort(), ['api-0', 'api-1'])
  const switches = await (await fetch(`${a.url}/admin/mitigations`)).json()
  assert.deepEqual(switches, { redisTimeout: true }, 'the MITIGATIONS env reached the process')

  fleet.signal(a, 'SIGSTOP')
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(processState(a.pid), 'T')
  fleet.signal(a, 'SIGCONT')

  const oldPid = b.pid
  fleet.signal(b, 'SIGKILL')
  assert.equal(await fleet.waitExit(b), true)
  assert.equal(b.alive, false)
  await fleet.restart(b)
  assert.equal(b.alive, true)
  assert.notEqual(b.pid, oldPid)
  assert.equal((await fetch(`${b.url}/healthz`)).status, 200, 'back on the same port')
  assert.equal(applied.length, 3, 'mitigations re-applied after the restart')

  fleet.signal(a, 'SIGSTOP')
  await fleet.stopAll(2000)
  assert.equal(a.alive, false, 'a stopped process is continued so it can exit')
  assert.equal(b.alive, false)
})

test('a service that crashes at boot fails the start with its log tail', async () => {
  const fleet = new ServiceFleet({
    repoRoot,
    system: crashingSystem,
    services: { api: { instances: 1, startTimeoutS: 5 } },
    mode: 'naive',
    mitigations: {},
    baseEnv: {},
    logDir: mkdtempSync(join(tmpdir(), 'lab-fleet-')),
    log: () => {},
  })
  await assert.rejects(fleet.start(), /api-0 did not start: exited with 1/)
  await fleet.stopAll()
})

test('a worker gets a port too: it is health-waited, switched and scraped like an HTTP service', async (t) => {
  const { fleet, applied } = await startTwoRoleFleet(t, {
    services: { api: {}, worker: { instances: 2 } },
    mode: 'naive',
    mitigations: { redisTimeout: false },
    baseEnv: { REDIS_URL: 'redis://127.0.0.1:1' },
  })
  const workers = fleet.instancesOf('worker')
  assert.deepEqual(
    workers.map((w) => w.name),
    ['worker-0', 'worker-1'],
  )
  assert.equal(new Set(fleet.instances.map((i) => i.port)).size, 3, 'every process has its own port')
  assert.deepEqual(applied.sort(), ['api-0', 'worker-0', 'worker-1'])
  assert.equal(fleet.serviceOf(workers[0] as (typeof workers)[0]).role, 'worker')
  assert.equal((await fetch(`${workers[1]?.url}/metrics`)).status, 200)
  assert.deepEqual(fleet.switchEnv(), { MITIGATION_REDIS_TIMEOUT: 'false' })
  await fleet.kill(workers[0] as (typeof workers)[0])
  assert.equal(workers[0]?.alive, false)
})
