/**
 * What a desk review of the compose files against the images' own entrypoints found, and the
 * rule that now catches each: the real files pass, and a copy with the finding put back fails
 * with that rule's error.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { proxies } from '@faultline/infra'
import {
  checkoutEol,
  defaultRepoRoot,
  environmentOf,
  loadProject,
  nativePinIn,
  nativePinSources,
  type Project,
  parseGitattributes,
} from '../src/index.ts'
import { assertProblem, editFile, editService, problemsFor, rootFile, shortenerFile } from './broken-copy.ts'

function merged(name: string): Record<string, unknown> {
  return (loadProject().compose as { services: Record<string, Record<string, unknown>> }).services[name] ?? {}
}

describe('shortUrl under compose', () => {
  test('the API hands out its published address, and the worker is published on its own port', () => {
    assert.equal(environmentOf(merged('shortener-api')).PUBLIC_BASE_URL, 'http://127.0.0.1:18080')
    assert.deepEqual(merged('shortener-worker').ports, ['127.0.0.1:18081:3000'])
  })

  test('without PUBLIC_BASE_URL (shortUrl would be http://0.0.0.0:3000/…)', () => {
    const broken = editService('shortener-api', 'PUBLIC_BASE_URL: http://127.0.0.1:18080', 'LOG_LEVEL: info')
    assertProblem(
      problemsFor(broken),
      /^shortener-api: environment PUBLIC_BASE_URL must be http:\/\/127\.0\.0\.1:18080 \(where it is published\), has none/,
    )
  })

  test('published on a port topology.ts systemPorts does not give it', () => {
    const broken = editFile(shortenerFile, '127.0.0.1:18081:3000', '127.0.0.1:18089:3000')
    assertProblem(
      problemsFor(broken),
      /^shortener-worker: must publish 127\.0\.0\.1:18081:3000 \(topology\.ts systemPorts\.shortener\.worker\)/,
    )
  })
})

describe('Kafka from the host', () => {
  test('the listener behind the kafka proxy advertises the published proxy, as natively', () => {
    const env = environmentOf(merged('kafka'))
    assert.match(env.KAFKA_ADVERTISED_LISTENERS ?? '', /CLIENT:\/\/127\.0\.0\.1:29092/)
    assert.match(env.KAFKA_LISTENERS ?? '', /CLIENT:\/\/:9092/)
    assert.equal(proxies.kafka.containerPort, 9092)
  })

  test('advertising toxiproxy:29092 to everyone (host processes cannot resolve it)', () => {
    const broken = editFile(rootFile, 'CLIENT://127.0.0.1:29092', 'CLIENT://toxiproxy:29092')
    assertProblem(problemsFor(broken), /^kafka: the listener on 9092 must advertise 127\.0\.0\.1:29092/)
  })

  test('DIRECT advertising a name the host may resolve to ::1, which is not published', () => {
    const broken = editFile(rootFile, 'DIRECT://127.0.0.1:19094', 'DIRECT://localhost:19094')
    assertProblem(problemsFor(broken), /^kafka: the listener on 19094 must advertise 127\.0\.0\.1:19094/)
  })
})

describe('images that are built', () => {
  test('image + build without pull_policy: build (a registry image of that name would win)', () => {
    const broken = editService('shortener-worker', '    pull_policy: build\n', '')
    assertProblem(
      problemsFor(broken),
      /^shortener-worker: has image faultline\/shortener:local and build, so needs pull_policy: build/,
    )
  })
})

describe('line endings', () => {
  test('the real .gitattributes gives LF to every script and Dockerfile a container runs', () => {
    const lines = parseGitattributes(readFileSync(join(defaultRepoRoot, '.gitattributes'), 'utf8'))
    for (const path of [
      'infra/compose/postgres/primary-init.sh',
      'infra/compose/postgres/replica-entrypoint.sh',
      'infra/docker/service.Dockerfile',
      'faultline',
      'scripts/test.sh',
      'docker-compose.yml',
    ]) {
      assert.equal(checkoutEol(lines, path), 'lf', path)
    }
  })

  test('pattern semantics: basename at any depth, anchored paths, the last line wins, -text disables eol', () => {
    const lines = parseGitattributes('*.sh text eol=lf\n/top.sh eol=crlf\ndocs/**/*.md eol=lf\nbin/* -text\n')
    assert.equal(checkoutEol(lines, 'a/b/c.sh'), 'lf')
    assert.equal(checkoutEol(lines, 'top.sh'), 'crlf')
    assert.equal(checkoutEol(lines, 'sub/top.sh'), 'lf')
    assert.equal(checkoutEol(lines, 'docs/x/y/z.md'), 'lf')
    assert.equal(checkoutEol(lines, 'bin/run.sh'), undefined)
  })

  test('no .gitattributes', () => {
    const problems = problemsFor({}, (project) => {
      project.gitattributes = undefined
    })
    assertProblem(
      problems,
      /^\.gitattributes: missing; a Windows checkout gives the containers' shell scripts CRLF/,
    )
  })

  test('a .gitattributes that leaves *.sh and the mounted init scripts to core.autocrlf', () => {
    const problems = problemsFor({}, (project) => {
      project.gitattributes = '* text=auto\n*.yml text eol=lf\n'
    })
    assertProblem(problems, /^\.gitattributes: \*\.sh must be checked out with eol=lf/)
    assertProblem(
      problems,
      /^\.gitattributes: infra\/compose\/postgres\/primary-init\.sh must be checked out with eol=lf/,
    )
    assertProblem(
      problems,
      /^\.gitattributes: infra\/compose\/postgres\/replica-entrypoint\.sh must be checked out/,
    )
    assertProblem(problems, /^\.gitattributes: infra\/docker\/service\.Dockerfile must be checked out/)
  })
})

describe('Toxiproxy health', () => {
  test('the CLI listing proxies passes with zero proxies', () => {
    const broken = editService(
      'toxiproxy',
      'test: [CMD, /toxiproxy-cli, inspect, kafka-network]',
      'test: [CMD, /toxiproxy-cli, list]',
    )
    assertProblem(
      problemsFor(broken),
      /^toxiproxy: healthcheck must be \["CMD","\/toxiproxy-cli","inspect","kafka-network"\] \(the last proxy of infra\/compose\/toxiproxy\.json exists only if every one before it does\)/,
    )
  })

  test('inspecting a proxy that is not the last one', () => {
    const broken = editService('toxiproxy', 'inspect, kafka-network]', 'inspect, postgres]')
    assertProblem(problemsFor(broken), /^toxiproxy: healthcheck must be \[.*"kafka-network"\]/)
  })
})

describe('state outside the containers', () => {
  test("Kafka's log dir back in the container's /tmp", () => {
    const broken = editFile(
      rootFile,
      'KAFKA_LOG_DIRS: /var/lib/kafka/data',
      'KAFKA_LOG_DIRS: /tmp/kraft-combined-logs',
    )
    assertProblem(
      problemsFor(broken),
      /^kafka: its data dir \/tmp\/kraft-combined-logs must be on a named volume/,
    )
  })

  test('Kafka without its named volume', () => {
    const broken = editService('kafka', '      - kafka-data:/var/lib/kafka/data\n', '')
    assertProblem(
      problemsFor(broken),
      /^kafka: its data dir \/var\/lib\/kafka\/data must be on a named volume/,
    )
  })

  test('a queue Redis whose append-only file is not on a volume', () => {
    const broken = editService('redis-queue', '      - redis-queue-data:/data\n', '')
    assertProblem(problemsFor(broken), /^redis-queue: its data dir \/data must be on a named volume/)
  })

  test("k6's summary inside its --rm container", () => {
    const broken = editService(
      'k6',
      '      - type: bind\n        source: ./results\n        target: /results\n        bind:\n          create_host_path: false\n',
      '',
    )
    const problems = problemsFor(broken)
    assertProblem(
      problems,
      /^k6: must mount \.\/results writable at \/results, or its summary stays in the --rm container/,
    )
  })

  test('k6 from its image working directory, or as the image user', () => {
    let broken = editService('k6', '    working_dir: /\n', '')
    assertProblem(problemsFor(broken), /^k6: working_dir must be \//)
    broken = editService('k6', /\n {4}user: .*\n/, '\n')
    assertProblem(problemsFor(broken), /^k6: must run as the host user/)
  })

  test('a system HTTP service k6 may not reach', () => {
    const broken = editService('k6', 'LOAD_ALLOWED_HOSTS: shortener-api', 'LOAD_ALLOWED_HOSTS: grafana')
    assertProblem(problemsFor(broken), /^k6: LOAD_ALLOWED_HOSTS must list shortener-api/)
  })

  test('a missing ./results is allowed only as a writable mount Compose will not create', () => {
    const withoutResults = (project: Project) => {
      const exists = project.exists
      project.exists = (path) => path !== './results' && exists(path)
    }
    const missing = /^k6: bind mount source \.\/results does not exist/
    // A fresh clone has no results/ (gitignored): the real file must still pass.
    assert.equal(
      problemsFor({}, withoutResults).some((p) => missing.test(p)),
      false,
    )
    const created = editService(
      'k6',
      '          create_host_path: false\n',
      '          create_host_path: true\n',
    )
    assertProblem(problemsFor(created, withoutResults), missing)
  })
})

describe('the same versions as the native topology', () => {
  test('the native pins are read from packages/infra, and compose uses them', () => {
    const pins = loadProject().nativePins
    assert.equal(pins.toxiproxy, '2.5.0')
    for (const [service, { file, constant }] of Object.entries(nativePinSources)) {
      const pin = nativePinIn(readFileSync(join(defaultRepoRoot, file), 'utf8'), constant)
      assert.ok(pin, `${constant} in ${file}`)
      assert.ok(
        String(merged(service).image).replace(/:v/, ':').endsWith(`:${pin}`),
        `${service}: ${String(merged(service).image)}`,
      )
    }
  })

  test('Toxiproxy 2.12.0 in compose against 2.5.0 natively', () => {
    const broken = editFile(rootFile, 'ghcr.io/shopify/toxiproxy:2.5.0', 'ghcr.io/shopify/toxiproxy:2.12.0')
    assertProblem(
      problemsFor(broken),
      /^toxiproxy: image ghcr\.io\/shopify\/toxiproxy:2\.12\.0 must be version 2\.5\.0, the one packages\/infra\/src\/components\/toxiproxy\.ts builds natively/,
    )
  })

  test('a native pin that cannot be read fails instead of passing', () => {
    const problems = problemsFor({}, (project) => {
      project.nativePins.s3 = undefined
    })
    assertProblem(
      problems,
      /^s3: cannot read the native version \(versitygwBinary\.version in packages\/infra\/src\/components\/s3\.ts\)/,
    )
  })
})

describe('interpolation', () => {
  test('a FAULTLINE_ knob with a default is the one interpolation allowed', () => {
    assert.match(String(merged('k6').user), /^\$\{FAULTLINE_UID:-1000\}:\$\{FAULTLINE_GID:-1000\}$/)
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a compose variable, not JavaScript.
    const broken = editService('k6', '${FAULTLINE_UID:-1000}', '${UID}')
    assertProblem(problemsFor(broken), /^docker-compose\.yml: services\.k6\.user: .* has an unescaped \$/)
  })
})
