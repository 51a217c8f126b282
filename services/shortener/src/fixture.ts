/**
 * What the shortener's experiments (`chaos/shortener/`) and tools need to set up and check the
 * service's state, without knowing its tables or its Redis keys: the key builder, one reset by
 * code prefix, seeding (through the API, or straight into Postgres with ids leased the way the
 * service leases them), the counts invariants read, and pm13's schema-change drill.
 *
 * Every function takes plain clients — a `pg` Pool opened without the service's search_path and
 * an ioredis client on the cache, such as the lab's context or a test's — so nothing here
 * depends on the lab. The shortener's schema and key prefix are the service's defaults
 * (DB_SCHEMA=shortener, no REDIS_KEY_PREFIX) unless given.
 */
import { unlinkMatching } from '@faultline/infra'
import type { Redis } from 'ioredis'
import { AddColumnDrill, type AddColumnDrillOptions } from './fixture/add-column-drill.ts'
import { type ApiOptions, createLinks, redirectEach } from './fixture/api.ts'
import { assertSchemaName, type Db, isInstalled } from './fixture/in-schema.ts'
import {
  clicksCounted,
  type DeletedRows,
  deleteCodeRows,
  type SeedLink,
  type SeedResult,
  seedLinks,
} from './fixture/rows.ts'
import { Keys } from './keys.ts'

export type { AddColumnDrill, AddColumnDrillOptions, DrillState } from './fixture/add-column-drill.ts'
export type { ApiOptions } from './fixture/api.ts'
export type { Db } from './fixture/in-schema.ts'
export type { DeletedRows, SeedLink, SeedResult } from './fixture/rows.ts'
export { Keys } from './keys.ts'

/** The cache Redis, as much of it as the fixture uses. */
export type Cache = Pick<Redis, 'scan' | 'unlink' | 'exists'>

/** The clients the fixture works with: Postgres (primary, direct) and the cache Redis. */
export interface FixtureClients {
  pg: Db
  redis: Cache
}

export interface ResetResult extends DeletedRows {
  /** Cache entries and fill leases removed. */
  keys: number
}

export interface ShortenerFixtureOptions {
  /** DB_SCHEMA of the instances (default `shortener`). */
  schema?: string
  /** REDIS_KEY_PREFIX of the instances (default none). */
  keyPrefix?: string
}

export class ShortenerFixture {
  readonly schema: string
  readonly keys: Keys

  constructor(options: ShortenerFixtureOptions = {}) {
    this.schema = options.schema ?? 'shortener'
    assertSchemaName(this.schema)
    this.keys = new Keys(options.keyPrefix)
  }

  /** Whether the migrations have run (any instance applies them at boot). */
  installed(pg: Pick<Db, 'query'>): Promise<boolean> {
    return isInstalled(pg, this.schema)
  }

  /**
   * Removes everything of the codes starting with `codePrefix` — links, click counts, cached
   * entries (and negative markers), fill leases — so a run starts from nothing. Run it while no
   * instance serves those codes (a lab `reset`), or an instance may cache one again.
   */
  async reset(clients: FixtureClients, codePrefix: string): Promise<ResetResult> {
    if (codePrefix === '') throw new TypeError('reset needs a code prefix: it never removes every code')
    const rows = await deleteCodeRows(clients.pg, this.schema, codePrefix)
    let keys = 0
    for (const pattern of this.keys.codePatterns(codePrefix))
      keys += await unlinkMatching(clients.redis, pattern)
    return { ...rows, keys }
  }

  /** Inserts the links not there yet straight into Postgres (see fixture/rows.ts). */
  seedLinks(pg: Db, links: readonly SeedLink[]): Promise<SeedResult> {
    return seedLinks(pg, this.schema, links)
  }

  /** Creates links through the API of running instances; `warm` also redirects each once. */
  createLinks(baseUrls: readonly string[], links: readonly SeedLink[], options?: ApiOptions): Promise<void> {
    return createLinks(baseUrls, links, options)
  }

  /** Redirects each code once through the API, which fills the cache. */
  redirectEach(
    baseUrls: readonly string[],
    codes: readonly string[],
    options?: Pick<ApiOptions, 'concurrency'>,
  ): Promise<void> {
    return redirectEach(baseUrls, codes, options)
  }

  /** How many of `codes` have an entry in the cache. */
  async cachedCount(redis: Pick<Cache, 'exists'>, codes: readonly string[]): Promise<number> {
    if (codes.length === 0) return 0
    return redis.exists(...codes.map((code) => this.keys.link(code)))
  }

  /** Clicks the worker has counted in Postgres for codes starting with `codePrefix`. */
  clicksCounted(pg: Db, codePrefix: string): Promise<number> {
    return clicksCounted(pg, this.schema, codePrefix)
  }

  /** pm13's drill: a migration that adds a column to `links`, applied under load. */
  addColumnDrill(options: AddColumnDrillOptions): AddColumnDrill {
    return new AddColumnDrill(this.schema, options)
  }
}

/** The fixture of instances with the default schema and no key prefix (every chaos experiment). */
export const fixture = new ShortenerFixture()
