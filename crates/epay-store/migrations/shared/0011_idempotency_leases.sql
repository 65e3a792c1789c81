-- Idempotency-Key (issue 15, items 7 and 16): a key's answer now commits in the transaction of
-- the operation it guards. A running request holds the key only by a lease (owner and end), so
-- a key whose request crashed becomes free when the lease ends. Keys expire 24 h after first use.
ALTER TABLE idempotency_keys ADD COLUMN lease_owner TEXT;
ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT;

-- Reservations left by earlier versions never end (that was the bug): free them.
DELETE FROM idempotency_keys WHERE response_status IS NULL;

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
