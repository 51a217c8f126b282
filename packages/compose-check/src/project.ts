/**
 * Everything the checks read, loaded once from a repository root. The checks take this
 * object rather than paths so a test can break one piece (a port, a proxy, a Dockerfile line,
 * a line of an included compose file) in memory and see the right error, without touching
 * the files on disk.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ComposeFile, loadCompose, parseComposeText } from './load-compose.ts'

export { type ComposeFile, parseComposeText } from './load-compose.ts'

export const defaultRepoRoot = fileURLToPath(new URL('../../../', import.meta.url))
export const composeFileName = 'docker-compose.yml'
export const toxiproxyConfigPath = 'infra/compose/toxiproxy.json'
export const prometheusConfigPath = 'infra/compose/prometheus/prometheus.yml'
export const grafanaDatasourcesPath = 'infra/compose/grafana/provisioning/datasources/prometheus.yml'
export const grafanaDashboardsPath = 'infra/compose/grafana/dashboards'
export const gitattributesPath = '.gitattributes'
/** Each system's services, in its own folder: `services/<system>/compose.yaml`. */
export const systemComposeFileName = 'compose.yaml'

/**
 * Where `packages/infra` pins each Go binary it builds natively (`go install <pkg>@<version>`),
 * by the compose service that runs the same program from an image. The constants are not
 * exported by `@faultline/infra`, so the pin is read from the source: one source of truth.
 */
export const nativePinSources = {
  toxiproxy: { file: 'packages/infra/src/components/toxiproxy.ts', constant: 'toxiproxyBinary' },
  s3: { file: 'packages/infra/src/components/s3.ts', constant: 'versitygwBinary' },
  k6: { file: 'packages/infra/src/components/k6.ts', constant: 'k6Module' },
} as const

export type PinnedService = keyof typeof nativePinSources

export interface Project {
  /** Absolute repository root; paths in the model are relative to it. */
  root: string
  /**
   * docker-compose.yml with its includes and extends applied, as plain data: YAML anchors and
   * `<<` merge keys resolved and relative paths rewritten from the root, as Compose does.
   */
  compose: unknown
  /** Every compose file the model came from, as written: the schema validates each. */
  files: ComposeFile[]
  /** Includes and extends that could not be resolved. */
  loadProblems: string[]
  /** The file that defines each service, relative to the root. */
  serviceFiles: Record<string, string>
  /** Every `services/<system>/compose.yaml` in the checkout, included or not. */
  systemComposeFiles: string[]
  /** infra/compose/toxiproxy.json, parsed. */
  toxiproxyConfig: unknown
  prometheusConfig: unknown
  grafanaDatasources: unknown
  /** Text of every Dockerfile a compose `build` names, by its path relative to the root. */
  dockerfiles: Record<string, string>
  /** Root .dockerignore text, or undefined when there is none. */
  dockerignore: string | undefined
  /** Root .gitattributes text, or undefined when there is none. */
  gitattributes: string | undefined
  /** `packageManager` of the root package.json, e.g. `pnpm@10.34.8`. */
  packageManager: string | undefined
  /** The native version (`2.5.0`, no `v`) of each program compose also runs; undefined if unreadable. */
  nativePins: Record<PinnedService, string | undefined>
  /** Whether a path relative to the root exists (a function so tests can pretend). */
  exists: (relativePath: string) => boolean
  /** Files directly inside a directory relative to the root (empty when it is not one). */
  filesIn: (relativeDir: string) => string[]
}

/** Names of the Dockerfiles the compose model builds from, relative to the root. */
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

/** `version: 'v2.5.0'` inside `export const <constant>: GoBinary = { … }`, without the `v`. */
export function nativePinIn(source: string, constant: string): string | undefined {
  const block = new RegExp(`export const ${constant}\\b[^=]*=\\s*\\{([^}]*)\\}`).exec(source)?.[1]
  return block ? /\bversion:\s*'v?([^']+)'/.exec(block)?.[1] : undefined
}

/**
 * Loads the project under `root`. `texts` replaces files by their path relative to the root
 * (a test's broken copy of `docker-compose.yml` or of an included file).
 */
export function loadProject(root: string = defaultRepoRoot, texts: Record<string, string> = {}): Project {
  const read = (relativePath: string): string | undefined => {
    if (relativePath in texts) return texts[relativePath]
    const path = join(root, relativePath)
    return existsSync(path) && statSync(path).isFile() ? readFileSync(path, 'utf8') : undefined
  }
  const readYaml = (relativePath: string) => parseComposeText(read(relativePath) ?? '')
  const { model, files, problems, serviceFiles } = loadCompose(root, composeFileName, read)
  const systemsDir = join(root, 'services')
  const systemComposeFiles = existsSync(systemsDir)
    ? readdirSync(systemsDir)
        .map((system) => `services/${system}/${systemComposeFileName}`)
        .filter((file) => read(file) !== undefined)
    : []
  const dockerfiles: Record<string, string> = {}
  for (const file of referencedDockerfiles(model)) {
    const text = read(file)
    if (text !== undefined) dockerfiles[file] = text
  }
  const rootPackage = JSON.parse(read('package.json') ?? '{}') as { packageManager?: string }
  const nativePins = Object.fromEntries(
    Object.entries(nativePinSources).map(([service, { file, constant }]) => [
      service,
      nativePinIn(read(file) ?? '', constant),
    ]),
  ) as Record<PinnedService, string | undefined>
  return {
    root,
    compose: model,
    files,
    loadProblems: problems,
    serviceFiles,
    systemComposeFiles,
    toxiproxyConfig: JSON.parse(read(toxiproxyConfigPath) ?? 'null'),
    prometheusConfig: readYaml(prometheusConfigPath),
    grafanaDatasources: readYaml(grafanaDatasourcesPath),
    dockerfiles,
    dockerignore: read('.dockerignore'),
    gitattributes: read(gitattributesPath),
    packageManager: rootPackage.packageManager,
    nativePins,
    exists: (relativePath) => relativePath in texts || existsSync(join(root, relativePath)),
    filesIn: (relativeDir) => {
      const dir = join(root, relativeDir)
      if (!existsSync(dir) || !statSync(dir).isDirectory()) return []
      return readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => join(relativeDir, entry.name))
    },
  }
}
