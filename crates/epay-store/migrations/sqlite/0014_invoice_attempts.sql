-- A declined attempt no longer closes its invoice (docs/compatibility.md 48): an invoice may be
-- tried again, up to its terminal's `max_attempts`. Each attempt is a row of `payments`,
-- numbered per (terminal, invoice); the database itself keeps the two rules, inside the
-- attempt's transaction:
--   * an attempt number is used once per invoice (so no more attempts than the limit pass,
--     and concurrent attempts cannot both take the same number);
--   * at most one attempt per invoice is not declined (REJECT and FAILED are declines,
--     `TxStatus::is_declined`): one approved or 3-D Secure attempt holds the invoice, so only
--     one attempt can ever succeed.
ALTER TABLE terminals ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3;

-- An attempt on the hosted page that ends declined leaves its token usable, so the shopper can
-- try again on the same page; an API attempt spends its token whatever the outcome. A 3-D
-- Secure attempt ends later, so its session remembers which it was.
ALTER TABLE three_ds_sessions ADD COLUMN keep_token_on_decline BOOLEAN NOT NULL DEFAULT FALSE;

-- SQLite cannot drop the table constraint UNIQUE (terminal_id, invoice_id): the table is
-- rebuilt. Refunds, 3-D Secure sessions and status events reference payments; their foreign
-- keys are checked at commit (defer_foreign_keys lasts for this transaction only), when every
-- payment is back under its id. The copy goes through a temporary table so that no table that
-- references `payments` is renamed along with it.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE payments_before_0014 AS SELECT * FROM payments;
DROP TABLE payments;
CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    terminal_id TEXT NOT NULL REFERENCES terminals(id),
    invoice_id TEXT NOT NULL,
    invoice_id_alt TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    charged_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL,
    fee_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    account_id TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    payer_name TEXT NOT NULL,
    language TEXT NOT NULL,
    post_link TEXT NOT NULL,
    failure_post_link TEXT NOT NULL,
    back_link TEXT NOT NULL,
    failure_back_link TEXT NOT NULL,
    secret_hash TEXT,
    data TEXT NOT NULL,
    card_id TEXT,
    card_mask TEXT NOT NULL,
    card_brand TEXT NOT NULL,
    card_account TEXT,
    issuer TEXT NOT NULL,
    reference TEXT NOT NULL,
    int_reference TEXT NOT NULL,
    approval_code TEXT NOT NULL,
    reason_code INTEGER NOT NULL,
    reason TEXT NOT NULL,
    secure BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sender_transfer_type TEXT NOT NULL DEFAULT '',
    receiver_transfer_type TEXT NOT NULL DEFAULT '',
    receiver_card_id TEXT,
    receiver_card_mask TEXT NOT NULL DEFAULT '',
    receiver_card_brand TEXT NOT NULL DEFAULT '',
    receiver_account TEXT,
    card_currency TEXT NOT NULL DEFAULT '',
    fx_rate_micros BIGINT NOT NULL DEFAULT 1000000,
    card_amount_minor BIGINT NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 1
);
INSERT INTO payments (id, merchant_id, terminal_id, invoice_id, invoice_id_alt, kind, status, amount_minor,
    charged_minor, refunded_minor, fee_minor, currency, description, account_id, email, phone, payer_name,
    language, post_link, failure_post_link, back_link, failure_back_link, secret_hash, data, card_id,
    card_mask, card_brand, card_account, issuer, reference, int_reference, approval_code, reason_code, reason,
    secure, created_at, updated_at, sender_transfer_type, receiver_transfer_type, receiver_card_id,
    receiver_card_mask, receiver_card_brand, receiver_account, card_currency, fx_rate_micros,
    card_amount_minor, attempt)
SELECT id, merchant_id, terminal_id, invoice_id, invoice_id_alt, kind, status, amount_minor,
    charged_minor, refunded_minor, fee_minor, currency, description, account_id, email, phone, payer_name,
    language, post_link, failure_post_link, back_link, failure_back_link, secret_hash, data, card_id,
    card_mask, card_brand, card_account, issuer, reference, int_reference, approval_code, reason_code, reason,
    secure, created_at, updated_at, sender_transfer_type, receiver_transfer_type, receiver_card_id,
    receiver_card_mask, receiver_card_brand, receiver_account, card_currency, fx_rate_micros,
    card_amount_minor, 1
FROM payments_before_0014;
DROP TABLE payments_before_0014;
CREATE INDEX payments_auth_age ON payments (status, created_at);
CREATE INDEX payments_terminal_day ON payments (terminal_id, created_at);
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at);
CREATE UNIQUE INDEX payments_invoice_attempt ON payments (terminal_id, invoice_id, attempt);
CREATE UNIQUE INDEX payments_invoice_holding ON payments (terminal_id, invoice_id)
    WHERE status NOT IN ('REJECT', 'FAILED');
