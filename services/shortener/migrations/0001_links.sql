-- The shortener's schema. Forward-only: change it with a new NNNN_name.sql, never by editing this.

-- Id blocks: each instance leases [next_id, next_id + size) with one UPDATE … RETURNING and then
-- hands ids out from memory. A table row rather than a sequence with a fixed INCREMENT BY, so
-- instances with different block sizes can never lease overlapping ranges.
CREATE TABLE id_blocks (
  name text PRIMARY KEY,
  next_id bigint NOT NULL CHECK (next_id >= 0)
);
INSERT INTO id_blocks (name, next_id) VALUES ('links', 1);

-- One row per short link. `code` is either scramble(id) in base62 (7 characters) or a custom
-- alias; the unique constraint is the last word on both.
CREATE TABLE links (
  id bigint PRIMARY KEY,
  code text NOT NULL,
  url text NOT NULL CHECK (length(url) <= 2048),
  custom_alias boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  CONSTRAINT links_code_key UNIQUE (code)
);

-- Click counts, written only by the click worker, in batches. No foreign key to links: the
-- worker's upsert stays a single-table write, and a count for a code is harmless.
CREATE TABLE link_clicks (
  code text PRIMARY KEY,
  count bigint NOT NULL DEFAULT 0 CHECK (count >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Event ids already counted: the worker inserts a batch's ids here and counts only the ones that
-- were new, in the same statement as the count upsert, so a replayed batch (a rebalance, a
-- producer retry) does not count twice. Rows older than the retention are pruned.
CREATE TABLE click_events_seen (
  event_id uuid PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX click_events_seen_seen_at ON click_events_seen (seen_at);
