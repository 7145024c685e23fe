-- Deterministic seed data: 10,000 customers, 200,000 orders, 20,000 documents.
-- Documents mix 64 common words (queries on them match thousands of rows) with product codes sku1..sku4000
-- (each in a handful of documents), so searches range from selective to broad.
-- Pure functions of the row number (no random()), so every cluster holds byte-identical data.

INSERT INTO customers (id, name, email, tier, country, created_at)
SELECT i,
       'Customer ' || i,
       'customer' || i || '@example.com',
       (ARRAY['free', 'pro', 'enterprise'])[1 + (i * 7) % 3],
       (ARRAY['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN', 'CA'])[1 + (i * 13) % 8],
       timestamptz '2024-01-01 00:00:00+00' + (i * interval '47 minutes')
FROM generate_series(1::bigint, 10000) AS i;

INSERT INTO orders (id, customer_id, status, total_cents, created_at)
SELECT i,
       1 + (i * 7919) % 10000,
       (ARRAY['pending', 'paid', 'shipped', 'delivered', 'refunded'])[1 + (i * 31 + i / 7) % 5],
       100 + (i * 104729) % 50000,
       timestamptz '2024-06-01 00:00:00+00' + (i * interval '157 seconds')
FROM generate_series(1::bigint, 200000) AS i;

WITH words AS (
    SELECT ARRAY[
        'invoice', 'refund', 'shipping', 'delivery', 'account', 'password', 'billing', 'subscription', 'upgrade',
        'downgrade', 'latency', 'timeout', 'database', 'postgres', 'index', 'query', 'migration', 'deploy',
        'rollback', 'canary', 'weights', 'balancer', 'certificate', 'token', 'oauth', 'scope', 'audit', 'export',
        'import', 'report', 'dashboard', 'alarm', 'metric', 'throughput', 'memory', 'connection', 'pool', 'worker',
        'server', 'client', 'protocol', 'schema', 'tool', 'search', 'document', 'notification', 'email', 'webhook',
        'retry', 'idempotency', 'customer', 'order', 'payment', 'tax', 'region', 'zone', 'cluster', 'backup',
        'restore', 'snapshot', 'encryption', 'network', 'firewall', 'policy'
    ] AS w
)
INSERT INTO documents (id, title, body)
SELECT i,
       initcap(w[1 + (i * 17) % 64]) || ' ' || w[1 + (i * 29) % 64] || ' guide #' || i
           || ' (sku' || (1 + (i * 7919) % 4000) || ')',
       (SELECT string_agg(w[1 + get_byte(decode(md5(i::text || ':' || j::text), 'hex'), 0) % 64], ' ' ORDER BY j)
          FROM generate_series(1, 30 + (i % 61)::int) AS j)
           || ' Applies to sku' || (1 + (i * 7919) % 4000) || ' and sku' || (1 + (i * 104729) % 4000) || '.'
FROM generate_series(1::bigint, 20000) AS i, words;

ANALYZE customers;
ANALYZE orders;
ANALYZE documents;
