-- mcpstack reference schema: the workload the cost post ("Conduit vs FastAPI") describes
-- ("database queries, document search, external APIs, notifications").

CREATE TABLE customers (
    id          bigint PRIMARY KEY,
    name        text        NOT NULL,
    email       text        NOT NULL UNIQUE,
    tier        text        NOT NULL CHECK (tier IN ('free', 'pro', 'enterprise')),
    country     text        NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE orders (
    id           bigint PRIMARY KEY,
    customer_id  bigint        NOT NULL REFERENCES customers (id),
    status       text          NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'refunded')),
    total_cents  integer       NOT NULL CHECK (total_cents >= 0),
    created_at   timestamptz   NOT NULL
);
CREATE INDEX orders_customer_recent ON orders (customer_id, created_at DESC);

CREATE TABLE documents (
    id          bigint PRIMARY KEY,
    title       text NOT NULL,
    body        text NOT NULL,
    search      tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')
                ) STORED
);
CREATE INDEX documents_search ON documents USING gin (search) WITH (fastupdate = off);  -- no pending list: bulk seed lands indexed

-- The notification outbox: a tool call writes one row; a relay (out of scope) delivers it.
-- The idempotency key makes a retried call a no-op instead of a second notification.
CREATE TABLE notification_outbox (
    id               bigserial   PRIMARY KEY,
    idempotency_key  text        NOT NULL UNIQUE,
    customer_id      bigint      NOT NULL REFERENCES customers (id),
    channel          text        NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
    message          text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
