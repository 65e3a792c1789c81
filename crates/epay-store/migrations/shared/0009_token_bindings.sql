-- Capabilities (DESIGN §5a): what a page or API token allows is fixed when it is issued.
-- transfer_kind: the one kind of transfer a transfer token may make ('p2p', 'aft', 'oct'); NULL
-- means P2P only, so a payout always needs a token the merchant asked for as one.
-- account_id: the customer whose saved cards the token may list or use; NULL: none.
ALTER TABLE tokens ADD COLUMN transfer_kind TEXT;
ALTER TABLE tokens ADD COLUMN account_id TEXT;

-- Origins (scheme://host[:port]) a terminal accepts callback links from when a request or the
-- payment page names them instead of the token; space-separated, empty: none.
ALTER TABLE terminals ADD COLUMN callback_origins TEXT NOT NULL DEFAULT '';

-- A card saved as a transfer's receiver was never proven with its expiry and CVC: it may only
-- receive. Cards saved by a payment, verification or as a transfer's paying side may pay.
ALTER TABLE saved_cards ADD COLUMN payable BOOLEAN NOT NULL DEFAULT TRUE;
-- Existing cards first saved as a receiver become receive-only.
UPDATE saved_cards SET payable = FALSE
    WHERE EXISTS (SELECT 1 FROM payments p
                  WHERE p.id = saved_cards.transaction_id AND p.receiver_card_id = saved_cards.id);

-- A terminal's daily transfer total counts money when it moves (its ledger transfer).
CREATE INDEX ledger_transfers_day ON ledger_transfers (created_at);
