/**
 * What the feed's experiments (`chaos/feed/`) and tools need to set up and check the service's
 * state without knowing its tables or Redis keys. (Skeleton: the fixture helper fills it in.)
 */
import { Keys } from './keys.ts'

export { Keys } from './keys.ts'

export interface FeedFixtureOptions {
  /** DB_SCHEMA of the instances (default `feed`). */
  schema?: string
  /** REDIS_KEY_PREFIX of the instances (default `feed`). */
  keyPrefix?: string
}

export class FeedFixture {
  readonly schema: string
  readonly keys: Keys

  constructor(options: FeedFixtureOptions = {}) {
    this.schema = options.schema ?? 'feed'
    this.keys = new Keys(options.keyPrefix ?? 'feed')
  }
}

export const fixture = new FeedFixture()
