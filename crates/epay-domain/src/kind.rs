//! What a transaction is: a card payment, a card verification or one of three card transfers
//! (facts §12). One table of transactions holds them all; the kind says which rules apply.

use crate::text_enum::text_enum;

text_enum! {
    /// The kind of transfer (facts §12), as a transfer token's `transferKind` names it.
    pub enum TransferKind as "transfer kind" {
        /// Card to card.
        P2p = "p2p",
        /// Account funding: a card pays the merchant.
        Aft = "aft",
        /// Original credit: the merchant pays a card.
        Oct = "oct",
    }
}

text_enum! {
    /// The kind of a recorded transaction.
    #[derive(Default)]
    pub enum PaymentKind as "payment kind" {
        #[default]
        /// A card payment: held (two-step) or charged at once (one-step), then charged,
        /// cancelled or refunded by the merchant.
        Payment = "payment",
        /// A card verification: amount 0, proves the card, moves no money.
        Verification = "verification",
        /// A P2P transfer.
        P2p = "p2p",
        /// An AFT transfer.
        Aft = "aft",
        /// An OCT payout.
        Oct = "oct",
    }
}

impl PaymentKind {
    /// The transfer this transaction is, if it is one.
    pub fn transfer(self) -> Option<TransferKind> {
        match self {
            PaymentKind::P2p => Some(TransferKind::P2p),
            PaymentKind::Aft => Some(TransferKind::Aft),
            PaymentKind::Oct => Some(TransferKind::Oct),
            PaymentKind::Payment | PaymentKind::Verification => None,
        }
    }

    pub fn is_transfer(self) -> bool {
        self.transfer().is_some()
    }
}

impl From<TransferKind> for PaymentKind {
    fn from(kind: TransferKind) -> PaymentKind {
        match kind {
            TransferKind::P2p => PaymentKind::P2p,
            TransferKind::Aft => PaymentKind::Aft,
            TransferKind::Oct => PaymentKind::Oct,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_enum::assert_round_trip;

    #[test]
    fn kinds_read_back_from_their_words_and_nothing_else() {
        let words: Vec<&str> = PaymentKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(words, ["payment", "verification", "p2p", "aft", "oct"]);
        assert_round_trip(PaymentKind::ALL, &["", "Payment", "P2P", "transfer", "card"]);
        let words: Vec<&str> = TransferKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(words, ["p2p", "aft", "oct"]);
        assert_round_trip(TransferKind::ALL, &["", "payment", "P2P", " p2p", "cash"]);
    }

    #[test]
    fn a_transfer_kind_is_the_payment_kind_of_the_same_word() {
        for kind in TransferKind::ALL.iter().copied() {
            let payment_kind = PaymentKind::from(kind);
            assert_eq!(payment_kind.as_str(), kind.as_str());
            assert_eq!(payment_kind.transfer(), Some(kind));
        }
        let transfers: Vec<PaymentKind> = PaymentKind::ALL.iter().copied().filter(|k| k.is_transfer()).collect();
        assert_eq!(transfers, [PaymentKind::P2p, PaymentKind::Aft, PaymentKind::Oct]);
    }
}
