-- Counting clicks once: from a row per event to a watermark per recorder.
--
-- 0001 kept every counted event id (click_events_seen): a row per click, most of the click
-- pipeline's CPU and ≈ 80 GB held at the assumed peak. From here on a Kafka message carries a run
-- of one recorder's consecutively numbered events (src/clicks/batch.ts), and the worker keeps
-- per recorder the highest number it counted. A recorder is one API process start, so this
-- table has a row per start, pruned after CLICK_DEDUPE_RETENTION_H without news.
--
-- The message format changed with it: messages of the old format still on the topic are
-- skipped and counted in shortener_clicks_invalid_total. Drain the topic (let the worker catch
-- up, stop the API) before upgrading a deployment that must not lose those clicks.
CREATE TABLE click_producers (
  producer uuid PRIMARY KEY,
  -- Highest sequence number counted; -1 before the first.
  applied_seq bigint NOT NULL DEFAULT -1 CHECK (applied_seq >= -1),
  updated_at timestamptz NOT NULL DEFAULT now()
);

DROP TABLE click_events_seen;
