-- Refunds (several partial refunds per payment; externalID makes one idempotent), and stored
-- responses for the Idempotency-Key header.
CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments(id),
    external_id TEXT,
    amount_minor BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE UNIQUE INDEX refunds_external_id ON refunds (payment_id, external_id);

CREATE TABLE idempotency_keys (
    scope_key TEXT PRIMARY KEY,
    request_digest TEXT NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX payments_auth_age ON payments (status, created_at);
