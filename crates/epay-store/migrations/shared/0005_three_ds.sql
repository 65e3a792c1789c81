-- 3-D Secure challenges: one row per payment waiting in status 3D. The card number is kept
-- sealed (AES-256-GCM) only until the challenge ends; the CVC is never kept.
CREATE TABLE three_ds_sessions (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments(id),
    server_trans_id TEXT NOT NULL UNIQUE,
    token_digest TEXT NOT NULL,
    pan_ciphertext TEXT NOT NULL,
    expiry_mmyy TEXT NOT NULL,
    save_card BOOLEAN NOT NULL,
    state TEXT NOT NULL,
    reason_code INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX three_ds_sessions_payment ON three_ds_sessions (payment_id);
