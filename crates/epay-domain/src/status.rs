//! Transaction statuses (facts §8.2), the moves allowed between them, and the `resultCode` the
//! status endpoint answers (facts §8.3).

use crate::text_enum::text_enum;

text_enum! {
    /// A transaction's `statusName` (facts §8.2), as the database keeps it and ePay sends it.
    #[derive(Default)]
    pub enum TxStatus as "transaction status" {
        /// Not decided yet. Never recorded: every attempt is stored decided (or waiting in `3D`).
        #[default]
        New = "NEW",
        /// Waiting for the shopper's 3-D Secure challenge.
        ThreeD = "3D",
        /// Approved and held on the card (two-step terminal); charged or cancelled later.
        Auth = "AUTH",
        /// Money moved to the merchant (one-step, or a charged hold); partly refunded stays here.
        Charge = "CHARGE",
        /// A hold the merchant cancelled.
        Cancel = "CANCEL",
        /// A hold that outlived its terminal's hold period.
        CancelOld = "CANCEL_OLD",
        /// Everything charged was refunded.
        Refund = "REFUND",
        /// Declined by the card network or the gateway's limits.
        Reject = "REJECT",
        /// Failed at 3-D Secure.
        Failed = "FAILED",
        /// A card verification (amount 0) that the issuer approved.
        Verified = "VERIFIED",
    }
}

impl TxStatus {
    /// `statusID` of the status answer: ePay publishes no numbering, so this one is epay's own,
    /// stable, and listed in docs/api.md.
    pub fn id(self) -> u8 {
        match self {
            TxStatus::New => 1,
            TxStatus::Auth => 2,
            TxStatus::Charge => 3,
            TxStatus::Cancel => 4,
            TxStatus::Refund => 5,
            TxStatus::Reject => 6,
            TxStatus::Failed => 7,
            TxStatus::ThreeD => 8,
            TxStatus::CancelOld => 9,
            TxStatus::Verified => 10,
        }
    }

    /// A declined attempt: it moved no money and leaves its invoice free for another attempt
    /// (docs/compatibility.md §48). The database's partial unique index
    /// `payments_invoice_holding` names the same two statuses.
    pub fn is_declined(self) -> bool {
        matches!(self, TxStatus::Reject | TxStatus::Failed)
    }

    /// An attempt the network approved: money held (AUTH), moved (CHARGE), or a card verified.
    /// Its callback is ePay's success callback; any other final status sends the failure one.
    pub fn is_approved(self) -> bool {
        matches!(self, TxStatus::Auth | TxStatus::Charge | TxStatus::Verified)
    }

    /// Whether the state machine allows `self → next`: an attempt waiting (`NEW`, `3D`) is
    /// decided, and a decided payment moves only by an [`Operation`](crate::Operation).
    pub fn can_move_to(self, next: TxStatus) -> bool {
        use TxStatus::*;
        let decision = matches!(
            (self, next),
            (New, ThreeD | Auth | Charge | Reject | Failed | Verified)
                | (ThreeD, Auth | Charge | Reject | Failed | Verified)
        );
        decision || crate::Operation::ALL.iter().any(|op| op.allowed_from(self) && op.leaves().contains(&next))
    }
}

/// `resultCode` of `GET /check-status/payment/transaction/:invoiceId` (facts §8.3; ePay's table
/// as public clients reproduce it). `106` (incorrect terminal) and `109` (terminal does not belong
/// to the client) have no state here: a token's terminal is checked to be its merchant's when the
/// token is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// `100`: the request succeeded; `transaction.statusName` says how the payment stands.
    Success,
    /// `101`: the transaction was rejected (declined, or failed at 3-D Secure).
    Rejected,
    /// `102`: no such invoice for this token.
    NotFound,
    /// `103`: error (a bad token, a storage failure); retry or contact support.
    Error,
    /// `104`: the token names no terminal.
    TerminalAbsent,
    /// `107`: the operation is still in progress (a 3-D Secure challenge is open); ask later.
    InProgress,
}

impl ResultCode {
    pub fn code(self) -> &'static str {
        match self {
            ResultCode::Success => "100",
            ResultCode::Rejected => "101",
            ResultCode::NotFound => "102",
            ResultCode::Error => "103",
            ResultCode::TerminalAbsent => "104",
            ResultCode::InProgress => "107",
        }
    }

    /// The `resultCode` of a found transaction in `status`.
    pub fn of(status: TxStatus) -> ResultCode {
        match status {
            TxStatus::New | TxStatus::ThreeD => ResultCode::InProgress,
            TxStatus::Reject | TxStatus::Failed => ResultCode::Rejected,
            TxStatus::Auth
            | TxStatus::Charge
            | TxStatus::Cancel
            | TxStatus::CancelOld
            | TxStatus::Refund
            | TxStatus::Verified => ResultCode::Success,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_enum::assert_round_trip;

    #[test]
    fn every_status_has_its_epay_word_and_number() {
        let table: Vec<(&str, u8)> = TxStatus::ALL.iter().map(|s| (s.as_str(), s.id())).collect();
        assert_eq!(
            table,
            [
                ("NEW", 1),
                ("3D", 8),
                ("AUTH", 2),
                ("CHARGE", 3),
                ("CANCEL", 4),
                ("CANCEL_OLD", 9),
                ("REFUND", 5),
                ("REJECT", 6),
                ("FAILED", 7),
                ("VERIFIED", 10),
            ]
        );
        assert_round_trip(TxStatus::ALL, &["PAID", "auth", " AUTH", "AUTH ", "", "3d", "CANCELOLD"]);
        assert_eq!("PAID".parse::<TxStatus>().unwrap_err().to_string(), r#"unknown transaction status "PAID""#);
    }

    #[test]
    fn declined_and_approved_statuses() {
        let declined: Vec<TxStatus> = TxStatus::ALL.iter().copied().filter(|s| s.is_declined()).collect();
        assert_eq!(declined, [TxStatus::Reject, TxStatus::Failed]);
        let approved: Vec<TxStatus> = TxStatus::ALL.iter().copied().filter(|s| s.is_approved()).collect();
        assert_eq!(approved, [TxStatus::Auth, TxStatus::Charge, TxStatus::Verified]);
    }

    #[test]
    fn every_move_of_the_state_machine() {
        use TxStatus::*;
        let allowed = [
            (New, ThreeD),
            (New, Auth),
            (New, Charge),
            (New, Reject),
            (New, Failed),
            (New, Verified),
            (ThreeD, Auth),
            (ThreeD, Charge),
            (ThreeD, Reject),
            (ThreeD, Failed),
            (ThreeD, Verified),
            (Auth, Charge),
            (Auth, Cancel),
            (Auth, CancelOld),
            (Charge, Charge),
            (Charge, Refund),
        ];
        for from in TxStatus::ALL.iter().copied() {
            for to in TxStatus::ALL.iter().copied() {
                assert_eq!(from.can_move_to(to), allowed.contains(&(from, to)), "{from} → {to}");
            }
        }
        // Final statuses never move.
        for done in [Cancel, CancelOld, Refund, Reject, Failed, Verified] {
            assert!(TxStatus::ALL.iter().all(|to| !done.can_move_to(*to)), "{done} moved");
        }
    }

    #[test]
    fn result_codes_of_states() {
        use TxStatus::*;
        let code = |s: TxStatus| ResultCode::of(s).code();
        assert_eq!(code(ThreeD), "107", "a 3-D Secure challenge is open");
        assert_eq!(code(New), "107");
        assert_eq!((code(Reject), code(Failed)), ("101", "101"));
        for done in [Auth, Charge, Cancel, CancelOld, Refund, Verified] {
            assert_eq!(code(done), "100", "{done}");
        }
    }
}
