-- Every ledger account has one currency, fixed when it is created, and a transfer moves money
-- between two accounts of the same currency. Gateway-side accounts become one per currency
-- (`merchant:<terminal>:KZT`, `fee:<terminal>:KZT`, `funding:simulator:KZT`); everything booked
-- before this migration was booked in tenge, so existing accounts are KZT.
ALTER TABLE ledger_accounts ADD COLUMN currency TEXT NOT NULL DEFAULT 'KZT';

-- Rename the gateway-side accounts: copy each under its new id, point the transfers at the copy,
-- drop the old row (the transfers' foreign keys forbid changing a referenced id in place).
INSERT INTO ledger_accounts (id, kind, currency, debits_pending, debits_posted, credits_pending,
    credits_posted, created_at)
SELECT id || ':KZT', kind, 'KZT', debits_pending, debits_posted, credits_pending, credits_posted,
    created_at
FROM ledger_accounts WHERE kind <> 'card';
UPDATE ledger_transfers SET debit_account = debit_account || ':KZT'
WHERE debit_account IN (SELECT id FROM ledger_accounts WHERE kind <> 'card' AND id NOT LIKE '%:KZT');
UPDATE ledger_transfers SET credit_account = credit_account || ':KZT'
WHERE credit_account IN (SELECT id FROM ledger_accounts WHERE kind <> 'card' AND id NOT LIKE '%:KZT');
DELETE FROM ledger_accounts WHERE kind <> 'card' AND id NOT LIKE '%:KZT';

-- The conversion a card's issuer applied to a payment in another currency, recorded once so
-- that charges, cancels and refunds convert at the same rate. Rows from before were 1:1 tenge.
ALTER TABLE payments ADD COLUMN card_currency TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN fx_rate_micros BIGINT NOT NULL DEFAULT 1000000;
ALTER TABLE payments ADD COLUMN card_amount_minor BIGINT NOT NULL DEFAULT 0;
UPDATE payments SET card_currency = 'KZT', card_amount_minor = amount_minor
WHERE card_account IS NOT NULL OR receiver_account IS NOT NULL;

-- The database refuses what the store never does: a transfer between accounts of different
-- currencies, and changing an account's currency after it was created.
CREATE FUNCTION ledger_transfer_one_currency() RETURNS trigger AS $$
BEGIN
    IF (SELECT currency FROM ledger_accounts WHERE id = NEW.debit_account)
        IS DISTINCT FROM (SELECT currency FROM ledger_accounts WHERE id = NEW.credit_account) THEN
        RAISE EXCEPTION 'ledger transfer mixes currencies';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_transfers_one_currency BEFORE INSERT OR UPDATE ON ledger_transfers
FOR EACH ROW EXECUTE FUNCTION ledger_transfer_one_currency();

CREATE FUNCTION ledger_account_currency_fixed() RETURNS trigger AS $$
BEGIN
    IF NEW.currency IS DISTINCT FROM OLD.currency THEN
        RAISE EXCEPTION 'a ledger account keeps the currency it was created with';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_accounts_currency_fixed BEFORE UPDATE OF currency ON ledger_accounts
FOR EACH ROW EXECUTE FUNCTION ledger_account_currency_fixed();
