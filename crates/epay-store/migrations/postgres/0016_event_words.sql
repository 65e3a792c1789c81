-- Migration 0015's rule for the columns it left out: the database refuses a callback kind, a
-- callback delivery status or a payment history step that is not one of the domain enums'
-- words (epay_domain::CallbackKind, DeliveryStatus, PaymentStep). Every row the gateway ever
-- wrote passes: these columns were always written from those words. As in 0015, ADD
-- CONSTRAINT checks the rows already there, so a database holding another word refuses the
-- migration instead of keeping it silently.

ALTER TABLE callback_events
    ADD CONSTRAINT callback_events_kind_known CHECK (kind IN ('payment.success', 'payment.failure',
        'payment.charge', 'payment.cancel', 'payment.refund', 'payment.expire', 'transfer.success')),
    ADD CONSTRAINT callback_events_status_known CHECK (status IN ('pending', 'delivered', 'failed'));

ALTER TABLE payment_events
    ADD CONSTRAINT payment_events_operation_known CHECK (operation IN ('created', '3ds', 'charge', 'cancel',
        'refund', 'expire'));
