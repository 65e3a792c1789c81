-- No single hot row: the four sums of the accounts many concurrent payments credit (a terminal's
-- merchant and fee accounts, the conversion accounts) move into shards, several rows per account;
-- a ledger transfer is booked on one shard, picked from its payment's id, so concurrent payments
-- of one terminal update different rows. An account's sums are its own row's plus its shards'.
-- Which accounts are sharded is decided by id (`merchant:`, `fee:`, `fx:`), as the store decides
-- it; a sharded account's own row keeps zero sums and is locked only by a payout's funds check.
-- A card is never sharded: its available balance guards money and stays one locked row.
CREATE TABLE ledger_account_shards (
    account_id TEXT NOT NULL REFERENCES ledger_accounts(id) ON DELETE CASCADE,
    shard INTEGER NOT NULL,
    debits_pending BIGINT NOT NULL,
    debits_posted BIGINT NOT NULL,
    credits_pending BIGINT NOT NULL,
    credits_posted BIGINT NOT NULL,
    PRIMARY KEY (account_id, shard)
);

-- The shard a transfer's sums were added to (on a sharded account; ignored on any other). Every
-- transfer from before this migration is on shard 0, where its account's sums move.
ALTER TABLE ledger_transfers ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;

INSERT INTO ledger_account_shards (account_id, shard, debits_pending, debits_posted, credits_pending,
    credits_posted)
SELECT id, 0, debits_pending, debits_posted, credits_pending, credits_posted FROM ledger_accounts
WHERE id LIKE 'merchant:%' OR id LIKE 'fee:%' OR id LIKE 'fx:%';
UPDATE ledger_accounts SET debits_pending = 0, debits_posted = 0, credits_pending = 0, credits_posted = 0
WHERE id LIKE 'merchant:%' OR id LIKE 'fee:%' OR id LIKE 'fx:%';
