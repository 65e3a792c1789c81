-- The database refuses what the state machine (epay_domain::transition) never writes: a status,
-- kind, 3-D Secure state or ledger kind that is not one of the domain enums' words, a negative
-- amount or balance, and a card account below zero. The store keeps every rule in the
-- transaction that writes; these are the last line against a bug or a hand edit.
--
-- Each ADD CONSTRAINT checks the rows already there, so a database with rows that break a rule
-- refuses the migration instead of keeping them silently. Every row the gateway ever wrote
-- passes: each column was written from its enum, and each of an account's four sums only grows
-- except a pending sum, which a post or void lowers by exactly what its hold added.
--
-- All in the migration's one transaction, so ADD CONSTRAINT holds its ACCESS EXCLUSIVE lock
-- while it scans the table. For a large table the cheaper way is `ADD CONSTRAINT … NOT VALID`
-- (no scan, a brief lock) committed first, then `VALIDATE CONSTRAINT` in its own transaction
-- (a scan that lets reads and writes go on). Inside one transaction NOT VALID + VALIDATE gains
-- nothing, and a gateway's tables are small enough to scan under the lock.

ALTER TABLE payments
    ADD CONSTRAINT payments_status_known CHECK (status IN ('NEW', '3D', 'AUTH', 'CHARGE', 'CANCEL',
        'CANCEL_OLD', 'REFUND', 'REJECT', 'FAILED', 'VERIFIED')),
    ADD CONSTRAINT payments_kind_known CHECK (kind IN ('payment', 'verification', 'p2p', 'aft', 'oct')),
    ADD CONSTRAINT payments_amounts_not_negative CHECK (amount_minor >= 0 AND charged_minor >= 0
        AND refunded_minor >= 0 AND fee_minor >= 0 AND card_amount_minor >= 0);

ALTER TABLE payment_events
    ADD CONSTRAINT payment_events_status_known CHECK (status IN ('NEW', '3D', 'AUTH', 'CHARGE', 'CANCEL',
        'CANCEL_OLD', 'REFUND', 'REJECT', 'FAILED', 'VERIFIED')),
    ADD CONSTRAINT payment_events_amount_not_negative CHECK (amount_minor >= 0);

ALTER TABLE refunds ADD CONSTRAINT refunds_amount_not_negative CHECK (amount_minor >= 0);

ALTER TABLE three_ds_sessions
    ADD CONSTRAINT three_ds_sessions_state_known CHECK (state IN ('pending', 'passed', 'failed', 'cancelled',
        'confirmed'));

-- A funding, merchant or conversion account may owe (its available balance below zero: the
-- simulator's source of money, a merchant refunding after a payout, one side of a conversion);
-- a card never does, as `epay ledger check` says.
ALTER TABLE ledger_accounts
    ADD CONSTRAINT ledger_accounts_kind_known CHECK (kind IN ('card', 'merchant', 'funding', 'fx')),
    ADD CONSTRAINT ledger_accounts_sums_not_negative CHECK (debits_pending >= 0 AND debits_posted >= 0
        AND credits_pending >= 0 AND credits_posted >= 0),
    ADD CONSTRAINT ledger_accounts_card_not_below_zero CHECK (kind <> 'card'
        OR credits_posted - debits_posted - debits_pending >= 0);

-- A void releases a hold and moves nothing: its amount is 0, never below.
ALTER TABLE ledger_transfers
    ADD CONSTRAINT ledger_transfers_kind_known CHECK (kind IN ('posted', 'pending', 'post_pending',
        'void_pending')),
    ADD CONSTRAINT ledger_transfers_amount_not_negative CHECK (amount_minor >= 0);
