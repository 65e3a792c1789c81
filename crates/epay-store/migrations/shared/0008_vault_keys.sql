-- Envelope encryption of card numbers: each data key is stored wrapped (AES-256-GCM) under the
-- master key, which lives only in configuration (a file outside the data, or the environment).
-- Card numbers are sealed under the active data key; `epay keys rotate` adds a key and reseals.
CREATE TABLE vault_keys (
    id TEXT PRIMARY KEY,
    wrapped_key TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
