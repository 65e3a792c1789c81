-- Transfers (P2P, AFT, OCT) live in `payments` beside card payments, with their receiving side;
-- terminals get a fee rule and a daily transfer limit.
ALTER TABLE terminals ADD COLUMN fee_percent_bp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN fee_fixed_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN fee_min_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN transfer_daily_limit_minor BIGINT NOT NULL DEFAULT 0;

ALTER TABLE payments ADD COLUMN sender_transfer_type TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN receiver_transfer_type TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN receiver_card_id TEXT;
ALTER TABLE payments ADD COLUMN receiver_card_mask TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN receiver_card_brand TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN receiver_account TEXT;

CREATE INDEX payments_terminal_day ON payments (terminal_id, created_at);
CREATE INDEX ledger_transfers_credit_day ON ledger_transfers (credit_account, created_at);
