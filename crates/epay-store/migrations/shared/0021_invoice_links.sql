-- Invoice links (issue 20, `POST /invoice`) and the password grant's refresh tokens.

-- One payable link per row. `id` (a UUID) names it in the API and the cabinet; `link_id` is the
-- capability in the link's URL: 128 random bits, hex, never shown where `id` is enough.
-- `state` holds only what the merchant decides (ACTIVE or CANCELLED): PAID is read from the
-- invoice's payment (same terminal and invoice_id) and EXPIRED from `expires_at`, so paying or
-- expiring never writes here. The contacts are kept for delivery (the outbox lane).
-- No foreign keys: a merchant purge removes these rows itself.
CREATE TABLE invoice_links (
    id TEXT PRIMARY KEY,
    link_id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    shop_id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    language TEXT NOT NULL,
    description TEXT NOT NULL,
    recipient_contact TEXT NOT NULL,
    recipient_contact_sms TEXT NOT NULL,
    notifier_contact_sms TEXT NOT NULL,
    post_link TEXT NOT NULL,
    failure_post_link TEXT NOT NULL,
    back_link TEXT NOT NULL,
    failure_back_link TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('ACTIVE', 'CANCELLED')),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    cancelled_at BIGINT,
    CONSTRAINT invoice_links_terminal_invoice_unique UNIQUE (terminal_id, invoice_id)
);
CREATE INDEX invoice_links_merchant_created ON invoice_links (merchant_id, created_at);

-- Refresh tokens of the password grant: the database keeps only the SHA-256 digest of the
-- token. Single use: a refresh marks its row used in the statement that checks it, and a new
-- row is issued. `password_stamp` is a digest of the user's password hash when it was issued and
-- `generation` the merchant's token generation: a new password or a secret rotation makes them
-- differ, and the token is refused.
CREATE TABLE refresh_tokens (
    id_digest TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    password_stamp TEXT NOT NULL,
    generation BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
