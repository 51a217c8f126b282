/**
 * The relay's counters, on the kit registry its /metrics serves:
 * - `feed_outbox_published_total`: rows Kafka acknowledged (and the relay then deleted);
 * - `feed_outbox_publish_errors_total`: failed sends (each retried; nothing is dropped);
 * - `feed_relay_leader`: 1 while this relay holds the lock, 0 on a standby;
 * - `feed_outbox_backlog` and `feed_outbox_oldest_age_seconds`: rows waiting and the age of the
 *   oldest, read from Postgres at scrape time (so standbys report them too).
 */
import type { Metrics } from '@faultline/kit/metrics'
import type { RelayMetricsSink } from '@faultline/kit/outbox-relay'
import type pg from 'pg'

export function createRelayMetrics(metrics: Metrics, pool: Pick<pg.Pool, 'query'>): RelayMetricsSink {
  const published = metrics.counter({
    name: 'feed_outbox_published_total',
    help: 'outbox rows published to Kafka (acks = all) and deleted',
  })
  const publishErrors = metrics.counter({
    name: 'feed_outbox_publish_errors_total',
    help: 'failed sends of an outbox batch (retried until Kafka acknowledges)',
  })
  const leader = metrics.gauge({
    name: 'feed_relay_leader',
    help: '1 while this relay holds the outbox lock, 0 while it stands by',
  })
  leader.set(0)
  // One query serves both gauges; a scrape during a Postgres outage keeps the last values.
  let pending: Promise<{ rows: number; ageS: number } | undefined> | undefined
  const readBacklog = () => {
    pending ??= pool
      .query<{ rows: string; age_s: number | null }>(
        'SELECT count(*) AS rows, extract(epoch FROM now() - min(created_at))::float8 AS age_s FROM outbox',
      )
      .then(
        (r) => ({ rows: Number(r.rows[0]?.rows ?? 0), ageS: r.rows[0]?.age_s ?? 0 }),
        () => undefined,
      )
      .finally(() => {
        pending = undefined
      })
    return pending
  }
  metrics.gauge({
    name: 'feed_outbox_backlog',
    help: 'outbox rows not yet published (read at scrape time)',
    async collect() {
      const backlog = await readBacklog()
      if (backlog) this.set(backlog.rows)
    },
  })
  metrics.gauge({
    name: 'feed_outbox_oldest_age_seconds',
    help: 'age of the oldest unpublished outbox row, 0 when empty (read at scrape time)',
    async collect() {
      const backlog = await readBacklog()
      if (backlog) this.set(Math.max(0, backlog.ageS))
    },
  })
  return {
    published: (count) => published.inc(count),
    publishFailed: () => publishErrors.inc(),
    leader: (isLeader) => leader.set(isLeader ? 1 : 0),
  }
}
