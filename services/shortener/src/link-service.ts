import type { BlockAllocator, CodeCodec } from './codes/index.ts'
import { AliasTakenError, IdSpaceExhaustedError, StorageUnavailableError } from './errors.ts'
import type { LinkCache } from './link-cache.ts'
import type { Log } from './link-resolver.ts'
import type { ShortenerMetrics } from './metrics.ts'
import { CodeTakenError, type LinkRepository, type LinkWithClicks } from './repositories/links.ts'
import { validateAlias, validateExpiresAt, validateTargetUrl } from './validation.ts'

export interface CreateLinkInput {
  url: string
  alias?: string
  expiresAt?: string
}

export interface CreatedLink {
  code: string
  shortUrl: string
  url: string
  expiresAt: string | null
}

export interface LinkServiceOptions {
  repo: Pick<LinkRepository, 'insert' | 'findWithClicks'>
  allocator: Pick<BlockAllocator, 'next'>
  codec: CodeCodec
  /** Exclusive upper bound of ids the codec accepts. */
  idSpace: number
  cache: Pick<LinkCache, 'delete'>
  metrics: ShortenerMetrics
  log: Log
  /** `https://sho.rt` — short URLs are `${publicBaseUrl}/${code}`. */
  publicBaseUrl: string
  now?: () => number
}

/** How many taken generated codes in a row before giving up (each needs an alias of that exact shape). */
const maxCollisions = 5

/** Creating and reading links (the control plane; the redirect path is LinkResolver). */
export class LinkService {
  readonly #o: LinkServiceOptions
  readonly #now: () => number
  readonly #forbiddenHosts: string[]

  constructor(options: LinkServiceOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
    this.#forbiddenHosts = [new URL(options.publicBaseUrl).hostname]
  }

  shortUrl(code: string): string {
    return `${this.#o.publicBaseUrl.replace(/\/+$/, '')}/${code}`
  }

  async create(input: CreateLinkInput): Promise<CreatedLink> {
    const url = validateTargetUrl(input.url, { forbiddenHosts: this.#forbiddenHosts })
    const alias = input.alias === undefined ? undefined : validateAlias(input.alias)
    const expiresAt = input.expiresAt === undefined ? null : validateExpiresAt(input.expiresAt, this.#now())
    const { repo, metrics } = this.#o
    for (let attempt = 0; ; attempt++) {
      const id = await this.#nextId()
      const code = alias ?? this.#o.codec.encode(id)
      try {
        await repo.insert({ id, code, url, customAlias: alias !== undefined, expiresAt })
      } catch (err) {
        if (err instanceof CodeTakenError) {
          if (alias !== undefined) throw new AliasTakenError(alias)
          // Only a custom alias that happens to look like a generated code can take one.
          metrics.codeCollisions.inc()
          if (attempt + 1 < maxCollisions) continue
        }
        this.#o.log.error({ err, code }, 'link insert failed')
        throw new StorageUnavailableError()
      }
      metrics.linksCreated.inc({ kind: alias === undefined ? 'generated' : 'alias' })
      // A redirect of this code may have cached "missing" before it existed.
      await this.#o.cache.delete(code).catch((err: unknown) => {
        metrics.cacheErrors.inc({ op: 'delete' })
        this.#o.log.warn({ err, code }, 'cache delete after create failed')
      })
      return { code, shortUrl: this.shortUrl(code), url, expiresAt: expiresAt?.toISOString() ?? null }
    }
  }

  async get(code: string): Promise<LinkWithClicks | undefined> {
    try {
      return await this.#o.repo.findWithClicks(code)
    } catch (err) {
      this.#o.log.error({ err, code }, 'link read failed')
      throw new StorageUnavailableError()
    }
  }

  async #nextId(): Promise<number> {
    let id: number
    try {
      id = await this.#o.allocator.next()
    } catch (err) {
      this.#o.log.error({ err }, 'id block lease failed')
      throw new StorageUnavailableError()
    }
    if (id >= this.#o.idSpace) throw new IdSpaceExhaustedError()
    return id
  }
}
