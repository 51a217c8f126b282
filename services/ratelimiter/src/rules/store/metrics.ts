import type { Metrics } from '@faultline/kit/metrics'
import type { RedisRulesSource } from './redis-rules-source.ts'

/**
 * The rules distribution's metrics, beside components.ts's `ratelimiter_rules_version` (the
 * version an instance decides with) and `ratelimiter_rules_applies_total{outcome}`. Read from the
 * source at scrape time, so they can never disagree with it. pm07 pauses an applier once its
 * `ratelimiter_rules_apply_in_progress` is 1 (mid-apply, deterministically); the chart draws the
 * store's generation as each instance reads it.
 */
export function observeRulesStore(metrics: Metrics, source: RedisRulesSource): void {
  metrics.gauge({
    name: 'ratelimiter_rules_store_generation',
    help: 'Version of the applied ruleset in Redis as this instance last read it (0 = none, or an in-place apply under way)',
    collect() {
      this.set(source.distribution().generation)
    },
  })
  metrics.gauge({
    name: 'ratelimiter_rules_apply_in_progress',
    help: 'Applies of this instance writing a ruleset to Redis now (file at boot or reload, PUT /admin/rules)',
    collect() {
      this.set(source.distribution().appliesInProgress)
    },
  })
  metrics.counter({
    name: 'ratelimiter_rules_store_reads_total',
    help: 'Reads of the applied ruleset in Redis by outcome: adopted, unchanged, refused_empty, refused_older, refused_conflict, refused_invalid, failed',
    labelNames: ['outcome'],
    collect() {
      this.reset()
      for (const [outcome, count] of source.readCounts()) this.inc({ outcome }, count)
    },
  })
}
