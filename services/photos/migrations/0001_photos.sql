-- The photo system's schema. Forward-only: change it with a new NNNN_name.sql, never by editing this.

-- A photo: one original object in S3 and, once processed, its variants. The same bytes from the
-- same owner are one photo (Immich dedupes by hash per owner): the unique (owner_id, sha256) makes
-- a concurrent second upload of the same file find the first instead of making a twin.
CREATE TABLE photos (
  id bigserial PRIMARY KEY,
  owner_id text NOT NULL,
  sha256 bytea NOT NULL CHECK (length(sha256) = 32),
  bytes bigint NOT NULL CHECK (bytes >= 0),
  -- From the file's magic bytes, never the client's header; null until the worker sniffed it.
  content_type text,
  original_key text NOT NULL,
  filename text,
  status text NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'ready', 'failed')),
  -- Why a photo failed, in words its owner can read ("image too large: …").
  reason text,
  width integer,
  height integer,
  -- A thumbhash (base64): the blurred preview a client shows before the thumbnail loads.
  placeholder text,
  created_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  CONSTRAINT photos_owner_sha256_key UNIQUE (owner_id, sha256)
);
-- An owner's photos newest first (the list, cursor = id).
CREATE INDEX photos_owner_idx ON photos (owner_id, id DESC);
-- The reaper asks whether an object under incoming/ belongs to a photo before it deletes it.
CREATE INDEX photos_original_key_idx ON photos (original_key);
-- The reaper's repair: photos still processing long after their upload.
CREATE INDEX photos_processing_idx ON photos (created_at) WHERE status = 'processing';

-- A photo's derivatives: content-addressed objects (variants/<sha256>.<ext>), so they are
-- immutable and cacheable for a year; a reprocess writes new keys and swaps the rows.
CREATE TABLE variants (
  photo_id bigint NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name IN ('thumb', 'preview')),
  format text NOT NULL CHECK (format IN ('webp', 'jpeg')),
  object_key text NOT NULL,
  width integer NOT NULL,
  height integer NOT NULL,
  bytes integer NOT NULL,
  PRIMARY KEY (photo_id, name, format)
);

-- An upload that has not become a photo yet: presigned (single PUT or multipart) or tus. The
-- reaper aborts and deletes what is still pending after UPLOAD_TTL_S.
CREATE TABLE uploads (
  id uuid PRIMARY KEY,
  owner_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('presigned', 'multipart', 'tus')),
  object_key text NOT NULL,
  filename text,
  declared_size bigint NOT NULL CHECK (declared_size >= 0),
  declared_content_type text,
  declared_sha256 bytea CHECK (declared_sha256 IS NULL OR length(declared_sha256) = 32),
  s3_upload_id text,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'aborted')),
  photo_id bigint REFERENCES photos (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX uploads_pending_idx ON uploads (expires_at) WHERE status = 'pending';
CREATE INDEX uploads_object_key_idx ON uploads (object_key);
