-- Core schema (SQLite). Money is integer minor units; times are unix milliseconds (UTC).
CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    secret_digest TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE terminals (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    pos_id TEXT NOT NULL,
    name TEXT NOT NULL,
    two_step BOOLEAN NOT NULL,
    three_ds BOOLEAN NOT NULL,
    transfers_allowed BOOLEAN NOT NULL,
    hold_period_secs BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
    token_digest TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    terminal_id TEXT,
    scope TEXT NOT NULL,
    invoice_id TEXT,
    amount_minor BIGINT,
    currency TEXT,
    post_link TEXT NOT NULL,
    failure_post_link TEXT NOT NULL,
    secret_hash TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);

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
    CONSTRAINT payments_terminal_invoice_unique UNIQUE (terminal_id, invoice_id)
);

CREATE TABLE saved_cards (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    account_id TEXT NOT NULL,
    pan_fingerprint TEXT NOT NULL,
    pan_ciphertext TEXT NOT NULL,
    card_mask TEXT NOT NULL,
    card_brand TEXT NOT NULL,
    expiry_mmyy TEXT NOT NULL,
    payer_name TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    terminal_pos_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    int_reference TEXT NOT NULL,
    card_token TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX saved_cards_account ON saved_cards (merchant_id, account_id);
CREATE UNIQUE INDEX saved_cards_unique_card ON saved_cards (merchant_id, account_id, pan_fingerprint);

-- Double-entry ledger in TigerBeetle's model: accounts keep four running sums; every transfer
-- moves one amount from one debit account to one credit account, so each transfer balances.
CREATE TABLE ledger_accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    debits_pending BIGINT NOT NULL,
    debits_posted BIGINT NOT NULL,
    credits_pending BIGINT NOT NULL,
    credits_posted BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE ledger_transfers (
    id TEXT PRIMARY KEY,
    payment_id TEXT,
    debit_account TEXT NOT NULL REFERENCES ledger_accounts(id),
    credit_account TEXT NOT NULL REFERENCES ledger_accounts(id),
    amount_minor BIGINT NOT NULL,
    kind TEXT NOT NULL,
    pending_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_transfers_payment ON ledger_transfers (payment_id);
