-- The merchant cabinet (SQLite): its users, their sessions, and each payment's status history.

-- One sign-in per row; the password is kept only as an argon2id PHC string. After too many
-- failures in a row the user is locked until locked_until (unix ms).
CREATE TABLE cabinet_users (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL,
    locked_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The browser holds a random session id; the database keeps only its SHA-256 digest, so a
-- copy of the table signs nobody in. The CSRF token is per session.
CREATE TABLE cabinet_sessions (
    id_digest TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES cabinet_users(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    csrf_token TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX cabinet_sessions_expiry ON cabinet_sessions (expires_at);

-- Status history: one row per state change, written in the transaction that makes the change
-- (creation, 3-D Secure end, charge, cancel, expiry, each refund). Payments made before this
-- migration have none; the cabinet shows their creation from the payment row.
CREATE TABLE payment_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id TEXT NOT NULL REFERENCES payments(id),
    operation TEXT NOT NULL,
    status TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    reason_code INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX payment_events_payment ON payment_events (payment_id, id);

-- The cabinet's transaction list: one merchant's payments, newest first.
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at);
