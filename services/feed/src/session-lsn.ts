/**
 * Read-your-writes on a lagging replica (pm14). After a user's write commits, the API records the
 * primary's WAL position (`pg_current_wal_lsn()`) under `keys.sessionLsn(user)` for RYW_WINDOW_S.
 * A read of that user's data goes to the replica only once the replica has replayed that position
 * (`pg_last_wal_replay_lsn()`, cached for REPLICA_LSN_CACHE_MS); until then it goes to the primary.
 * With `readYourWrites` off, reads go to the replica whatever its lag (the naive service).
 */
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { Keys } from './keys.ts'

/** An LSN `X/Y` (two hex halves) as one comparable bigint. */
export function lsnToBigInt(lsn: string): bigint {
  const [hi, lo] = lsn.split('/')
  if (hi === undefined || lo === undefined || !/^[0-9A-Fa-f]+$/.test(hi) || !/^[0-9A-Fa-f]+$/.test(lo)) {
    throw new TypeError(`not an LSN: ${lsn}`)
  }
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)
}

/** The primary's current WAL position, read right after a commit on any connection of the primary. */
export async function currentLsn(primary: Pick<pg.Pool, 'query'>): Promise<string> {
  const { rows } = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
  const lsn = rows[0]?.lsn
  if (lsn === undefined) throw new Error('pg_current_wal_lsn() returned nothing')
  return lsn
}

export interface SessionLsnOptions {
  redis: Redis
  keys: Keys
  primary: pg.Pool
  replica: pg.Pool
  /** How long a write's LSN is remembered (RYW_WINDOW_S in ms). */
  windowMs: number
  /** How long the replica's replay position is reused (REPLICA_LSN_CACHE_MS). */
  replicaLsnCacheMs: number
  /** Live switch: off = always the replica. */
  enabled: () => boolean
}

export interface ReadRoute {
  pool: pg.Pool
  target: 'primary' | 'replica'
}

export class SessionLsn {
  readonly #o: SessionLsnOptions
  #replayed: { lsn: bigint; at: number } | undefined
  #replayedInFlight: Promise<bigint | null> | undefined

  constructor(options: SessionLsnOptions) {
    this.#o = options
  }

  /** After a user's write committed: remember the primary's position for their next reads. */
  async recordWrite(userId: string): Promise<void> {
    const lsn = await currentLsn(this.#o.primary)
    // Only ever move forward: two writes racing must not leave the older position behind.
    await this.#o.redis.eval(
      "local cur = redis.call('GET', KEYS[1]) if cur == false or cur < ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 1",
      1,
      this.#o.keys.sessionLsn(userId),
      lsnToBigInt(lsn).toString(16).padStart(16, '0'),
      this.#o.windowMs,
    )
  }

  /** Where a read of this user's data goes now. */
  async routeFor(userId: string): Promise<ReadRoute> {
    const replica: ReadRoute = { pool: this.#o.replica, target: 'replica' }
    if (!this.#o.enabled()) return replica
    const stored = await this.#o.redis.get(this.#o.keys.sessionLsn(userId))
    if (stored === null) return replica
    const replayed = await this.#replayedLsn()
    if (replayed !== null && replayed >= BigInt(`0x${stored}`)) return replica
    return { pool: this.#o.primary, target: 'primary' }
  }

  /** The replica's replayed position, shared by concurrent reads and cached briefly; null if unknown. */
  async #replayedLsn(): Promise<bigint | null> {
    const cached = this.#replayed
    if (cached && Date.now() - cached.at < this.#o.replicaLsnCacheMs) return cached.lsn
    this.#replayedInFlight ??= this.#o.replica
      .query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')
      .then(({ rows }) => {
        const text = rows[0]?.lsn ?? null
        if (text === null) return null
        const lsn = lsnToBigInt(text)
        this.#replayed = { lsn, at: Date.now() }
        return lsn
      })
      .catch(() => null)
      .finally(() => {
        this.#replayedInFlight = undefined
      })
    return this.#replayedInFlight
  }
}
