-- Abuse counters shared by every gateway node: failures of one key (a client id with an
-- address, an address, a page token, a cabinet e-mail digest) in a fixed window ending at
-- `expires_ms`. An expired row counts as zero and is swept by later writes.
CREATE TABLE abuse_counters (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX abuse_counters_expiry ON abuse_counters (expires_ms);
