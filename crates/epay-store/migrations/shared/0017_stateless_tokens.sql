-- Access tokens are sealed (AEAD) by the gateway and carry their whole binding, so issuing one
-- writes nothing (issue 18). What stays in the database:
-- * a merchant's token generation: a token carries the generation it was issued in, and one
--   older than the merchant's is refused. A client-secret rotation or a purge of the merchant's
--   data bumps it (this replaces `DELETE FROM tokens WHERE merchant_id = ...`).
-- * the tokens that were spent: single use is a row written in the transaction of the payment
--   or transfer that spends the token (its primary key makes a second spend fail). A worker
--   deletes the rows of tokens that have expired, which can authorise nothing any more.
-- The `tokens` table is no longer written; a later migration may drop it.
ALTER TABLE merchants ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;

CREATE TABLE spent_tokens (
    token_id TEXT PRIMARY KEY,
    spent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX spent_tokens_expiry ON spent_tokens (expires_at);
