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

ALTER TABLE payments ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE payments DROP CONSTRAINT payments_terminal_invoice_unique;
CREATE UNIQUE INDEX payments_invoice_attempt ON payments (terminal_id, invoice_id, attempt);
CREATE UNIQUE INDEX payments_invoice_holding ON payments (terminal_id, invoice_id)
    WHERE status NOT IN ('REJECT', 'FAILED');
