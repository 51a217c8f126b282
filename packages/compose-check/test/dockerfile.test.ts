/** The service Dockerfile pattern, and the port syntax reader the rules share. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { checkDockerfile, defaultRepoRoot, parsePort } from '../src/index.ts'
import { assertProblem, replaceOnce } from './broken-copy.ts'

const dockerfilePath = 'infra/docker/service.Dockerfile'
const dockerfileText = readFileSync(join(defaultRepoRoot, dockerfilePath), 'utf8')

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
