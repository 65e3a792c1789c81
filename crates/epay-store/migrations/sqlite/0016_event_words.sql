-- Migration 0015's rule for the columns it left out: the database refuses a callback kind, a
-- callback delivery status or a payment history step that is not one of the domain enums'
-- words (epay_domain::CallbackKind, DeliveryStatus, PaymentStep). PostgreSQL has the same rules
-- as CHECK constraints of the same names; here, as in 0015, BEFORE INSERT and BEFORE UPDATE
-- triggers refuse the row, and the rows already there are rewritten as they are at the end,
-- which runs the UPDATE triggers on each, so a database holding another word refuses the
-- migration instead of keeping it silently.

CREATE TRIGGER callback_events_checks_insert BEFORE INSERT ON callback_events
BEGIN
    SELECT RAISE(ABORT, 'callback_events_kind_known') WHERE NEW.kind NOT IN ('payment.success', 'payment.failure',
        'payment.charge', 'payment.cancel', 'payment.refund', 'payment.expire', 'transfer.success');
    SELECT RAISE(ABORT, 'callback_events_status_known') WHERE NEW.status NOT IN ('pending', 'delivered', 'failed');
END;

CREATE TRIGGER callback_events_checks_update BEFORE UPDATE ON callback_events
BEGIN
    SELECT RAISE(ABORT, 'callback_events_kind_known') WHERE NEW.kind NOT IN ('payment.success', 'payment.failure',
        'payment.charge', 'payment.cancel', 'payment.refund', 'payment.expire', 'transfer.success');
    SELECT RAISE(ABORT, 'callback_events_status_known') WHERE NEW.status NOT IN ('pending', 'delivered', 'failed');
END;

CREATE TRIGGER payment_events_operation_insert BEFORE INSERT ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events_operation_known') WHERE NEW.operation NOT IN ('created', '3ds', 'charge',
        'cancel', 'refund', 'expire');
END;

CREATE TRIGGER payment_events_operation_update BEFORE UPDATE ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events_operation_known') WHERE NEW.operation NOT IN ('created', '3ds', 'charge',
        'cancel', 'refund', 'expire');
END;

UPDATE callback_events SET kind = kind;
UPDATE payment_events SET operation = operation;
