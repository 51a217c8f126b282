/**
 * The loader reads `include:` and `extends:` as Compose does (compose-go's loader/include.go:
 * each included file is its own project directory for relative paths; resources are copied in
 * and a same-named different one is an error). Small in-memory projects pin each behaviour; the
 * layout rule then keeps every system in its own included file.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadCompose, mergeService } from '../src/index.ts'
import { assertProblem, editFile, editService, problemsFor, rootFile, shortenerFile } from './broken-copy.ts'

const root = '/repo'

function load(files: Record<string, string>) {
  return loadCompose(root, 'docker-compose.yml', (path) => files[path])
}

function service(model: Record<string, unknown>, name: string): Record<string, unknown> {
  return (model.services as Record<string, Record<string, unknown>>)[name] ?? {}
}

describe('include', () => {
  test('an included file resolves its relative paths from its own folder', () => {
    const { model, problems, files, serviceFiles } = load({
      'docker-compose.yml':
        'include:\n  - services/demo/compose.yaml\nservices:\n  db:\n    image: postgres:15\n',
      'services/demo/compose.yaml': [
        'x-build: &build',
        '  context: ../..',
        '  dockerfile: infra/docker/service.Dockerfile',
        'services:',
        '  demo-api:',
        '    build: *build',
        '    volumes:',
        '      - ./seed:/seed:ro',
        '      - ../../infra/compose/x.json:/x.json:ro',
        '      - data:/data',
        '  demo-worker:',
        '    build: *build',
        'volumes:',
        '  data:',
      ].join('\n'),
    })
    assert.deepEqual(problems, [])
    assert.deepEqual(
      files.map((f) => f.path),
      ['docker-compose.yml', 'services/demo/compose.yaml'],
    )
    // Both services share one anchored build block: each is resolved once, from the same folder.
    assert.deepEqual(service(model, 'demo-api').build, {
      context: '.',
      dockerfile: 'infra/docker/service.Dockerfile',
    })
    assert.deepEqual(service(model, 'demo-worker').build, {
      context: '.',
      dockerfile: 'infra/docker/service.Dockerfile',
    })
    assert.deepEqual(service(model, 'demo-api').volumes, [
      './services/demo/seed:/seed:ro',
      './infra/compose/x.json:/x.json:ro',
      'data:/data',
    ])
    assert.deepEqual(Object.keys(model.volumes as object), ['data'])
    assert.equal('include' in model, false)
    assert.deepEqual(serviceFiles, {
      db: 'docker-compose.yml',
      'demo-api': 'services/demo/compose.yaml',
      'demo-worker': 'services/demo/compose.yaml',
    })
  })

  test('a missing included file, and a same-named different service, are problems', () => {
    const { problems } = load({
      'docker-compose.yml':
        'include:\n  - a.yaml\n  - missing.yaml\nservices:\n  db:\n    image: postgres:15\n',
      'a.yaml': 'services:\n  db:\n    image: postgres:16\n',
    })
    assertProblem(problems, /^a\.yaml: services\.db conflicts with a resource of the same name/)
    assertProblem(problems, /^docker-compose\.yml: include: missing\.yaml does not exist/)
  })
})

describe('extends', () => {
  test("merges the base under the service: mappings by key, command replaced, the base's paths from its file", () => {
    const { model, problems } = load({
      'docker-compose.yml': 'include:\n  - sys/compose.yaml\n',
      'sys/compose.yaml': [
        'services:',
        '  api:',
        '    extends: {file: ../base/base.yaml, service: base}',
        '    command: [node, api.ts]',
        '    environment: [PUBLIC_BASE_URL=http://127.0.0.1:1]',
        '    ports: ["127.0.0.1:1:3000"]',
      ].join('\n'),
      'base/base.yaml': [
        'services:',
        '  base:',
        '    command: [node, base.ts]',
        '    environment: {PORT: "3000", HOST: 0.0.0.0}',
        '    healthcheck: {test: [CMD, "true"], interval: 5s}',
        '    volumes: [./conf:/conf:ro]',
      ].join('\n'),
    })
    assert.deepEqual(problems, [])
    assert.deepEqual(service(model, 'api'), {
      command: ['node', 'api.ts'],
      environment: { PORT: '3000', HOST: '0.0.0.0', PUBLIC_BASE_URL: 'http://127.0.0.1:1' },
      healthcheck: { test: ['CMD', 'true'], interval: '5s' },
      volumes: ['./base/conf:/conf:ro'],
      ports: ['127.0.0.1:1:3000'],
    })
  })

  test('a base that declares depends_on is a problem (Compose versions disagree on inheriting it)', () => {
    const { problems } = load({
      'docker-compose.yml': 'services:\n  api:\n    extends: {file: base.yaml, service: base}\n',
      'base.yaml': 'services:\n  base:\n    depends_on: {db: {condition: service_healthy}}\n',
    })
    assertProblem(problems, /service api: extends base, which declares depends_on/)
  })

  test('healthcheck.test replaces, other sequences add what the base lacks', () => {
    assert.deepEqual(
      mergeService(
        { healthcheck: { test: ['CMD', 'a'] }, ports: ['1:1'] },
        { healthcheck: { test: ['CMD', 'b'] }, ports: ['1:1', '2:2'] },
      ),
      { healthcheck: { test: ['CMD', 'b'] }, ports: ['1:1', '2:2'] },
    )
  })
})

describe('one file per system', () => {
  test('a system service written in the root file', () => {
    const moved = editFile(
      rootFile,
      '\nvolumes:\n',
      '\n  shortener-api:\n    image: x:1\n    build: {context: ., args: {SERVICE: shortener}}\n\nvolumes:\n',
    )
    const problems = problemsFor({ ...moved, ...editService('shortener-api', /^[\s\S]*$/, '\n') })
    assertProblem(
      problems,
      /^shortener-api: belongs in services\/shortener\/compose\.yaml, is defined in docker-compose\.yml/,
    )
  })

  test('a system file the root does not include', () => {
    const problems = problemsFor(editFile(rootFile, '  - services/shortener/compose.yaml\n', ''))
    assertProblem(problems, /^docker-compose\.yml: must include services\/shortener\/compose\.yaml/)
  })

  test('infrastructure written in a system file', () => {
    const problems = problemsFor(
      editFile(
        shortenerFile,
        '\nservices:\n',
        '\nservices:\n  cache-two:\n    image: redis:7.4\n    mem_limit: 64m\n    healthcheck: {test: [CMD, redis-cli, ping]}\n',
      ),
    )
    assertProblem(
      problems,
      /^cache-two: belongs in docker-compose\.yml, is defined in services\/shortener\/compose\.yaml/,
    )
  })
})
