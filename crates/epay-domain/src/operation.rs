//! What may be done to a payment once the network decided it (facts §9): charge, cancel and
//! refund by the merchant, and the expiry of a hold. This is the one statement of the payment
//! state machine: the store checks it inside the operation's transaction, the cabinet asks it
//! which actions to offer, and [`TxStatus::can_move_to`] is built from it.

use crate::text_enum::text_enum;
use crate::{PaymentKind, TxStatus};

/// The smallest refund ePay accepts, 10 tenge (D-refund), unless it returns all that is left.
pub const MIN_REFUND_MINOR: i64 = 1_000;

text_enum! {
    /// An operation on a decided payment.
    pub enum Operation as "operation" {
        /// AUTH → CHARGE: post all or part of the hold, release the rest.
        Charge = "charge",
        /// AUTH → CANCEL: release the hold.
        Cancel = "cancel",
        /// CHARGE → CHARGE (part of what is left) or REFUND (the rest): money back to the card.
        Refund = "refund",
        /// AUTH → CANCEL_OLD: the hold outlived its terminal's hold period.
        Expire = "expire",
    }
}

impl Operation {
    /// The status the payment must be in: a charge, a cancel and an expiry act on a hold, a
    /// refund on charged money.
    pub fn from_status(self) -> TxStatus {
        match self {
            Operation::Charge | Operation::Cancel | Operation::Expire => TxStatus::Auth,
            Operation::Refund => TxStatus::Charge,
        }
    }

    pub fn allowed_from(self, status: TxStatus) -> bool {
        status == self.from_status()
    }

    /// Only a card payment holds or moved money that can be charged, released or given back:
    /// a transfer moved its money at once for good, and a card verification moved none.
    pub fn applies_to(self, kind: PaymentKind) -> bool {
        kind == PaymentKind::Payment
    }

    /// Whether the operation may run on a payment of `kind` in `status`.
    pub fn allowed(self, kind: PaymentKind, status: TxStatus) -> bool {
        self.applies_to(kind) && self.allowed_from(status)
    }

    /// The status the operation leaves. A refund leaves CHARGE while some of the charged money
    /// is still not refunded, and REFUND once `nothing_left`.
    pub fn status_after(self, nothing_left: bool) -> TxStatus {
        match self {
            Operation::Charge => TxStatus::Charge,
            Operation::Cancel => TxStatus::Cancel,
            Operation::Expire => TxStatus::CancelOld,
            Operation::Refund if nothing_left => TxStatus::Refund,
            Operation::Refund => TxStatus::Charge,
        }
    }

    /// Every status the operation may leave.
    pub fn leaves(self) -> &'static [TxStatus] {
        match self {
            Operation::Charge => &[TxStatus::Charge],
            Operation::Cancel => &[TxStatus::Cancel],
            Operation::Expire => &[TxStatus::CancelOld],
            Operation::Refund => &[TxStatus::Charge, TxStatus::Refund],
        }
    }
}

/// ePay's minimum refund (D-refund): at least [`MIN_REFUND_MINOR`], unless it returns all that
/// is left to refund. Checked with `left_minor` as it is in the refund's own transaction.
pub fn refund_meets_minimum(amount_minor: i64, left_minor: i64) -> bool {
    amount_minor >= MIN_REFUND_MINOR || amount_minor == left_minor
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_enum::assert_round_trip;

    #[test]
    fn operations_read_back_from_their_words_and_nothing_else() {
        let words: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(words, ["charge", "cancel", "refund", "expire"]);
        assert_round_trip(Operation::ALL, &["", "Charge", "void", "capture"]);
    }

    #[test]
    fn every_operation_runs_from_one_status_on_card_payments_only() {
        use TxStatus::*;
        let allowed = [
            (Operation::Charge, Auth),
            (Operation::Cancel, Auth),
            (Operation::Expire, Auth),
            (Operation::Refund, Charge),
        ];
        for op in Operation::ALL.iter().copied() {
            for status in TxStatus::ALL.iter().copied() {
                let expected = allowed.contains(&(op, status));
                assert_eq!(op.allowed_from(status), expected, "{op} from {status}");
                for kind in PaymentKind::ALL.iter().copied() {
                    let expected = expected && kind == PaymentKind::Payment;
                    assert_eq!(op.allowed(kind, status), expected, "{op} of a {kind} in {status}");
                }
            }
        }
    }

    #[test]
    fn every_operation_leaves_what_the_state_machine_allows() {
        for op in Operation::ALL.iter().copied() {
            for nothing_left in [false, true] {
                let after = op.status_after(nothing_left);
                assert!(op.leaves().contains(&after), "{op} leaves {after}");
                assert!(op.from_status().can_move_to(after), "{op}: {} → {after}", op.from_status());
            }
        }
        assert_eq!(Operation::Refund.status_after(false), TxStatus::Charge, "a partial refund stays CHARGE");
        assert_eq!(Operation::Refund.status_after(true), TxStatus::Refund);
        assert_eq!(Operation::Charge.status_after(true), TxStatus::Charge);
        assert_eq!(Operation::Cancel.status_after(false), TxStatus::Cancel);
        assert_eq!(Operation::Expire.status_after(false), TxStatus::CancelOld);
    }

    #[test]
    fn a_refund_is_at_least_ten_tenge_unless_it_is_all_that_is_left() {
        assert!(refund_meets_minimum(1_000, 10_000));
        assert!(refund_meets_minimum(5_000, 2_000), "over what is left: refused elsewhere, not by the minimum");
        assert!(!refund_meets_minimum(999, 10_000));
        assert!(!refund_meets_minimum(500, 400));
        assert!(refund_meets_minimum(500, 500), "the rest");
        assert!(refund_meets_minimum(1, 1));
        assert!(!refund_meets_minimum(500, 0), "nothing is left");
    }
}
