-- Recurrent payments and subscriptions (docs/api.md "Recurrent payments and subscriptions").
--
-- card_events: a saved card's history. kind 'recurrent_agreed': the cardholder agreed, in a
-- payment made with `recurrent: true` that saved the card (payment_id), to merchant-initiated
-- repeats; only such a card pays a `recurrent` saved-card payment or a subscription.
CREATE TABLE card_events (
    id          TEXT   PRIMARY KEY,
    merchant_id TEXT   NOT NULL,
    card_id     TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    payment_id  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX card_events_card ON card_events (merchant_id, card_id, created_at);

-- subscriptions: one per original payment (transaction_id). Period n (1, 2, ...) is due at
-- anchor_at plus n periods of `frequency`; period_no is the next period to charge and tries how
-- many of its charges were declined; next_charge_at is when the scheduler charges next (the
-- period's due time, or a retry's). Each period's invoice is invoice_prefix followed by the
-- period number in 3 digits.
CREATE TABLE subscriptions (
    id              TEXT   PRIMARY KEY,
    merchant_id     TEXT   NOT NULL,
    terminal_id     TEXT   NOT NULL,
    transaction_id  TEXT   NOT NULL UNIQUE,
    card_id         TEXT   NOT NULL,
    account_id      TEXT   NOT NULL,
    invoice_id      TEXT   NOT NULL,
    invoice_prefix  TEXT   NOT NULL UNIQUE,
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    currency        TEXT   NOT NULL,
    frequency       TEXT   NOT NULL CHECK (frequency IN ('WEEKLY', 'MONTHLY', 'QUARTERLY')),
    status          TEXT   NOT NULL CHECK (status IN ('ACTIVE', 'PAUSED', 'CANCELLED', 'STOPPED')),
    status_reason   TEXT   NOT NULL,
    period_no       BIGINT NOT NULL,
    tries           BIGINT NOT NULL,
    next_charge_at  BIGINT NOT NULL,
    anchor_at       BIGINT NOT NULL,
    last_payment_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX subscriptions_due ON subscriptions (status, next_charge_at);
CREATE INDEX subscriptions_merchant ON subscriptions (merchant_id, created_at);
CREATE INDEX subscriptions_card ON subscriptions (merchant_id, card_id);

-- subscription_periods: every charge the scheduler made, inserted in the transaction of its
-- payment. The primary key makes each (period, try) one payment; the partial index makes each
-- period approved at most once, so two nodes racing (or a node restarting mid-pass) never
-- charge a period twice.
CREATE TABLE subscription_periods (
    subscription_id TEXT    NOT NULL,
    period_no       BIGINT  NOT NULL,
    try_no          BIGINT  NOT NULL,
    payment_id      TEXT    NOT NULL,
    approved        BOOLEAN NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (subscription_id, period_no, try_no)
);
CREATE UNIQUE INDEX subscription_periods_charged ON subscription_periods (subscription_id, period_no) WHERE approved;
