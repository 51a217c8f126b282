-- The feed's schema. Forward-only: change it with a new NNNN_name.sql, never by editing this.

-- Accounts. `follower_count` is kept in the same transaction as every follow and unfollow, so the
-- fan-out's celebrity test (FANOUT_CELEBRITY_THRESHOLD) is one primary-key read.
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  handle text NOT NULL,
  follower_count integer NOT NULL DEFAULT 0 CHECK (follower_count >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_handle_key UNIQUE (handle)
);

-- Who follows whom. The primary key answers "whom does X follow" (rebuilds, read-time merge);
-- the second index answers "who follows X" (fan-out), in follower order so it can be paged.
CREATE TABLE follows (
  follower_id bigint NOT NULL REFERENCES users (id),
  followee_id bigint NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (follower_id, followee_id),
  CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee_idx ON follows (followee_id, follower_id);

-- Time-ordered post ids (see src/ids.ts): milliseconds since 2020-01-01 UTC × 4096 + a sequence
-- mod 4096. `created_at` is the same millisecond, so ordering by id is ordering by time.
CREATE SEQUENCE post_seq;

CREATE FUNCTION post_id_at(at timestamptz) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
  SELECT ((extract(epoch FROM at) * 1000)::bigint - 1577836800000) * 4096 + nextval('post_seq') % 4096
$$;

CREATE TABLE posts (
  id bigint PRIMARY KEY,
  author_id bigint NOT NULL REFERENCES users (id),
  text text NOT NULL,
  created_at timestamptz NOT NULL,
  deleted_at timestamptz
);
-- An author's newest posts first: rebuilds, the follow merge, the read-time celebrity merge.
CREATE INDEX posts_author_idx ON posts (author_id, id DESC);

-- The transactional outbox: a row is written in the same transaction as the post (or its delete)
-- and removed by the relay once Kafka has acknowledged it, so Kafka carries every committed change
-- and nothing that rolled back.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  key text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
