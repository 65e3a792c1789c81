//! The double-entry ledger's kinds (after TigerBeetle): whose an account is, and how a ledger
//! transfer changes the balances of the two accounts it names.

use crate::text_enum::text_enum;

text_enum! {
    /// Whose money a ledger account holds.
    pub enum AccountKind as "ledger account kind" {
        /// A cardholder's account at the simulated issuer.
        Card = "card",
        /// What a terminal's merchant is owed (and a terminal's transfer fees).
        Merchant = "merchant",
        /// The source of the simulator's opening balances.
        Funding = "funding",
        /// One side of a currency conversion (`fx:<payment currency>-<card currency>:<currency>`):
        /// it takes the card's money in one currency and pays the merchant in the other, so each
        /// currency balances on its own.
        Fx = "fx",
    }
}

text_enum! {
    /// How a ledger transfer changes balances (TigerBeetle's transfer flags).
    pub enum LedgerTransferKind as "ledger transfer kind" {
        /// Moves money at once.
        Posted = "posted",
        /// Reserves money (a hold), later posted in whole or part, or voided.
        Pending = "pending",
        /// Posts part or all of a hold and releases the rest.
        PostPending = "post_pending",
        /// Releases a whole hold.
        VoidPending = "void_pending",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_enum::assert_round_trip;

    #[test]
    fn ledger_kinds_read_back_from_their_words_and_nothing_else() {
        let words: Vec<&str> = AccountKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(words, ["card", "merchant", "funding", "fx"]);
        assert_round_trip(AccountKind::ALL, &["", "Card", "fee", "merchant "]);
        let words: Vec<&str> = LedgerTransferKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(words, ["posted", "pending", "post_pending", "void_pending"]);
        assert_round_trip(LedgerTransferKind::ALL, &["", "Posted", "post-pending", "void", "auth"]);
    }
}
