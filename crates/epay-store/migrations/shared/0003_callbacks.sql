-- postLink callbacks: a transactional outbox (the event commits with the state change) and a
-- log of every delivery attempt. Each merchant signs its callbacks with its own secret.
ALTER TABLE merchants ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';

CREATE TABLE callback_events (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    payment_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    -- Which claim (one worker pass on one node) holds the event while locked_until is ahead.
    claim_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX callback_events_due ON callback_events (status, next_attempt_at);
CREATE INDEX callback_events_payment ON callback_events (payment_id);

CREATE TABLE callback_attempts (
    event_id TEXT NOT NULL REFERENCES callback_events(id),
    attempt_no INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    http_status INTEGER,
    latency_ms BIGINT NOT NULL,
    error TEXT NOT NULL,
    response_excerpt TEXT NOT NULL,
    node TEXT NOT NULL,
    PRIMARY KEY (event_id, attempt_no)
);
