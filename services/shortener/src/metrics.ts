import { Counter, Gauge, type Registry } from 'prom-client'

/**
 * The shortener's own metrics. The experiments' checkers read them by name, so names are part of
 * the contract (pm10 divides `shortener_db_lookups_total` by the forced expiries; pm04 compares
 * published + dropped with redirects).
 */
export interface GaugeSources {
  spoolSize(): number
}

export function createShortenerMetrics(registry: Registry, sources: GaugeSources) {
  const registers = [registry]
  const metrics = {
    redirects: new Counter({
      name: 'shortener_redirects_total',
      help: 'GET /:code answers, by HTTP status (301/302 redirect, 404 unknown, 410 expired, 503 shed).',
      labelNames: ['status'] as const,
      registers,
    }),
    cacheHits: new Counter({
      name: 'shortener_cache_hits_total',
      help: "Redirect lookups answered by a cache: kind=local (this process's memory), link, missing (negative cache) or stale (served while revalidating) from Redis.",
      labelNames: ['kind'] as const,
      registers,
    }),
    cacheMisses: new Counter({
      name: 'shortener_cache_misses_total',
      help: 'Redirect lookups Redis could not answer (absent, unreadable, or stale without staleWhileRevalidate).',
      registers,
    }),
    cacheErrors: new Counter({
      name: 'shortener_cache_errors_total',
      help: 'Redis commands of the redirect path that failed (the lookup then goes to Postgres).',
      labelNames: ['op'] as const,
      registers,
    }),
    dbLookups: new Counter({
      name: 'shortener_db_lookups_total',
      help: 'Postgres reads on the redirect path (cache fills). With singleFlight, at most one per code at a time per instance.',
      registers,
    }),
    dbLookupErrors: new Counter({
      name: 'shortener_db_lookup_errors_total',
      help: 'Redirect-path Postgres reads that failed.',
      registers,
    }),
    fillsJoined: new Counter({
      name: 'shortener_fills_joined_total',
      help: 'Cache misses that waited for a fill already in flight instead of reading Postgres (singleFlight).',
      registers,
    }),
    fillTimeouts: new Counter({
      name: 'shortener_fill_timeouts_total',
      help: 'Cache fills abandoned at FILL_TIMEOUT_MS (503); the query may still run, its row is not cached.',
      registers,
    }),
    coldPathRejected: new Counter({
      name: 'shortener_cold_path_rejected_total',
      help: 'Cache misses shed with 503 because the cold-path bulkhead was full (coldPathLimit).',
      registers,
    }),
    linksCreated: new Counter({
      name: 'shortener_links_created_total',
      help: 'Links created, by kind (generated code or custom alias).',
      labelNames: ['kind'] as const,
      registers,
    }),
    codeCollisions: new Counter({
      name: 'shortener_code_collisions_total',
      help: 'Generated codes already taken (only by a custom alias of the same shape); the next id was used.',
      registers,
    }),
    idBlocksLeased: new Counter({
      name: 'shortener_id_blocks_leased_total',
      help: 'Id blocks leased from Postgres by this instance.',
      registers,
    }),
    clicksRecorded: new Counter({
      name: 'shortener_clicks_recorded_total',
      help: 'Click events produced by redirects (each is later published or dropped).',
      registers,
    }),
    clicksPublished: new Counter({
      name: 'shortener_clicks_published_total',
      help: 'Click events acknowledged by Kafka.',
      registers,
    }),
    clicksDropped: new Counter({
      name: 'shortener_clicks_dropped_total',
      help: 'Click events lost, by reason: spool_full, spool_error (durable spool write failed), send_failed (clickSpool off), shutdown.',
      labelNames: ['reason'] as const,
      registers,
    }),
    clicksSpooled: new Gauge({
      name: 'shortener_clicks_spooled',
      help: 'Click events waiting in the in-memory spool for Kafka.',
      registers,
      // Sampled at scrape time, so the gauge is never stale and the hot path does no work.
      collect() {
        this.set(sources.spoolSize())
      },
    }),
    clickPublishErrors: new Counter({
      name: 'shortener_click_publish_errors_total',
      help: 'Failed Kafka publishes of click batches.',
      registers,
    }),
  }
  // Every labelled series exists from the start at 0, so a checker's rate() or difference sees it
  // even when the first event happens mid-experiment.
  for (const status of ['301', '302', '404', '410', '503']) metrics.redirects.inc({ status }, 0)
  for (const kind of ['local', 'link', 'missing', 'stale']) metrics.cacheHits.inc({ kind }, 0)
  for (const op of ['get', 'set', 'delete']) metrics.cacheErrors.inc({ op }, 0)
  for (const kind of ['generated', 'alias']) metrics.linksCreated.inc({ kind }, 0)
  for (const reason of ['spool_full', 'spool_error', 'send_failed', 'shutdown'])
    metrics.clicksDropped.inc({ reason }, 0)
  return metrics
}

export type ShortenerMetrics = ReturnType<typeof createShortenerMetrics>

/** The click worker's metrics (its own process and registry). */
export function createWorkerMetrics(registry: Registry) {
  const registers = [registry]
  return {
    batches: new Counter({
      name: 'shortener_click_batches_total',
      help: 'Postgres transactions of the click worker (each applies one chunk of Kafka messages).',
      registers,
    }),
    consumed: new Counter({
      name: 'shortener_clicks_consumed_total',
      help: 'Click events read from Kafka.',
      registers,
    }),
    counted: new Counter({
      name: 'shortener_clicks_counted_total',
      help: "Click events added to link_clicks (above their recorder's watermark).",
      registers,
    }),
    duplicates: new Counter({
      name: 'shortener_clicks_duplicate_total',
      help: "Click events skipped because their recorder's watermark had passed them (replays, retried publishes).",
      registers,
    }),
    invalid: new Counter({
      name: 'shortener_clicks_invalid_total',
      help: 'Messages on the clicks topic that are not click batches (skipped).',
      registers,
    }),
    applyErrors: new Counter({
      name: 'shortener_click_apply_errors_total',
      help: 'Failed attempts to apply a batch to Postgres (retried).',
      registers,
    }),
  }
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>
