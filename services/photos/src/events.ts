/**
 * A photo's terminal status, announced from the worker to the API's SSE streams through Redis
 * pub/sub on the cache Redis (`photos:events:<id>`). Pub/sub is fire-and-forget: a stream that
 * was not listening misses the message — which is why a stream first sends the status the photo
 * row has (after subscribing), so a `ready` that happened before it subscribed is still seen.
 */
import type { Redis } from 'ioredis'
import type { Keys } from './keys.ts'
import type { PhotoStatus } from './types.ts'

export class PhotoEventPublisher {
  readonly #redis: Pick<Redis, 'publish'>
  readonly #keys: Keys

  constructor(redis: Pick<Redis, 'publish'>, keys: Keys) {
    this.#redis = redis
    this.#keys = keys
  }

  async announce(photoId: string, status: PhotoStatus): Promise<void> {
    await this.#redis.publish(this.#keys.photoEvents(photoId), status)
  }
}

type Listener = (status: PhotoStatus) => void

/**
 * One subscriber connection per API process (a Redis connection in subscribe mode can do nothing
 * else), fanning each photo's messages out to the streams that watch it; a channel is subscribed
 * while at least one stream watches it.
 */
export class PhotoEventHub {
  readonly #sub: Redis
  readonly #keys: Keys
  readonly #listeners = new Map<string, Set<Listener>>()

  constructor(subscriber: Redis, keys: Keys) {
    this.#sub = subscriber
    this.#keys = keys
    subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.#listeners.get(channel) ?? []) listener(message as PhotoStatus)
    })
  }

  /** Calls `listener` with each status announced for the photo until the returned function is called. */
  async watch(photoId: string, listener: Listener): Promise<() => Promise<void>> {
    const channel = this.#keys.photoEvents(photoId)
    let set = this.#listeners.get(channel)
    if (!set) {
      set = new Set()
      this.#listeners.set(channel, set)
      await this.#sub.subscribe(channel)
    }
    set.add(listener)
    return async () => {
      const current = this.#listeners.get(channel)
      current?.delete(listener)
      if (current && current.size === 0) {
        this.#listeners.delete(channel)
        await this.#sub.unsubscribe(channel).catch(() => {})
      }
    }
  }

  get watchedPhotos(): number {
    return this.#listeners.size
  }
}
