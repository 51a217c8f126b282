/**
 * Everything the checks read, loaded once from a repository root. The checks take this
 * object rather than paths so a test can break one piece (a port, a proxy, a Dockerfile line)
 * in memory and see the right error, without touching the files on disk.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseDocument } from 'yaml'

export const defaultRepoRoot = fileURLToPath(new URL('../../../', import.meta.url))
export const composeFileName = 'docker-compose.yml'
export const toxiproxyConfigPath = 'infra/compose/toxiproxy.json'
export const prometheusConfigPath = 'infra/compose/prometheus/prometheus.yml'
export const grafanaDatasourcesPath = 'infra/compose/grafana/provisioning/datasources/prometheus.yml'
export const grafanaDashboardsPath = 'infra/compose/grafana/dashboards'

export interface Project {
  /** Absolute repository root; relative paths in the compose file resolve against it. */
  root: string
  /** docker-compose.yml as plain data: YAML anchors and `<<` merge keys resolved, as Compose does. */
  compose: unknown
  /** infra/compose/toxiproxy.json, parsed. */
  toxiproxyConfig: unknown
  prometheusConfig: unknown
  grafanaDatasources: unknown
  /** Text of every Dockerfile a compose `build` names, by its path relative to the root. */
  dockerfiles: Record<string, string>
  /** Root .dockerignore text, or undefined when there is none. */
  dockerignore: string | undefined
  /** `packageManager` of the root package.json, e.g. `pnpm@10.34.8`. */
  packageManager: string | undefined
  /** Whether a path relative to the root exists (a function so tests can pretend). */
  exists: (relativePath: string) => boolean
}

/** Parses compose YAML the way Compose reads it: merge keys on, YAML errors fatal. */
export function parseComposeText(text: string): unknown {
  const doc = parseDocument(text, { merge: true, prettyErrors: true })
  if (doc.errors.length > 0) {
    throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`)
  }
  // Aliases are how the file shares blocks; the default alias cap guards against YAML bombs,
  // which a file we own is not.
  return doc.toJS({ maxAliasCount: -1 })
}

function parseYamlFile(path: string): unknown {
  return parseComposeText(readFileSync(path, 'utf8'))
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined
}

/** Names of the Dockerfiles the compose file builds from, relative to the root. */
export function referencedDockerfiles(compose: unknown): string[] {
  const services = (compose as { services?: Record<string, { build?: unknown }> } | undefined)?.services ?? {}
  const files = new Set<string>()
  for (const service of Object.values(services)) {
    const build = service?.build
    if (build === undefined) continue
    if (typeof build === 'string') {
      files.add(join(build, 'Dockerfile'))
      continue
    }
    const { context = '.', dockerfile = 'Dockerfile' } = build as { context?: string; dockerfile?: string }
    files.add(join(context, dockerfile))
  }
  return [...files]
}

export function loadProject(root: string = defaultRepoRoot, composeText?: string): Project {
  const compose = parseComposeText(composeText ?? readFileSync(join(root, composeFileName), 'utf8'))
  const dockerfiles: Record<string, string> = {}
  for (const file of referencedDockerfiles(compose)) {
    const text = readIfExists(join(root, file))
    if (text !== undefined) dockerfiles[file] = text
  }
  const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    packageManager?: string
  }
  return {
    root,
    compose,
    toxiproxyConfig: JSON.parse(readFileSync(join(root, toxiproxyConfigPath), 'utf8')),
    prometheusConfig: parseYamlFile(join(root, prometheusConfigPath)),
    grafanaDatasources: parseYamlFile(join(root, grafanaDatasourcesPath)),
    dockerfiles,
    dockerignore: readIfExists(join(root, '.dockerignore')),
    packageManager: rootPackage.packageManager,
    exists: (relativePath) => existsSync(join(root, relativePath)),
  }
}
