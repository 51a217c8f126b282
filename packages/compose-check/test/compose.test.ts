/**
 * docker-compose.yml, checked without a Docker engine: against the Compose Specification
 * schema Docker Compose itself embeds, and against Faultline's own rules. Every rule also
 * has a test that breaks a copy of the real file and expects that rule's error, so a check
 * that silently passes everything cannot hide here.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ports, proxies } from '@faultline/infra'
import {
  checkDockerfile,
  checkFaultlineRules,
  composeFileName,
  composeSchemaFile,
  defaultRepoRoot,
  environmentOf,
  expectedPublishedPorts,
  expectedServiceEnv,
  loadProject,
  type Project,
  parseComposeText,
  parsePort,
  validateComposeSchema,
} from '../src/index.ts'

const composeText = readFileSync(join(defaultRepoRoot, composeFileName), 'utf8')
const dockerfilePath = 'infra/docker/service.Dockerfile'
const dockerfileText = readFileSync(join(defaultRepoRoot, dockerfilePath), 'utf8')

/** Replaces exactly one occurrence, so a test whose needle went stale fails instead of passing vacuously. */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from)
  assert.notEqual(at, -1, `test fixture: ${JSON.stringify(from)} not found`)
  assert.equal(text.indexOf(from, at + 1), -1, `test fixture: ${JSON.stringify(from)} found more than once`)
  return text.slice(0, at) + to + text.slice(at + from.length)
}

/**
 * Replaces `from` with `to` exactly once inside one service's block (from its key under
 * `services:` to the next service key), so an edit cannot land in an anchor or another service.
 */
function editService(name: string, from: string | RegExp, to: string): string {
  const servicesAt = composeText.indexOf('\nservices:\n')
  const start = composeText.indexOf(`\n  ${name}:\n`, servicesAt)
  assert.ok(servicesAt !== -1 && start !== -1, `test fixture: service ${name} not found`)
  const next = composeText.slice(start + 1).search(/\n {2}[a-z0-9-]+:\n|\n\S/)
  const end = next === -1 ? composeText.length : start + 1 + next
  const block = composeText.slice(start, end)
  const edited = typeof from === 'string' ? replaceOnce(block, from, to) : block.replace(from, to)
  assert.notEqual(edited, block, `test fixture: ${String(from)} not found in service ${name}`)
  return composeText.slice(0, start) + edited + composeText.slice(end)
}

function problemsFor(text: string, patch?: (project: Project) => void): string[] {
  const project = loadProject(defaultRepoRoot, text)
  patch?.(project)
  return checkFaultlineRules(project)
}

function assertProblem(problems: string[], pattern: RegExp): void {
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `expected a problem matching ${pattern}, got:\n${problems.join('\n') || '(none)'}`,
  )
}

function services(): Record<string, Record<string, unknown>> {
  return (parseComposeText(composeText) as { services: Record<string, Record<string, unknown>> }).services
}

describe('the vendored Compose Specification schema', () => {
  test('is the compose-go file SOURCE.md names, unmodified', () => {
    const source = readFileSync(new URL('../schema/SOURCE.md', import.meta.url), 'utf8')
    const recorded = /\| sha256 \| `([0-9a-f]{64})` \|/.exec(source)?.[1]
    const actual = createHash('sha256').update(readFileSync(composeSchemaFile)).digest('hex')
    assert.equal(actual, recorded)
    assert.match(source, /`github\.com\/compose-spec\/compose-go\/v2`/)
    const schema = JSON.parse(readFileSync(composeSchemaFile, 'utf8')) as Record<string, unknown>
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema')
    assert.equal(schema.title, 'Compose Specification')
  })
})

describe('docker-compose.yml against the Compose Specification schema', () => {
  test('is valid', () => {
    assert.deepEqual(validateComposeSchema(parseComposeText(composeText)), [])
  })

  test('a copy with a misspelt key fails', () => {
    const broken = editService('kafka', '    healthcheck:\n', '    healthchek:\n')
    assertProblem(
      validateComposeSchema(parseComposeText(broken)),
      /\/services\/kafka .*unevaluated.*'healthchek'/,
    )
  })

  test('a copy with an unknown depends_on condition fails', () => {
    const broken = editService('grafana', 'condition: service_healthy', 'condition: service_ready')
    assertProblem(
      validateComposeSchema(parseComposeText(broken)),
      /\/services\/grafana\/depends_on\/prometheus\/condition must be equal to one of the allowed values/,
    )
  })

  test('a copy with a wrongly typed value fails', () => {
    const broken = editService('toxiproxy', 'mem_limit: 128m', 'mem_limit: [128m]')
    assertProblem(
      validateComposeSchema(parseComposeText(broken)),
      /\/services\/toxiproxy\/mem_limit must be number,string/,
    )
  })

  test('a copy with a top-level typo fails', () => {
    const broken = replaceOnce(composeText, '\nvolumes:\n', '\nvolume:\n')
    assertProblem(validateComposeSchema(parseComposeText(broken)), /\(root\) must NOT have .*'volume'/)
  })
})

describe("docker-compose.yml against Faultline's rules", () => {
  test('has no problems', () => {
    assert.deepEqual(checkFaultlineRules(loadProject()), [])
  })

  test('publishes exactly the ports of topology.ts, on 127.0.0.1', () => {
    const all = services()
    for (const [name, want] of Object.entries(expectedPublishedPorts())) {
      const have = ((all[name]?.ports ?? []) as string[]).map((entry) => {
        const parsed = parsePort(entry)
        assert.ok(typeof parsed !== 'string', parsed as string)
        assert.equal(parsed.hostIp, '127.0.0.1')
        return { published: parsed.published, target: parsed.target }
      })
      assert.deepEqual(
        have.sort((a, b) => a.published - b.published),
        [...want].sort((a, b) => a.published - b.published),
        name,
      )
    }
    // The table in words, so a reader sees the numbers without running anything.
    assert.deepEqual(
      expectedPublishedPorts().toxiproxy?.map((m) => m.published),
      [ports.toxiproxyApi, ...Object.values(proxies).map((p) => p.listenPort)],
    )
    assert.equal(ports.postgresPrimary, 15432)
  })

  test('toxiproxy.json is topology.proxies, forwarding to compose services', () => {
    const config = JSON.parse(readFileSync(join(defaultRepoRoot, 'infra/compose/toxiproxy.json'), 'utf8'))
    assert.deepEqual(
      config,
      Object.values(proxies).map((p) => ({
        name: p.name,
        listen: `0.0.0.0:${p.listenPort}`,
        upstream: `${p.composeService}:${p.containerPort}`,
        enabled: true,
      })),
    )
  })

  test('the shortener profile runs the api and the worker from the service Dockerfile', () => {
    const all = services()
    const shortener = Object.entries(all).filter(([, s]) =>
      (s.profiles as string[] | undefined)?.includes('shortener'),
    )
    assert.deepEqual(shortener.map(([name]) => name).sort(), ['shortener-api', 'shortener-worker'])
    for (const [, service] of shortener) {
      assert.deepEqual(service.build, {
        context: '.',
        dockerfile: dockerfilePath,
        args: { SERVICE: 'shortener' },
      })
    }
    assert.deepEqual(all['shortener-api']?.command, ['node', 'src/server.ts'])
    assert.deepEqual(all['shortener-worker']?.command, ['node', 'src/worker.ts'])
  })

  test('services get the Toxiproxy addresses of serviceEnv()', () => {
    const env = environmentOf(services()['shortener-api'] ?? {})
    for (const [key, value] of Object.entries(expectedServiceEnv())) assert.equal(env[key], value, key)
    assert.equal(env.DATABASE_URL, 'postgres://faultline:faultline@toxiproxy:25432/faultline')
    assert.equal(env.KAFKA_BROKERS, 'toxiproxy:29092')
  })

  test('the k6 tool targets the shortener on the compose network, and only project services are allowed', () => {
    const all = services()
    const env = environmentOf(all.k6 ?? {})
    const target = new URL(env.BASE_URL ?? '')
    assert.ok(all[target.hostname], `BASE_URL host ${target.hostname} is a compose service`)
    assert.equal(environmentOf(all[target.hostname] ?? {}).PORT, target.port)
    const allowed = (env.LOAD_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim())
    assert.ok(allowed.includes(target.hostname), 'the target is in LOAD_ALLOWED_HOSTS')
    for (const host of allowed)
      assert.ok(all[host], `LOAD_ALLOWED_HOSTS names only compose services: ${host}`)
  })

  test('the queue Redis never evicts and persists, the cache Redis evicts LRU', () => {
    const command = (name: string) => (services()[name]?.command as string[]).join(' ')
    assert.match(command('redis-queue'), /--maxmemory-policy noeviction/)
    assert.match(command('redis-queue'), /--appendonly yes/)
    assert.match(command('redis-cache'), /--maxmemory-policy allkeys-lru/)
  })
})

describe('broken copies fail the rule they break', () => {
  test('a service without a healthcheck', () => {
    const broken = editService('redis-cache', / {4}healthcheck:\n(?: {6}.*\n)+/, '')
    assertProblem(problemsFor(broken), /^redis-cache: needs a healthcheck/)
  })

  test('a service without a memory limit', () => {
    const broken = editService('s3', '    mem_limit: 256m\n', '')
    assertProblem(problemsFor(broken), /^s3: needs a memory limit/)
  })

  test('depends_on without a health condition', () => {
    const broken = editService('grafana', 'condition: service_healthy', 'condition: service_started')
    assertProblem(problemsFor(broken), /^grafana: depends_on prometheus must use condition: service_healthy/)
  })

  test('a published port that differs from topology.ts', () => {
    const broken = replaceOnce(composeText, '127.0.0.1:15432:5432', '127.0.0.1:15439:5432')
    const problems = problemsFor(broken)
    assertProblem(problems, /^postgres: publishes \[15439:5432\], topology.ts says \[15432:5432\]/)
    assertProblem(problems, /^ports\.postgresPrimary \(15432\) is published by no service/)
  })

  test('a port published on every interface', () => {
    const broken = replaceOnce(composeText, '127.0.0.1:16380:6379', '16380:6379')
    assertProblem(problemsFor(broken), /^redis-queue: port 16380 must bind 127\.0\.0\.1 only/)
  })

  test('the internal controller port published', () => {
    const broken = replaceOnce(
      composeText,
      '      - 127.0.0.1:19094:19094\n',
      '      - 127.0.0.1:19094:19094\n      - 127.0.0.1:19093:9093\n',
    )
    assertProblem(problemsFor(broken), /^ports\.kafkaController \(19093\) is internal but kafka publishes it/)
  })

  test('a proxy that bypasses the component it names', () => {
    const problems = problemsFor(composeText, (project) => {
      const config = project.toxiproxyConfig as Array<Record<string, unknown>>
      const redis = config.find((p) => p.name === 'redis-cache')
      assert.ok(redis)
      redis.upstream = 'redis-queue:6379'
      config.pop()
    })
    assertProblem(problems, /proxy redis-cache must forward to redis-cache:6379, has redis-queue:6379/)
    assertProblem(problems, /proxy s3 is missing/)
  })

  test('a queue Redis that evicts', () => {
    const broken = editService('redis-queue', '- noeviction', '- allkeys-lru')
    assertProblem(problemsFor(broken), /^redis-queue: must run with --maxmemory-policy noeviction/)
  })

  test('a Kafka that advertises itself instead of the proxy', () => {
    const broken = replaceOnce(composeText, 'CLIENT://toxiproxy:29092', 'CLIENT://kafka:9092')
    assertProblem(problemsFor(broken), /^kafka: the listener on 9092 must advertise toxiproxy:29092/)
  })

  test('a system service outside its profile', () => {
    const broken = editService('shortener-worker', '    profiles: [shortener]\n', '')
    assertProblem(
      problemsFor(broken),
      /^shortener-worker: a shortener service belongs to exactly the profile "shortener"/,
    )
  })

  test('an infrastructure service under a profile', () => {
    const broken = editService('toxiproxy', '  toxiproxy:\n', '  toxiproxy:\n    profiles: [chaos]\n')
    assertProblem(problemsFor(broken), /^toxiproxy: infrastructure has no profile/)
  })

  test('an always-on service that depends on a profiled one', () => {
    const broken = editService(
      'grafana',
      '    depends_on:\n',
      '    depends_on:\n      shortener-api:\n        condition: service_healthy\n',
    )
    assertProblem(problemsFor(broken), /^grafana: is always on but depends on shortener-api/)
  })

  test('a service env that skips Toxiproxy', () => {
    const broken = replaceOnce(
      composeText,
      'REDIS_URL: redis://toxiproxy:26379',
      'REDIS_URL: redis://redis-cache:6379',
    )
    assertProblem(
      problemsFor(broken),
      /^shortener-api: environment REDIS_URL must be redis:\/\/toxiproxy:26379/,
    )
  })

  test('a dollar sign Compose would interpolate', () => {
    const broken = replaceOnce(
      composeText,
      "'http://127.0.0.1:' + process.env.PORT",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the JavaScript inside a compose healthcheck.
      '`http://127.0.0.1:${process.env.PORT}`',
    )
    assertProblem(problemsFor(broken), /has an unescaped \$ that Compose would interpolate/)
  })

  test('a Dockerfile that does not exist', () => {
    const broken = replaceOnce(
      composeText,
      'dockerfile: infra/docker/service.Dockerfile',
      'dockerfile: infra/docker/missing.Dockerfile',
    )
    assertProblem(
      problemsFor(broken),
      /^shortener-api: Dockerfile infra\/docker\/missing\.Dockerfile does not exist/,
    )
  })

  test('a .dockerignore that drops the lockfile or keeps node_modules', () => {
    const problems = problemsFor(composeText, (project) => {
      project.dockerignore = 'pnpm-lock.yaml\n.git\n'
    })
    assertProblem(problems, /^\.dockerignore: must not exclude pnpm-lock\.yaml/)
    assertProblem(problems, /^\.dockerignore: must exclude node_modules\/x/)
  })
})

describe('the service Dockerfile pattern', () => {
  const expect = { packageManager: 'pnpm@10.34.8' }

  test('passes', () => {
    const rootPackage = JSON.parse(readFileSync(join(defaultRepoRoot, 'package.json'), 'utf8')) as {
      packageManager: string
    }
    assert.deepEqual(
      checkDockerfile(dockerfilePath, dockerfileText, { packageManager: rootPackage.packageManager }),
      [],
    )
  })

  test('a syntax error fails', () => {
    const broken = replaceOnce(dockerfileText, 'FROM base AS deps', 'FROM base AS deps extra')
    assertProblem(checkDockerfile('x', broken, expect), /FROM requires either one or three arguments/)
  })

  test('running as root fails', () => {
    const broken = replaceOnce(dockerfileText, 'USER node', 'USER root')
    assertProblem(checkDockerfile('x', broken, expect), /must run as `USER node`/)
  })

  test('a missing STOPSIGNAL or tini fails', () => {
    let broken = replaceOnce(dockerfileText, 'STOPSIGNAL SIGTERM\n', '')
    broken = replaceOnce(broken, 'ENTRYPOINT ["/usr/bin/tini", "--"]\n', '')
    const problems = checkDockerfile('x', broken, expect)
    assertProblem(problems, /STOPSIGNAL SIGTERM/)
    assertProblem(problems, /ENTRYPOINT must be tini/)
  })

  test('a final stage on another base, or a dev install, fails', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile ARG reference, not JavaScript.
    let broken = replaceOnce(dockerfileText, 'FROM ${NODE_IMAGE} AS runtime', 'FROM node:24 AS runtime')
    broken = replaceOnce(broken, 'pnpm install --frozen-lockfile --prod', 'pnpm install --frozen-lockfile')
    const problems = checkDockerfile('x', broken, expect)
    assertProblem(problems, /FROM node:24: every stage must start from node:24-slim/)
    assertProblem(problems, /pnpm install --frozen-lockfile --prod/)
  })

  test('a pnpm version that drifts from packageManager fails', () => {
    assertProblem(
      checkDockerfile('x', dockerfileText, { packageManager: 'pnpm@99.0.0' }),
      /ARG PNPM_VERSION=10\.34\.8 must equal the root packageManager \(pnpm@99\.0\.0\)/,
    )
  })
})

describe('parsePort', () => {
  test('reads the short and long syntax', () => {
    assert.deepEqual(parsePort('127.0.0.1:15432:5432'), {
      hostIp: '127.0.0.1',
      published: 15432,
      target: 5432,
      protocol: 'tcp',
    })
    assert.deepEqual(parsePort('8080:80/udp'), {
      hostIp: undefined,
      published: 8080,
      target: 80,
      protocol: 'udp',
    })
    assert.deepEqual(parsePort('[::1]:9000:9000'), {
      hostIp: '[::1]',
      published: 9000,
      target: 9000,
      protocol: 'tcp',
    })
    assert.deepEqual(parsePort({ target: 80, published: '8081', host_ip: '127.0.0.1' }), {
      hostIp: '127.0.0.1',
      published: 8081,
      target: 80,
      protocol: 'tcp',
    })
    assert.equal(Number.isNaN((parsePort('3000') as { published: number }).published), true)
    assert.equal(typeof parsePort('3000-3005:3000-3005'), 'string')
  })
})
