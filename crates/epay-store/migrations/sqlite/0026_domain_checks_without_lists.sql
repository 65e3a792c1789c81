-- The domain rules of 0015 and 0016, unchanged, written without lists. SQLite evaluates
-- `x NOT IN ('a', 'b', 'c')` by building an ephemeral table of the list every time the statement
-- runs (a list of more than two constants), and these triggers run on every insert and update of
-- payments, payment_events, callback_events, ledger_transfers, ledger_accounts and
-- three_ds_sessions: a card payment's writes built eight such tables, and removing them cut the
-- gateway's instructions for a saved-card flow by about a tenth (docs/performance.md, session
-- 16). The same test as a chain of `<>` builds none. Each trigger refuses exactly the rows it
-- refused (a NULL makes both forms NULL, which refuses nothing), with the same message, and is
-- created again in the order it was, so a row breaking several rules gets the same error; the
-- rows already there met the rules and still do, so none is rewritten. A database whose trigger
-- was removed by hand fails here ("no such trigger") rather than getting the rule back unchecked:
-- 0015's way of checking existing rows is to rewrite them, which is the operator's call.

DROP TRIGGER payments_checks_insert;
DROP TRIGGER payments_checks_update;
DROP TRIGGER payment_events_checks_insert;
DROP TRIGGER payment_events_checks_update;
DROP TRIGGER three_ds_sessions_checks_insert;
DROP TRIGGER three_ds_sessions_checks_update;
DROP TRIGGER ledger_accounts_checks_insert;
DROP TRIGGER ledger_accounts_checks_update;
DROP TRIGGER ledger_transfers_checks_insert;
DROP TRIGGER ledger_transfers_checks_update;
DROP TRIGGER callback_events_checks_insert;
DROP TRIGGER callback_events_checks_update;
DROP TRIGGER payment_events_operation_insert;
DROP TRIGGER payment_events_operation_update;

CREATE TRIGGER payments_checks_insert BEFORE INSERT ON payments
BEGIN
    SELECT RAISE(ABORT, 'payments_status_known') WHERE NEW.status <> 'NEW' AND NEW.status <> '3D' AND NEW.status <> 'AUTH' AND NEW.status <> 'CHARGE' AND NEW.status <> 'CANCEL' AND NEW.status <> 'CANCEL_OLD' AND NEW.status <> 'REFUND' AND NEW.status <> 'REJECT' AND NEW.status <> 'FAILED' AND NEW.status <> 'VERIFIED';
    SELECT RAISE(ABORT, 'payments_kind_known') WHERE NEW.kind <> 'payment' AND NEW.kind <> 'verification' AND NEW.kind <> 'p2p' AND NEW.kind <> 'aft' AND NEW.kind <> 'oct';
    SELECT RAISE(ABORT, 'payments_amounts_not_negative') WHERE NEW.amount_minor < 0 OR NEW.charged_minor < 0 OR NEW.refunded_minor < 0
        OR NEW.fee_minor < 0 OR NEW.card_amount_minor < 0;
END;

CREATE TRIGGER payments_checks_update BEFORE UPDATE ON payments
BEGIN
    SELECT RAISE(ABORT, 'payments_status_known') WHERE NEW.status <> 'NEW' AND NEW.status <> '3D' AND NEW.status <> 'AUTH' AND NEW.status <> 'CHARGE' AND NEW.status <> 'CANCEL' AND NEW.status <> 'CANCEL_OLD' AND NEW.status <> 'REFUND' AND NEW.status <> 'REJECT' AND NEW.status <> 'FAILED' AND NEW.status <> 'VERIFIED';
    SELECT RAISE(ABORT, 'payments_kind_known') WHERE NEW.kind <> 'payment' AND NEW.kind <> 'verification' AND NEW.kind <> 'p2p' AND NEW.kind <> 'aft' AND NEW.kind <> 'oct';
    SELECT RAISE(ABORT, 'payments_amounts_not_negative') WHERE NEW.amount_minor < 0 OR NEW.charged_minor < 0 OR NEW.refunded_minor < 0
        OR NEW.fee_minor < 0 OR NEW.card_amount_minor < 0;
END;

CREATE TRIGGER payment_events_checks_insert BEFORE INSERT ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events_status_known') WHERE NEW.status <> 'NEW' AND NEW.status <> '3D' AND NEW.status <> 'AUTH' AND NEW.status <> 'CHARGE' AND NEW.status <> 'CANCEL' AND NEW.status <> 'CANCEL_OLD' AND NEW.status <> 'REFUND' AND NEW.status <> 'REJECT' AND NEW.status <> 'FAILED' AND NEW.status <> 'VERIFIED';
    SELECT RAISE(ABORT, 'payment_events_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

CREATE TRIGGER payment_events_checks_update BEFORE UPDATE ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events_status_known') WHERE NEW.status <> 'NEW' AND NEW.status <> '3D' AND NEW.status <> 'AUTH' AND NEW.status <> 'CHARGE' AND NEW.status <> 'CANCEL' AND NEW.status <> 'CANCEL_OLD' AND NEW.status <> 'REFUND' AND NEW.status <> 'REJECT' AND NEW.status <> 'FAILED' AND NEW.status <> 'VERIFIED';
    SELECT RAISE(ABORT, 'payment_events_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

CREATE TRIGGER three_ds_sessions_checks_insert BEFORE INSERT ON three_ds_sessions
BEGIN
    SELECT RAISE(ABORT, 'three_ds_sessions_state_known') WHERE NEW.state <> 'pending' AND NEW.state <> 'passed' AND NEW.state <> 'failed' AND NEW.state <> 'cancelled' AND NEW.state <> 'confirmed';
END;

CREATE TRIGGER three_ds_sessions_checks_update BEFORE UPDATE ON three_ds_sessions
BEGIN
    SELECT RAISE(ABORT, 'three_ds_sessions_state_known') WHERE NEW.state <> 'pending' AND NEW.state <> 'passed' AND NEW.state <> 'failed' AND NEW.state <> 'cancelled' AND NEW.state <> 'confirmed';
END;

CREATE TRIGGER ledger_accounts_checks_insert BEFORE INSERT ON ledger_accounts
BEGIN
    SELECT RAISE(ABORT, 'ledger_accounts_kind_known') WHERE NEW.kind <> 'card' AND NEW.kind <> 'merchant' AND NEW.kind <> 'funding' AND NEW.kind <> 'fx';
    SELECT RAISE(ABORT, 'ledger_accounts_sums_not_negative') WHERE NEW.debits_pending < 0 OR NEW.debits_posted < 0 OR NEW.credits_pending < 0
        OR NEW.credits_posted < 0;
    SELECT RAISE(ABORT, 'ledger_accounts_card_not_below_zero') WHERE NEW.kind = 'card' AND NEW.credits_posted - NEW.debits_posted - NEW.debits_pending < 0;
END;

CREATE TRIGGER ledger_accounts_checks_update BEFORE UPDATE ON ledger_accounts
BEGIN
    SELECT RAISE(ABORT, 'ledger_accounts_kind_known') WHERE NEW.kind <> 'card' AND NEW.kind <> 'merchant' AND NEW.kind <> 'funding' AND NEW.kind <> 'fx';
    SELECT RAISE(ABORT, 'ledger_accounts_sums_not_negative') WHERE NEW.debits_pending < 0 OR NEW.debits_posted < 0 OR NEW.credits_pending < 0
        OR NEW.credits_posted < 0;
    SELECT RAISE(ABORT, 'ledger_accounts_card_not_below_zero') WHERE NEW.kind = 'card' AND NEW.credits_posted - NEW.debits_posted - NEW.debits_pending < 0;
END;

CREATE TRIGGER ledger_transfers_checks_insert BEFORE INSERT ON ledger_transfers
BEGIN
    SELECT RAISE(ABORT, 'ledger_transfers_kind_known') WHERE NEW.kind <> 'posted' AND NEW.kind <> 'pending' AND NEW.kind <> 'post_pending' AND NEW.kind <> 'void_pending';
    SELECT RAISE(ABORT, 'ledger_transfers_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

CREATE TRIGGER ledger_transfers_checks_update BEFORE UPDATE ON ledger_transfers
BEGIN
    SELECT RAISE(ABORT, 'ledger_transfers_kind_known') WHERE NEW.kind <> 'posted' AND NEW.kind <> 'pending' AND NEW.kind <> 'post_pending' AND NEW.kind <> 'void_pending';
    SELECT RAISE(ABORT, 'ledger_transfers_amount_not_negative') WHERE NEW.amount_minor < 0;
END;

CREATE TRIGGER callback_events_checks_insert BEFORE INSERT ON callback_events
BEGIN
    SELECT RAISE(ABORT, 'callback_events_kind_known') WHERE NEW.kind <> 'payment.success' AND NEW.kind <> 'payment.failure' AND NEW.kind <> 'payment.charge' AND NEW.kind <> 'payment.cancel' AND NEW.kind <> 'payment.refund' AND NEW.kind <> 'payment.expire' AND NEW.kind <> 'transfer.success';
    SELECT RAISE(ABORT, 'callback_events_status_known') WHERE NEW.status <> 'pending' AND NEW.status <> 'delivered' AND NEW.status <> 'failed';
END;

CREATE TRIGGER callback_events_checks_update BEFORE UPDATE ON callback_events
BEGIN
    SELECT RAISE(ABORT, 'callback_events_kind_known') WHERE NEW.kind <> 'payment.success' AND NEW.kind <> 'payment.failure' AND NEW.kind <> 'payment.charge' AND NEW.kind <> 'payment.cancel' AND NEW.kind <> 'payment.refund' AND NEW.kind <> 'payment.expire' AND NEW.kind <> 'transfer.success';
    SELECT RAISE(ABORT, 'callback_events_status_known') WHERE NEW.status <> 'pending' AND NEW.status <> 'delivered' AND NEW.status <> 'failed';
END;

CREATE TRIGGER payment_events_operation_insert BEFORE INSERT ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events_operation_known') WHERE NEW.operation <> 'created' AND NEW.operation <> '3ds' AND NEW.operation <> 'charge' AND NEW.operation <> 'cancel' AND NEW.operation <> 'refund' AND NEW.operation <> 'expire';
END;

CREATE TRIGGER payment_events_operation_update BEFORE UPDATE ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events_operation_known') WHERE NEW.operation <> 'created' AND NEW.operation <> '3ds' AND NEW.operation <> 'charge' AND NEW.operation <> 'cancel' AND NEW.operation <> 'refund' AND NEW.operation <> 'expire';
END;
