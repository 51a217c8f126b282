/**
 * The compose project (docker-compose.yml and the files it includes), checked without a Docker
 * engine: every file against the Compose Specification schema Docker Compose itself embeds,
 * and the merged project against Faultline's own rules. Every rule also has a test that breaks
 * a copy of a real file and expects that rule's error, so a check that silently passes
 * everything cannot hide here.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ports, proxies } from '@faultline/infra'
import {
  checkFaultlineRules,
  composeSchemaFile,
  defaultRepoRoot,
  environmentOf,
  expectedProxies,
  expectedPublishedPorts,
  expectedServiceEnv,
  kafkaNetworkProxy,
  loadProject,
  parsePort,
  validateComposeSchema,
  validateProjectSchema,
} from '../src/index.ts'
import {
  assertProblem,
  baseFile,
  editFile,
  editService,
  problemsFor,
  rootFile,
  shortenerFile,
} from './broken-copy.ts'

const dockerfilePath = 'infra/docker/service.Dockerfile'

/** The merged project's services: root, included files and extends applied. */
function services(): Record<string, Record<string, unknown>> {
  return (loadProject().compose as { services: Record<string, Record<string, unknown>> }).services
}

function schemaErrors(texts: Record<string, string>): string[] {
  return validateProjectSchema(loadProject(defaultRepoRoot, texts))
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

describe('every compose file against the Compose Specification schema', () => {
  test('the root, each included system file and the shared base are valid, one by one', () => {
    const project = loadProject()
    // The root, every system's file (found under services/, so a new system needs no edit here) and the base.
    const paths = project.files.map((f) => f.path)
    assert.equal(paths[0], rootFile)
    assert.ok(paths.includes(shortenerFile) && paths.includes(baseFile), paths.join(', '))
    for (const file of project.systemComposeFiles) assert.ok(paths.includes(file), `${file} is not loaded`)
    for (const file of project.files) assert.deepEqual(validateComposeSchema(file.doc), [], file.path)
    assert.deepEqual(validateProjectSchema(project), [])
  })

  test('the merged project is a valid compose model too', () => {
    assert.deepEqual(validateComposeSchema(loadProject().compose), [])
  })

  test('a copy with a misspelt key fails', () => {
    const broken = editService('kafka', '    healthcheck:\n', '    healthchek:\n')
    assertProblem(
      schemaErrors(broken),
      /^docker-compose\.yml: schema: \/services\/kafka .*unevaluated.*'healthchek'/,
    )
  })

  test('a misspelt key in an included system file fails, named by its file', () => {
    const broken = editService('shortener-api', '    pull_policy: build\n', '    pull_polcy: build\n')
    assertProblem(
      schemaErrors(broken),
      /^services\/shortener\/compose\.yaml: schema: \/services\/shortener-api .*'pull_polcy'/,
    )
  })

  test('a copy with an unknown depends_on condition fails', () => {
    const broken = editService('grafana', 'condition: service_healthy', 'condition: service_ready')
    assertProblem(
      schemaErrors(broken),
      /\/services\/grafana\/depends_on\/prometheus\/condition must be equal to one of the allowed values/,
    )
  })

  test('a copy with a wrongly typed value fails', () => {
    const broken = editService('toxiproxy', 'mem_limit: 128m', 'mem_limit: [128m]')
    assertProblem(schemaErrors(broken), /\/services\/toxiproxy\/mem_limit must be number,string/)
  })

  test('a copy with a top-level typo fails', () => {
    const broken = editFile(rootFile, '\nvolumes:\n', '\nvolume:\n')
    assertProblem(schemaErrors(broken), /\(root\) must NOT have .*'volume'/)
  })
})

describe("the compose project against Faultline's rules", () => {
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

  test("toxiproxy.json is topology.proxies, forwarding to compose services, then Kafka's network-only proxy", () => {
    const config = JSON.parse(
      readFileSync(join(defaultRepoRoot, 'infra/compose/toxiproxy.json'), 'utf8'),
    ) as Array<{ name: string }>
    assert.deepEqual(
      config,
      expectedProxies().map((p) => ({ ...p, enabled: true })),
    )
    assert.deepEqual(
      config.map((p) => p.name),
      [...Object.values(proxies).map((p) => p.name), kafkaNetworkProxy.name],
    )
  })

  test('the shortener profile runs the api and the worker from the service Dockerfile, from its own file', () => {
    const all = services()
    const project = loadProject()
    assert.equal(project.serviceFiles['shortener-api'], shortenerFile)
    assert.equal(project.serviceFiles['shortener-worker'], shortenerFile)
    assert.equal(project.serviceFiles.kafka, rootFile)
    const shortener = Object.entries(all).filter(([, s]) =>
      (s.profiles as string[] | undefined)?.includes('shortener'),
    )
    assert.deepEqual(shortener.map(([name]) => name).sort(), ['shortener-api', 'shortener-worker'])
    for (const [, service] of shortener) {
      // Written `context: ../..` in services/shortener/: the repository root.
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
    assert.equal(env.KAFKA_BROKERS, 'toxiproxy:29093')
    assert.deepEqual(environmentOf(services()['shortener-worker'] ?? {}).KAFKA_BROKERS, 'toxiproxy:29093')
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
    const broken = editFile(rootFile, '127.0.0.1:15432:5432', '127.0.0.1:15439:5432')
    const problems = problemsFor(broken)
    assertProblem(problems, /^postgres: publishes \[15439:5432\], topology.ts says \[15432:5432\]/)
    assertProblem(problems, /^ports\.postgresPrimary \(15432\) is published by no service/)
  })

  test('a port published on every interface', () => {
    const broken = editFile(rootFile, '127.0.0.1:16380:6379', '16380:6379')
    assertProblem(problemsFor(broken), /^redis-queue: port 16380 must bind 127\.0\.0\.1 only/)
  })

  test('the internal controller port published', () => {
    const broken = editFile(
      rootFile,
      '      - 127.0.0.1:19094:19094\n',
      '      - 127.0.0.1:19094:19094\n      - 127.0.0.1:19093:9093\n',
    )
    assertProblem(problemsFor(broken), /^ports\.kafkaController \(19093\) is internal but kafka publishes it/)
  })

  test('a proxy that bypasses the component it names', () => {
    const problems = problemsFor({}, (project) => {
      const config = project.toxiproxyConfig as Array<Record<string, unknown>>
      const redis = config.find((p) => p.name === 'redis-cache')
      assert.ok(redis)
      redis.upstream = 'redis-queue:6379'
      config.splice(
        config.findIndex((p) => p.name === 's3'),
        1,
      )
    })
    assertProblem(problems, /proxy redis-cache must forward to redis-cache:6379, has redis-queue:6379/)
    assertProblem(problems, /proxy s3 is missing/)
  })

  test('a queue Redis that evicts', () => {
    const broken = editService('redis-queue', '- noeviction', '- allkeys-lru')
    assertProblem(problemsFor(broken), /^redis-queue: must run with --maxmemory-policy noeviction/)
  })

  test('a Kafka whose network listener advertises itself instead of the proxy', () => {
    const broken = editFile(rootFile, 'NETWORK://toxiproxy:29093', 'NETWORK://kafka:9094')
    assertProblem(problemsFor(broken), /^kafka: the listener on 9094 must advertise toxiproxy:29093/)
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
    const broken = editFile(
      baseFile,
      'REDIS_URL: redis://toxiproxy:26379',
      'REDIS_URL: redis://redis-cache:6379',
    )
    assertProblem(
      problemsFor(broken),
      /^shortener-api: environment REDIS_URL must be redis:\/\/toxiproxy:26379/,
    )
  })

  test('a dollar sign Compose would interpolate', () => {
    const broken = editFile(
      baseFile,
      "'http://127.0.0.1:' + process.env.PORT",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the JavaScript inside a compose healthcheck.
      '`http://127.0.0.1:${process.env.PORT}`',
    )
    assertProblem(
      problemsFor(broken),
      /^infra\/compose\/system-service\.yaml: services\.system-service\.healthcheck\.test\[3\]: .* has an unescaped \$/,
    )
  })

  test('a Dockerfile that does not exist', () => {
    const broken = editFile(
      shortenerFile,
      'dockerfile: infra/docker/service.Dockerfile',
      'dockerfile: infra/docker/missing.Dockerfile',
    )
    assertProblem(
      problemsFor(broken),
      /^shortener-api: Dockerfile infra\/docker\/missing\.Dockerfile does not exist/,
    )
  })

  test('a .dockerignore that drops the lockfile or keeps node_modules', () => {
    const problems = problemsFor({}, (project) => {
      project.dockerignore = 'pnpm-lock.yaml\n.git\n'
    })
    assertProblem(problems, /^\.dockerignore: must not exclude pnpm-lock\.yaml/)
    assertProblem(problems, /^\.dockerignore: must exclude node_modules\/x/)
  })
})
