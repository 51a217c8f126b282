/**
 * A `Locker` for `@tus/server` shared by every API instance (tusd#1129: the default memory locker
 * is per process, so two instances could append to the same upload at once and corrupt it).
 *
 * One lock is one Redis key (`keys.tusLock(id)`) set with `SET NX PX` to a random token: it
 * expires by itself, so a holder that dies (crash, kill -9, lost network) costs at most one TTL,
 * never a stuck upload. While held it is renewed every third of its TTL, only if it still holds
 * its token (a Lua compare-and-extend); a renewal that finds the lock gone asks the request to
 * stop (tus's `cancelReq`), so a holder that lost its lock does not keep writing. The release
 * deletes the key only while it still holds the token, so a late holder never frees the next
 * holder's lock.
 *
 * Waiting: a request that finds the lock held polls with capped, jittered backoff until it gets
 * it, its request is aborted, or `acquireTimeoutMs` passes ({@link LockBusyError}, answered 423 so
 * tus clients retry). A holder in this process is asked to let go at once (the library's protocol,
 * as its MemoryLocker does); a holder in another instance finishes its request first.
 */
import { randomUUID } from 'node:crypto'
import { backoffDelayMs } from '@faultline/resilience'
import type { Lock, Locker, RequestRelease } from '@tus/server'
import type { Redis } from 'ioredis'

const releaseLua = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`
const renewLua = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`

type LockCommands = Redis & {
  tusLockRelease(key: string, token: string): Promise<number>
  tusLockRenew(key: string, token: string, ttlMs: number): Promise<number>
}

/** The lock could not be had in time: another request (maybe on another instance) holds it. */
export class LockBusyError extends Error {
  readonly status_code = 423
  readonly body = 'the upload is locked by another request; retry shortly\n'

  readonly uploadId: string

  constructor(uploadId: string) {
    super(`lock of upload ${uploadId} is held by another request`)
    this.name = 'LockBusyError'
    this.uploadId = uploadId
  }
}

export interface RedisLockerOptions {
  redis: Redis
  /** The lock key of an upload id (`keys.tusLock`). */
  key(uploadId: string): string
  /** A lock whose holder stopped renewing it frees itself after this long. */
  ttlMs: number
  /** How long a request waits for a held lock before it is answered 423. */
  acquireTimeoutMs: number
}

export class RedisLocker implements Locker {
  readonly options: RedisLockerOptions
  /** Holders in this process: asked to let go when another local request wants their lock. */
  readonly localHolders = new Map<string, RequestRelease>()

  constructor(options: RedisLockerOptions) {
    this.options = options
    const redis = options.redis as unknown as Partial<LockCommands>
    if (typeof redis.tusLockRelease !== 'function') {
      options.redis.defineCommand('tusLockRelease', { numberOfKeys: 1, lua: releaseLua })
      options.redis.defineCommand('tusLockRenew', { numberOfKeys: 1, lua: renewLua })
    }
  }

  newLock(id: string): Lock {
    return new RedisLock(this, id)
  }
}

class RedisLock implements Lock {
  readonly #locker: RedisLocker
  readonly #id: string
  readonly #key: string
  readonly #token = randomUUID()
  #renewTimer: NodeJS.Timeout | undefined

  constructor(locker: RedisLocker, id: string) {
    this.#locker = locker
    this.#id = id
    this.#key = locker.options.key(id)
  }

  get #redis(): LockCommands {
    return this.#locker.options.redis as unknown as LockCommands
  }

  async lock(signal: AbortSignal, cancelReq: RequestRelease): Promise<void> {
    const { ttlMs, acquireTimeoutMs } = this.#locker.options
    const giveUpAt = Date.now() + acquireTimeoutMs
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throw signal.reason ?? new Error('request aborted while waiting for a lock')
      if ((await this.#redis.set(this.#key, this.#token, 'PX', ttlMs, 'NX')) === 'OK') break
      if (attempt === 0) await this.#locker.localHolders.get(this.#id)?.()
      const waitMs = Math.min(backoffDelayMs(attempt, { baseMs: 20, capMs: 250 }), giveUpAt - Date.now())
      if (waitMs <= 0) throw new LockBusyError(this.#id)
      await sleep(waitMs, signal)
    }
    this.#locker.localHolders.set(this.#id, cancelReq)
    this.#renewTimer = setInterval(() => void this.#renew(cancelReq), Math.max(1, Math.floor(ttlMs / 3)))
    this.#renewTimer.unref()
  }

  async unlock(): Promise<void> {
    clearInterval(this.#renewTimer)
    this.#renewTimer = undefined
    this.#locker.localHolders.delete(this.#id)
    await this.#redis.tusLockRelease(this.#key, this.#token)
  }

  /** Extends the lock; if it is no longer ours (expired and taken), the request must stop. */
  async #renew(cancelReq: RequestRelease): Promise<void> {
    try {
      const renewed = await this.#redis.tusLockRenew(this.#key, this.#token, this.#locker.options.ttlMs)
      if (renewed === 1) return
      clearInterval(this.#renewTimer)
      await cancelReq()
    } catch {
      // Redis did not answer this time: the next renewal (a third of the TTL later) tries again.
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
