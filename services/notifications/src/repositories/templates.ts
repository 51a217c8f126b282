/**
 * Templates: per channel, the Liquid sources a notification is rendered from (src/templates/).
 * The API writes them (PUT /api/templates/:name) and checks a notification against them at accept
 * time; the router and the channel workers read them per message, so reads go through a small
 * in-process cache with a short TTL: a hot template costs one query per TTL per process instead
 * of one per message, and an edit reaches every process within the TTL.
 */
import type pg from 'pg'
import { channels as allChannels, type Channel } from '../types.ts'

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>

/** The parts of each channel a template may define (every value is a Liquid source). */
export interface TemplateChannels {
  email?: { subject: string; html: string; text?: string }
  sms?: { text: string }
  push?: { title: string; body: string }
  webhook?: { text: string }
}

export interface Template {
  name: string
  channels: TemplateChannels
  updatedAt: string
}

/** The name rule of the SQL CHECK (the API validates it before it reaches Postgres). */
export const templateNamePattern = /^[a-z0-9][a-z0-9_.-]{0,63}$/

/** The channels a template defines, in the canonical channel order. */
export function templateChannelsOf(t: Pick<Template, 'channels'> | TemplateChannels): Channel[] {
  const defined = ('channels' in t ? t.channels : t) as TemplateChannels
  return allChannels.filter((c) => defined[c] !== undefined && defined[c] !== null)
}

interface TemplateRow {
  name: string
  channels: TemplateChannels
  updated_at: Date
}

function toTemplate(r: TemplateRow): Template {
  return { name: r.name, channels: r.channels, updatedAt: r.updated_at.toISOString() }
}

export interface TemplateRepositoryOptions {
  /** How long a read template is reused without asking Postgres again (0 = no cache). */
  cacheTtlMs?: number
  /** The clock (tests move it). */
  now?: () => number
}

interface CacheEntry {
  expiresAtMs: number
  value: Promise<Template | null>
}

export class TemplateRepository {
  readonly #db: Queryable
  readonly #ttlMs: number
  readonly #now: () => number
  readonly #cache = new Map<string, CacheEntry>()

  constructor(db: Queryable, o: TemplateRepositoryOptions = {}) {
    this.#db = db
    this.#ttlMs = o.cacheTtlMs ?? 2000
    this.#now = o.now ?? Date.now
  }

  /**
   * The template, or null when there is none. Concurrent reads of one name share one query (the
   * cache holds the promise). A miss is not cached: a template just PUT through another API
   * instance must be usable at once, and unknown names are rejected by the API anyway.
   */
  async get(name: string): Promise<Template | null> {
    if (this.#ttlMs <= 0) return this.#load(name)
    const now = this.#now()
    const hit = this.#cache.get(name)
    if (hit && hit.expiresAtMs > now) return hit.value
    const value = this.#load(name)
    const entry = { expiresAtMs: now + this.#ttlMs, value }
    this.#cache.set(name, entry)
    value.then(
      (t) => {
        if (t === null && this.#cache.get(name) === entry) this.#cache.delete(name)
      },
      () => {
        if (this.#cache.get(name) === entry) this.#cache.delete(name)
      },
    )
    return value
  }

  /** Creates or replaces a template; `created` tells which (201 or 200). */
  async put(name: string, channels: TemplateChannels): Promise<{ template: Template; created: boolean }> {
    const { rows } = await this.#db.query<TemplateRow & { created: boolean }>(
      `INSERT INTO templates AS t (name, channels) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET channels = $2, updated_at = now()
       RETURNING t.*, (xmax = 0) AS created`,
      [name, JSON.stringify(channels)],
    )
    const row = rows[0] as TemplateRow & { created: boolean }
    const template = toTemplate(row)
    // This process sees its own write at once; other processes within the TTL.
    this.#cache.delete(name)
    return { template, created: row.created }
  }

  /** Every template, by name (not cached: an admin read). */
  async list(): Promise<Template[]> {
    const { rows } = await this.#db.query<TemplateRow>('SELECT * FROM templates ORDER BY name')
    return rows.map(toTemplate)
  }

  /** Forgets every cached template (tests; an admin reload). */
  clearCache(): void {
    this.#cache.clear()
  }

  async #load(name: string): Promise<Template | null> {
    const { rows } = await this.#db.query<TemplateRow>('SELECT * FROM templates WHERE name = $1', [name])
    return rows[0] ? toTemplate(rows[0]) : null
  }
}
