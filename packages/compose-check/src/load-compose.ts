/**
 * Loads a compose project the way Docker Compose (compose-go) does, for the parts Faultline
 * uses: the root file's `include:` entries, each loaded as its own file with relative paths
 * resolved against that file's directory (build contexts, bind mounts, `env_file`,
 * `extends.file`), then `extends:` applied, then every service, volume and network copied into
 * one model. Paths in the model are relative to the repository root, so a rule reads the same
 * `./infra/compose/x` whichever file wrote it. What this loader cannot do the way Compose does
 * is reported as a load problem, never guessed.
 */
import { dirname, normalize, relative, resolve } from 'node:path'
import { parseDocument } from 'yaml'

/** One compose file as written (anchors and merge keys resolved), for schema validation. */
export interface ComposeFile {
  /** Path relative to the repository root, e.g. `services/shortener/compose.yaml`. */
  path: string
  doc: unknown
}

export interface LoadedCompose {
  /** The merged model: includes applied, extends resolved, relative paths from the root. */
  model: Record<string, unknown>
  /** Every file the model came from: the root, the included files, the extended files. */
  files: ComposeFile[]
  /** Includes or extends this loader could not resolve (missing file, name conflict …). */
  problems: string[]
  /** The file that defines each service, relative to the root. */
  serviceFiles: Record<string, string>
}

/** Reads a file by its path relative to the repository root; undefined when it does not exist. */
export type ReadText = (relativePath: string) => string | undefined

/** Parses compose YAML the way Compose reads it: merge keys on, YAML errors fatal. */
export function parseComposeText(text: string): unknown {
  const doc = parseDocument(text, { merge: true, prettyErrors: true })
  if (doc.errors.length > 0) {
    throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`)
  }
  // Aliases are how a file shares blocks; the default alias cap guards against YAML bombs,
  // which a file we own is not.
  return doc.toJS({ maxAliasCount: -1 })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Keys whose sequences replace the base's instead of adding to it (Compose's merge rules). */
const replacedSequences = new Set(['command', 'entrypoint', 'test'])

/** `environment` as a mapping, whichever syntax the file used, so two of them merge by key. */
function environmentMap(value: unknown): unknown {
  if (!Array.isArray(value)) return value
  return Object.fromEntries(
    value.map((entry) => {
      const text = String(entry)
      const at = text.indexOf('=')
      return at === -1 ? [text, null] : [text.slice(0, at), text.slice(at + 1)]
    }),
  )
}

/**
 * A service merged over the one it extends: mappings merge key by key, `command`,
 * `entrypoint` and `healthcheck.test` replace, other sequences add what the base lacks, and a
 * scalar replaces — Compose's merge rules, for the keys these files use.
 */
export function mergeService(base: unknown, local: unknown, key = ''): unknown {
  if (local === undefined) return base
  if (base === undefined) return local
  if (key === 'environment') return mergeService(environmentMap(base), environmentMap(local))
  if (isRecord(base) && isRecord(local)) {
    const merged: Record<string, unknown> = { ...base }
    for (const [k, v] of Object.entries(local)) merged[k] = mergeService(base[k], v, k)
    return merged
  }
  if (Array.isArray(base) && Array.isArray(local) && !replacedSequences.has(key)) {
    const seen = new Set(base.map((v) => JSON.stringify(v)))
    return [...base, ...local.filter((v) => !seen.has(JSON.stringify(v)))]
  }
  return local
}

class Loader {
  readonly files: ComposeFile[] = []
  readonly problems: string[] = []
  readonly serviceFiles: Record<string, string> = {}
  readonly #read: ReadText
  readonly #root: string

  constructor(root: string, read: ReadText) {
    this.#root = root
    this.#read = read
  }

  /** `path` (relative to the directory `from`, itself relative to the root) from the root. */
  fromRoot(from: string, path: string): string {
    const rel = relative(this.#root, resolve(this.#root, from, path))
    return rel === '' ? '.' : normalize(rel)
  }

  /** A bind source as Compose's short syntax needs it: `./` first, or it reads as a volume name. */
  bindFromRoot(from: string, path: string): string {
    const rel = this.fromRoot(from, path)
    return rel === '.' || rel.startsWith('../') ? rel : `./${rel}`
  }

  /** Parses one file and records it; undefined (and a problem) when it is missing or invalid. */
  parse(path: string, by: string): Record<string, unknown> | undefined {
    const text = this.#read(path)
    if (text === undefined) {
      this.problems.push(`${by}: ${path} does not exist`)
      return undefined
    }
    let doc: unknown
    try {
      doc = parseComposeText(text)
    } catch (err) {
      this.problems.push(`${path}: ${(err as Error).message}`)
      return undefined
    }
    if (!this.files.some((f) => f.path === path)) this.files.push({ path, doc })
    // The model is edited (paths, extends); the recorded doc stays as written.
    return isRecord(doc) ? (structuredClone(doc) as Record<string, unknown>) : {}
  }

  /** Rewrites a service's relative paths from its file's directory to the root. */
  resolveServicePaths(service: Record<string, unknown>, dir: string): void {
    const build = service.build
    if (typeof build === 'string') service.build = { context: this.fromRoot(dir, build) }
    else if (isRecord(build) && !String(build.context ?? '.').includes('://')) {
      build.context = this.fromRoot(dir, String(build.context ?? '.'))
    }
    if (Array.isArray(service.volumes)) {
      service.volumes = service.volumes.map((volume) => {
        if (typeof volume === 'string') {
          const [source, ...rest] = volume.split(':')
          return source && /^\.{1,2}(\/|$)/.test(source)
            ? [this.bindFromRoot(dir, source), ...rest].join(':')
            : volume
        }
        if (isRecord(volume) && volume.type === 'bind' && typeof volume.source === 'string') {
          return { ...volume, source: this.bindFromRoot(dir, volume.source) }
        }
        return volume
      })
    }
    const envFiles = service.env_file
    if (envFiles !== undefined) {
      const list = Array.isArray(envFiles) ? envFiles : [envFiles]
      service.env_file = list.map((f) =>
        isRecord(f) ? { ...f, path: this.fromRoot(dir, String(f.path)) } : this.fromRoot(dir, String(f)),
      )
    }
  }

  /** The service `name` of `file` with its own `extends` applied, paths from the root. */
  extendedService(
    file: string,
    name: string,
    by: string,
    chain: string[],
  ): Record<string, unknown> | undefined {
    const key = `${file}#${name}`
    if (chain.includes(key)) {
      this.problems.push(`${by}: extends cycle ${[...chain, key].join(' → ')}`)
      return undefined
    }
    const model = this.parse(file, by)
    const services = isRecord(model?.services) ? model.services : {}
    const service = services[name]
    if (!isRecord(service)) {
      if (model) this.problems.push(`${by}: extends ${name} from ${file}, which has no such service`)
      return undefined
    }
    return this.applyExtends(service, name, file, [...chain, key])
  }

  applyExtends(
    service: Record<string, unknown>,
    name: string,
    file: string,
    chain: string[] = [],
  ): Record<string, unknown> {
    const dir = dirname(file)
    // A copy of its own: YAML aliases share one object between services (`build: *build`),
    // and resolving a path twice would resolve it from the wrong folder.
    service = structuredClone(service)
    this.resolveServicePaths(service, dir)
    const ext = service.extends
    if (ext === undefined) return service
    const spec = typeof ext === 'string' ? { service: ext } : isRecord(ext) ? ext : {}
    const baseFile = typeof spec.file === 'string' ? this.fromRoot(dir, spec.file) : file
    const by = `${file}: service ${name}`
    const base = this.extendedService(baseFile, String(spec.service), by, [...chain, `${file}#${name}`])
    const { extends: _, ...local } = service
    if (!base) return local
    if (base.depends_on !== undefined) {
      // Compose versions disagree on whether depends_on is inherited (docker/compose#12360,
      // #12433): a base that declares it would start services in an order nobody can read.
      this.problems.push(
        `${by}: extends ${String(spec.service)}, which declares depends_on; declare it locally`,
      )
    }
    const { depends_on: __, ...inherited } = base
    return mergeService(inherited, local) as Record<string, unknown>
  }

  /** One file's model with its includes imported, its services extended, its paths resolved. */
  load(path: string, by: string, chain: string[]): Record<string, unknown> | undefined {
    if (chain.includes(path)) {
      this.problems.push(`${by}: include cycle ${[...chain, path].join(' → ')}`)
      return undefined
    }
    const model = this.parse(path, by)
    if (!model) return undefined
    const services = isRecord(model.services) ? model.services : {}
    for (const [name, service] of Object.entries(services)) {
      if (isRecord(service)) services[name] = this.applyExtends(service, name, path)
      this.serviceFiles[name] ??= path
    }
    const includes = model.include
    delete model.include
    for (const entry of Array.isArray(includes) ? includes : []) {
      const spec = typeof entry === 'string' ? { path: entry } : isRecord(entry) ? entry : {}
      if (spec.project_directory !== undefined || spec.env_file !== undefined) {
        // Both change how the included file resolves paths or variables; nothing here uses them.
        this.problems.push(
          `${path}: include ${JSON.stringify(entry)}: project_directory and env_file are not supported by compose-check`,
        )
      }
      const paths = Array.isArray(spec.path) ? spec.path : [spec.path]
      if (paths.length !== 1 || typeof paths[0] !== 'string') {
        this.problems.push(`${path}: include ${JSON.stringify(entry)}: give one path per include entry`)
        continue
      }
      const includedPath = this.fromRoot(dirname(path), paths[0])
      const included = this.load(includedPath, `${path}: include`, [...chain, path])
      if (included) this.importResources(included, model, includedPath)
    }
    return model
  }

  /** Copies an included file's resources in; a same-named, different resource is an error, as in Compose. */
  importResources(source: Record<string, unknown>, target: Record<string, unknown>, from: string): void {
    for (const kind of ['services', 'volumes', 'networks', 'secrets', 'configs']) {
      const resources = source[kind]
      if (!isRecord(resources)) continue
      const into = isRecord(target[kind]) ? target[kind] : {}
      for (const [name, resource] of Object.entries(resources)) {
        if (name in into && JSON.stringify(into[name]) !== JSON.stringify(resource)) {
          this.problems.push(`${from}: ${kind}.${name} conflicts with a resource of the same name`)
          continue
        }
        into[name] = resource
      }
      target[kind] = into
    }
  }
}

/** The project rooted at `rootFile` (relative to `root`), read through `read`. */
export function loadCompose(root: string, rootFile: string, read: ReadText): LoadedCompose {
  const loader = new Loader(root, read)
  const model = loader.load(rootFile, 'compose-check', []) ?? {}
  return { model, files: loader.files, problems: loader.problems, serviceFiles: loader.serviceFiles }
}
