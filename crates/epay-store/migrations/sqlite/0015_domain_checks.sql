-- The database refuses what the state machine (epay_domain::transition) never writes: a status,
-- kind, 3-D Secure state or ledger kind that is not one of the domain enums' words, a negative
-- amount or balance, and a card account below zero (funding, merchant and conversion accounts
-- may owe; a card never does, as `epay ledger check` says). The store keeps every rule in the
-- transaction that writes; these are the last line against a bug or a hand edit. PostgreSQL
-- has the same rules as CHECK constraints of the same names.
--
-- SQLite cannot add a CHECK constraint to a table: it would rebuild six tables (payments again
-- after 0014, the ledger's two with their foreign keys and 0012's triggers), copying every row
-- and restating every column, index and trigger, where any drift from what the earlier
-- migrations built would go unnoticed. BEFORE INSERT and BEFORE UPDATE triggers refuse the same
-- rows (RAISE(ABORT) rolls the statement back, named like the PostgreSQL constraint) and leave
-- the tables as they are.

CREATE TRIGGER payments_checks_insert BEFORE INSERT ON payments
BEGIN
    SELECT RAISE(ABORT, 'payments_status_known') WHERE NEW.status NOT IN ('NEW', '3D', 'AUTH', 'CHARGE', 'CANCEL', 'CANCEL_OLD', 'REFUND', 'REJECT', 'FAILED', 'VERIFIED');
    SELECT RAISE(ABORT, 'payments_kind_known') WHERE NEW.kind NOT IN ('payment', 'verification', 'p2p', 'aft', 'oct');
    SELECT RAISE(ABORT, 'payments_amounts_not_negative') WHERE NEW.amount_minor < 0 OR NEW.charged_minor < 0 OR NEW.refunded_minor < 0
        OR NEW.fee_minor < 0 OR NEW.card_amount_minor < 0;
END;

CREATE TRIGGER payments_checks_update BEFORE UPDATE ON payments
BEGIN
    SELECT RAISE(ABORT, 'payments_status_known') WHERE NEW.status NOT IN ('NEW', '3D', 'AUTH', 'CHARGE', 'CANCEL', 'CANCEL_OLD', 'REFUND', 'REJECT', 'FAILED', 'VERIFIED');
    SELECT RAISE(ABORT, 'payments_kind_known') WHERE NEW.kind NOT IN ('payment', 'verification', 'p2p', 'aft', 'oct');
    SELECT RAISE(ABORT, 'payments_amounts_not_negative') WHERE NEW.amount_minor < 0 OR NEW.charged_minor < 0 OR NEW.refunded_minor < 0
        OR NEW.fee_minor < 0 OR NEW.card_amount_minor < 0;
END;

CREATE TRIGGER payment_events_checks_insert BEFORE INSERT ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events_status_known') WHERE NEW.status NOT IN ('NEW', '3D', 'AUTH', 'CHARGE', 'CANCEL', 'CANCEL_OLD', 'REFUND', 'REJECT', 'FAILED', 'VERIFIED');
    SELECT RAISE(ABORT, 'payment_events_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

CREATE TRIGGER payment_events_checks_update BEFORE UPDATE ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events_status_known') WHERE NEW.status NOT IN ('NEW', '3D', 'AUTH', 'CHARGE', 'CANCEL', 'CANCEL_OLD', 'REFUND', 'REJECT', 'FAILED', 'VERIFIED');
    SELECT RAISE(ABORT, 'payment_events_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

CREATE TRIGGER refunds_checks_insert BEFORE INSERT ON refunds
BEGIN
    SELECT RAISE(ABORT, 'refunds_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

CREATE TRIGGER refunds_checks_update BEFORE UPDATE ON refunds
BEGIN
    SELECT RAISE(ABORT, 'refunds_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

CREATE TRIGGER three_ds_sessions_checks_insert BEFORE INSERT ON three_ds_sessions
BEGIN
    SELECT RAISE(ABORT, 'three_ds_sessions_state_known') WHERE NEW.state NOT IN ('pending', 'passed', 'failed', 'cancelled', 'confirmed');
END;

CREATE TRIGGER three_ds_sessions_checks_update BEFORE UPDATE ON three_ds_sessions
BEGIN
    SELECT RAISE(ABORT, 'three_ds_sessions_state_known') WHERE NEW.state NOT IN ('pending', 'passed', 'failed', 'cancelled', 'confirmed');
END;

CREATE TRIGGER ledger_accounts_checks_insert BEFORE INSERT ON ledger_accounts
BEGIN
    SELECT RAISE(ABORT, 'ledger_accounts_kind_known') WHERE NEW.kind NOT IN ('card', 'merchant', 'funding', 'fx');
    SELECT RAISE(ABORT, 'ledger_accounts_sums_not_negative') WHERE NEW.debits_pending < 0 OR NEW.debits_posted < 0 OR NEW.credits_pending < 0
        OR NEW.credits_posted < 0;
    SELECT RAISE(ABORT, 'ledger_accounts_card_not_below_zero') WHERE NEW.kind = 'card' AND NEW.credits_posted - NEW.debits_posted - NEW.debits_pending < 0;
END;

CREATE TRIGGER ledger_accounts_checks_update BEFORE UPDATE ON ledger_accounts
BEGIN
    SELECT RAISE(ABORT, 'ledger_accounts_kind_known') WHERE NEW.kind NOT IN ('card', 'merchant', 'funding', 'fx');
    SELECT RAISE(ABORT, 'ledger_accounts_sums_not_negative') WHERE NEW.debits_pending < 0 OR NEW.debits_posted < 0 OR NEW.credits_pending < 0
        OR NEW.credits_posted < 0;
    SELECT RAISE(ABORT, 'ledger_accounts_card_not_below_zero') WHERE NEW.kind = 'card' AND NEW.credits_posted - NEW.debits_posted - NEW.debits_pending < 0;
END;

CREATE TRIGGER ledger_transfers_checks_insert BEFORE INSERT ON ledger_transfers
BEGIN
    SELECT RAISE(ABORT, 'ledger_transfers_kind_known') WHERE NEW.kind NOT IN ('posted', 'pending', 'post_pending', 'void_pending');
    SELECT RAISE(ABORT, 'ledger_transfers_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

CREATE TRIGGER ledger_transfers_checks_update BEFORE UPDATE ON ledger_transfers
BEGIN
    SELECT RAISE(ABORT, 'ledger_transfers_kind_known') WHERE NEW.kind NOT IN ('posted', 'pending', 'post_pending', 'void_pending');
    SELECT RAISE(ABORT, 'ledger_transfers_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

-- Rows already there meet the same rules, as PostgreSQL's ADD CONSTRAINT checks them: each row
-- is rewritten as it is, which runs the UPDATE triggers above on it, so a database with a row
-- that breaks a rule refuses the migration instead of keeping it silently. Every row the gateway
-- ever wrote passes: each column was written from its enum, and each of an account's four sums
-- only grows except a pending sum, which a post or void lowers by exactly what its hold added.
UPDATE payments SET status = status;
UPDATE payment_events SET status = status;
UPDATE refunds SET amount_minor = amount_minor;
UPDATE three_ds_sessions SET state = state;
UPDATE ledger_accounts SET kind = kind;
UPDATE ledger_transfers SET kind = kind;
