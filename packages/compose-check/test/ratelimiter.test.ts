/**
 * The rate limiter's compose file, held to the same rules as the shortener's: its own file,
 * its own profile, the service image, the Toxiproxy addresses, the host ports of topology.ts
 * (including its second listener, the decision service's gRPC port), a scrape target and a k6
 * host per HTTP process. The broken copies show the generic rules catch its mistakes too.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { systemPorts } from '@faultline/infra'
import {
  checkFaultlineRules,
  environmentOf,
  expectedServiceEnv,
  loadProject,
  parsePort,
} from '../src/index.ts'
import { assertProblem, editFile, editService, problemsFor } from './broken-copy.ts'

const ratelimiterFile = 'services/ratelimiter/compose.yaml'
const processes = ['ratelimiter-api', 'ratelimiter-gateway'] as const

function services(): Record<string, Record<string, unknown>> {
  return (loadProject().compose as { services: Record<string, Record<string, unknown>> }).services
}

function published(service: Record<string, unknown>): Array<{ published: number; target: number }> {
  return ((service.ports ?? []) as string[]).map((entry) => {
    const parsed = parsePort(entry)
    assert.ok(typeof parsed !== 'string', parsed as string)
    return parsed
  })
}

/** The host port the decision service's gRPC listener (GRPC_PORT inside) is published on. */
function grpcHostPort(texts: Record<string, string> = {}): number | undefined {
  const compose = loadProject(undefined, texts).compose as {
    services: Record<string, Record<string, unknown>>
  }
  const api = compose.services['ratelimiter-api'] ?? {}
  const target = Number(environmentOf(api).GRPC_PORT)
  return published(api).find((m) => m.target === target)?.published
}

describe('the ratelimiter under compose', () => {
  test('has no problems', () => {
    assert.deepEqual(checkFaultlineRules(loadProject()), [])
  })

  test('its profile runs the decision service and the gateway from the service Dockerfile, from its own file', () => {
    const project = loadProject()
    const all = services()
    const inProfile = Object.entries(all)
      .filter(([, s]) => (s.profiles as string[] | undefined)?.includes('ratelimiter'))
      .map(([name]) => name)
      .sort()
    assert.deepEqual(inProfile, [...processes])
    for (const name of processes) {
      assert.equal(project.serviceFiles[name], ratelimiterFile)
      assert.deepEqual(all[name]?.build, {
        context: '.',
        dockerfile: 'infra/docker/service.Dockerfile',
        args: { SERVICE: 'ratelimiter' },
      })
      assert.equal(all[name]?.image, 'faultline/ratelimiter:local')
      assert.equal(all[name]?.pull_policy, 'build')
      const env = environmentOf(all[name] ?? {})
      for (const [key, value] of Object.entries(expectedServiceEnv())) assert.equal(env[key], value, key)
      assert.equal(env.REDIS_URL, 'redis://toxiproxy:26379')
      const dependsOn = all[name]?.depends_on as Record<string, { condition: string }>
      assert.equal(dependsOn['redis-cache']?.condition, 'service_healthy')
      assert.equal(dependsOn.toxiproxy?.condition, 'service_healthy')
      assert.equal(dependsOn['redis-cluster']?.condition, 'service_healthy')
    }
    assert.deepEqual(all['ratelimiter-api']?.command, ['node', 'src/server.ts'])
    assert.deepEqual(all['ratelimiter-gateway']?.command, ['node', 'src/gateway.ts'])
  })

  test('publishes the ports of systemPorts.ratelimiter: api and gateway on PORT, grpc on GRPC_PORT', () => {
    const all = services()
    const { api, gateway, grpc } = systemPorts.ratelimiter
    const hostPorts = (name: string) =>
      published(all[name] ?? {})
        .map((m) => m.published)
        .sort()
    assert.deepEqual(hostPorts('ratelimiter-api'), [api, grpc])
    assert.deepEqual(hostPorts('ratelimiter-gateway'), [gateway])
    assert.equal(grpcHostPort(), grpc)
    assert.equal(environmentOf(all['ratelimiter-api'] ?? {}).PUBLIC_BASE_URL, `http://127.0.0.1:${api}`)
    assert.equal(
      environmentOf(all['ratelimiter-gateway'] ?? {}).PUBLIC_BASE_URL,
      `http://127.0.0.1:${gateway}`,
    )
  })

  test('k6 may load both HTTP processes, and Prometheus scrapes both', () => {
    const allowed = (environmentOf(services().k6 ?? {}).LOAD_ALLOWED_HOSTS ?? '').split(',')
    const targets = JSON.stringify(loadProject().prometheusConfig)
    for (const name of processes) {
      assert.ok(allowed.includes(name), `${name} in LOAD_ALLOWED_HOSTS`)
      assert.ok(targets.includes(`"${name}:3000"`), `${name} scraped`)
    }
  })
})

describe('broken copies of the ratelimiter file', () => {
  test('the gateway published on a port systemPorts does not give it', () => {
    const broken = editFile(ratelimiterFile, '127.0.0.1:18092:3000', '127.0.0.1:18099:3000')
    assertProblem(
      problemsFor(broken),
      /^ratelimiter-gateway: must publish 127\.0\.0\.1:18092:3000 \(topology\.ts systemPorts\.ratelimiter\.gateway\)/,
    )
  })

  test('the gRPC port published somewhere else than its GRPC_PORT', () => {
    const broken = editFile(ratelimiterFile, '127.0.0.1:18091:8081', '127.0.0.1:18091:9999')
    assert.equal(grpcHostPort(broken), undefined)
  })

  test('a gateway outside its profile', () => {
    assertProblem(
      problemsFor(editService('ratelimiter-gateway', '    profiles: [ratelimiter]\n', '')),
      /^ratelimiter-gateway: a ratelimiter service belongs to exactly the profile "ratelimiter"/,
    )
  })

  test('the gateway missing from LOAD_ALLOWED_HOSTS', () => {
    const broken = editService(
      'k6',
      'LOAD_ALLOWED_HOSTS: shortener-api,ratelimiter-api,ratelimiter-gateway',
      'LOAD_ALLOWED_HOSTS: shortener-api,ratelimiter-api',
    )
    assertProblem(problemsFor(broken), /^k6: LOAD_ALLOWED_HOSTS must list ratelimiter-gateway/)
  })

  test('without a scrape target for the decision service', () => {
    const problems = problemsFor({}, (project) => {
      const config = project.prometheusConfig as { scrape_configs: Array<{ job_name: string }> }
      config.scrape_configs = config.scrape_configs.filter((job) => job.job_name !== 'ratelimiter-api')
    })
    assertProblem(problems, /^prometheus\.yml: no scrape target ratelimiter-api:3000/)
  })
})
