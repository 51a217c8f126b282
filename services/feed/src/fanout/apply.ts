/**
 * Applies one post event to Redis. Everything here is idempotent (capped-add skips an id already
 * there, ZREM of a missing id is a no-op), so the consumer may apply an event twice — after a
 * crash before the offset commit, or a republished outbox row — and the timelines end the same.
 *
 * post_created: the author's recent set and own timeline (read-your-writes), then every follower
 * with a timeline (inactive ones are skipped by the script) — unless hybrid fan-out is on and the
 * author has FANOUT_CELEBRITY_THRESHOLD followers or more, or was pulled before: readers merge
 * that author's recent set.
 * post_deleted: out of the author's set, the author's and every follower's timeline (whatever the
 * switch was when it was created).
 */
import type { FanoutResult, TimelineStore } from '../timeline-store.ts'
import type { PostEvent } from '../types.ts'
import type { FollowerSource } from './followers.ts'
import type { AuthorClass, FanoutMetrics } from './metrics.ts'
import type { PulledAuthors } from './pulled-authors.ts'

type PostCreatedEvent = Extract<PostEvent, { type: 'post_created' }>
type PostDeletedEvent = Extract<PostEvent, { type: 'post_deleted' }>

export interface FanoutApplierOptions {
  store: Pick<TimelineStore, 'pushToActive' | 'addToAuthor' | 'removeFromTimelines' | 'removeFromAuthor'>
  followers: Pick<FollowerSource, 'facts' | 'pages'>
  /** The live switches (hybridFanout is read per event, so a flip applies to the next post). */
  switches: { readonly current: { readonly hybridFanout: boolean } }
  /** Marks an author pulled at their first post that is not pushed. */
  pulledAuthors: Pick<PulledAuthors, 'mark'>
  celebrityThreshold: number
  /** Timeline inserts per Redis pipeline (FANOUT_PIPELINE). */
  pipeline: number
  metrics: FanoutMetrics
}

export class FanoutApplier {
  readonly #o: FanoutApplierOptions

  constructor(options: FanoutApplierOptions) {
    this.#o = options
  }

  /** `betweenPages` runs after each page of followers (the consumer's heartbeat). */
  async apply(event: PostEvent, betweenPages: () => Promise<void> = async () => {}): Promise<void> {
    if (event.type === 'post_created') await this.#created(event, betweenPages)
    else await this.#deleted(event, betweenPages)
  }

  async #created(event: PostCreatedEvent, betweenPages: () => Promise<void>): Promise<void> {
    const { store, metrics } = this.#o
    const facts = await this.#o.followers.facts(event.authorId, event.postId)
    const authorClass = this.#classOf(facts.followerCount)
    if (facts.postDeleted) {
      // Deleted before its fan-out ran (or replayed after the delete): pushing it would resurrect it.
      metrics.events.inc({ type: 'skipped_deleted', class: authorClass })
      return
    }
    // Once pulled, always pulled (migrations/0002): an author who drops back below the threshold
    // keeps being merged at read time, so their posts made while pulled do not vanish.
    const pulled = this.#o.switches.current.hybridFanout && (facts.pulled || authorClass === 'celebrity')
    if (pulled && !facts.pulled) await this.#o.pulledAuthors.mark(event.authorId)
    await store.addToAuthor(event.authorId, [event.postId])
    const total: FanoutResult = { added: 0, already: 0, inactive: 0, unfollowed: 0 }
    addInto(total, await store.pushToActive([event.authorId], event.authorId, event.postId, 1))
    if (!pulled) {
      for await (const page of this.#o.followers.pages(event.authorId)) {
        addInto(total, await store.pushToActive(page, event.authorId, event.postId, this.#o.pipeline))
        await betweenPages()
      }
    }
    metrics.deliveries.inc({ result: 'added' }, total.added)
    metrics.deliveries.inc({ result: 'already' }, total.already)
    metrics.deliveries.inc({ result: 'inactive' }, total.inactive)
    metrics.deliveries.inc({ result: 'unfollowed' }, total.unfollowed)
    metrics.events.inc({ type: 'created', class: authorClass })
    metrics.delivered.observe({ class: authorClass }, Math.max(0, Date.now() - event.createdAtMs) / 1000)
  }

  async #deleted(event: PostDeletedEvent, betweenPages: () => Promise<void>): Promise<void> {
    const { store } = this.#o
    const facts = await this.#o.followers.facts(event.authorId, event.postId)
    // The author's set first: readers merging a celebrity's recent posts stop seeing it at once.
    await store.removeFromAuthor(event.authorId, [event.postId])
    await store.removeFromTimelines([event.authorId], [event.postId], 1)
    for await (const page of this.#o.followers.pages(event.authorId)) {
      await store.removeFromTimelines(page, [event.postId], this.#o.pipeline)
      await betweenPages()
    }
    this.#o.metrics.events.inc({ type: 'deleted', class: this.#classOf(facts.followerCount) })
  }

  /** By follower count alone, whatever the switch: pm18 compares the classes with hybrid on and off. */
  #classOf(followerCount: number): AuthorClass {
    return followerCount >= this.#o.celebrityThreshold ? 'celebrity' : 'regular'
  }
}

function addInto(total: FanoutResult, r: FanoutResult): void {
  total.added += r.added
  total.already += r.already
  total.inactive += r.inactive
  total.unfollowed += r.unfollowed
}
