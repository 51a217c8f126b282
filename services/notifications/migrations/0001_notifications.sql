-- The notification service's schema. Forward-only: change it with a new NNNN_name.sql, never by
-- editing this.

-- A recipient: contact points and preferences (PUT /api/recipients/:id). Ids are the caller's.
CREATE TABLE recipients (
  id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
  email text,
  phone text,
  push_token text,
  webhook_url text,
  -- IANA zone; quiet hours are wall-clock times in it (DST-correct, see src/router/quiet-hours.ts).
  timezone text NOT NULL DEFAULT 'UTC',
  -- 'HH:MM' local times; both null = no quiet hours. The window may cross midnight.
  quiet_start text,
  quiet_end text,
  -- {"<category>": ["sms", "email"] | ["*"]}
  opt_outs jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);

-- A template: per channel, Liquid sources (src/templates/). The built-ins are inserted below;
-- PUT /api/templates/:name adds or replaces one.
CREATE TABLE templates (
  name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  -- {"email": {"subject": "...", "html": "...", "text": "..."}, "sms": {"text": "..."},
  --  "push": {"title": "...", "body": "..."}, "webhook": {"text": "..."}}
  channels jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- An accepted notification. The Idempotency-Key lives on the row it created, so a key and its
-- notification are written in one transaction: there is no key without its notification and no
-- notification a repeat of the key could create twice (the unique index).
CREATE TABLE notifications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  idempotency_key text,
  -- SHA-256 of the request's canonical parameters: the same key with other parameters is a 422.
  request_hash text,
  idempotency_expires_at timestamptz,
  recipient_id text NOT NULL,
  template text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}',
  channels text[],
  category text NOT NULL,
  priority text NOT NULL CHECK (priority IN ('critical', 'normal', 'low')),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX notifications_idempotency_key ON notifications (idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- The transactional outbox (@faultline/kit/outbox-relay): written in the notification's
-- transaction, published to Kafka by the relay, deleted once Kafka acknowledged it.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  key text NOT NULL,
  payload jsonb NOT NULL,
  -- The relay's oldest-age gauge: how long the pipeline has been stalled (pm17).
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The truth about each (notification, channel). A channel worker sends only while the row is
-- pending (a conditional update claims it); its id is the BullMQ job id and the provider's
-- Idempotency-Key.
CREATE TABLE deliveries (
  id text PRIMARY KEY,
  notification_id uuid NOT NULL REFERENCES notifications (id),
  channel text NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'webhook')),
  status text NOT NULL CHECK (
    status IN ('queued', 'held', 'sending', 'failed', 'sent', 'dead_lettered', 'expired', 'suppressed')
  ),
  -- Why it is held, failed, suppressed, expired or dead-lettered, in words.
  reason text,
  -- Dead letters: 'poison' (can never succeed) or 'exhausted' (transient failures, attempts used).
  dead_letter_kind text CHECK (dead_letter_kind IN ('poison', 'exhausted')),
  attempts integer NOT NULL DEFAULT 0,
  -- Sends actually made (a naive worker may make more than one; the experiments count them).
  sends integer NOT NULL DEFAULT 0,
  provider text,
  provider_message_id text,
  held_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  UNIQUE (notification_id, channel)
);
CREATE INDEX deliveries_status_idx ON deliveries (status);

INSERT INTO templates (name, channels) VALUES
  ('welcome', '{
    "email": {"subject": "Welcome, {{ name }}", "html": "<p>Hello {{ name }}, welcome aboard.</p>", "text": "Hello {{ name }}, welcome aboard."},
    "sms": {"text": "Welcome, {{ name }}!"},
    "push": {"title": "Welcome", "body": "Hello {{ name }}"},
    "webhook": {"text": "welcome {{ name }}"}
  }'),
  ('otp', '{
    "sms": {"text": "Your code is {{ code }}. It expires in 10 minutes."},
    "email": {"subject": "Your code", "html": "<p>Your code is <b>{{ code }}</b>.</p>", "text": "Your code is {{ code }}."}
  }'),
  ('order-shipped', '{
    "email": {"subject": "Order {{ orderId }} shipped", "html": "<p>Your order {{ orderId }} is on its way: {{ carrier }}.</p>", "text": "Your order {{ orderId }} is on its way: {{ carrier }}."},
    "sms": {"text": "Order {{ orderId }} shipped ({{ carrier }})."},
    "push": {"title": "Shipped", "body": "Order {{ orderId }} is on its way"},
    "webhook": {"text": "order {{ orderId }} shipped"}
  }');
