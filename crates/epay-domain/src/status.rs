//! Transaction statuses (facts §8.2), the moves allowed between them, and the `resultCode` the
//! status endpoint answers (facts §8.3).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxStatus {
    New,
    ThreeD,
    Auth,
    Charge,
    Cancel,
    CancelOld,
    Refund,
    Reject,
    Failed,
    Verified,
}

impl TxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TxStatus::New => "NEW",
            TxStatus::ThreeD => "3D",
            TxStatus::Auth => "AUTH",
            TxStatus::Charge => "CHARGE",
            TxStatus::Cancel => "CANCEL",
            TxStatus::CancelOld => "CANCEL_OLD",
            TxStatus::Refund => "REFUND",
            TxStatus::Reject => "REJECT",
            TxStatus::Failed => "FAILED",
            TxStatus::Verified => "VERIFIED",
        }
    }

    /// A declined attempt: it moved no money and leaves its invoice free for another attempt
    /// (docs/compatibility.md §48). The database's partial unique index
    /// `payments_invoice_holding` names the same two statuses.
    pub fn is_declined(self) -> bool {
        matches!(self, TxStatus::Reject | TxStatus::Failed)
    }

    /// Whether the state machine allows `self → next`.
    pub fn can_move_to(self, next: TxStatus) -> bool {
        use TxStatus::*;
        matches!(
            (self, next),
            (New, ThreeD | Auth | Charge | Reject | Failed | Verified)
                | (ThreeD, Auth | Charge | Reject | Failed | Verified)
                | (Auth, Charge | Cancel | CancelOld)
                | (Charge, Refund | Charge)
                | (Refund, Refund)
        )
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

impl fmt::Display for TxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transaction status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for TxStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "NEW" => TxStatus::New,
            "3D" => TxStatus::ThreeD,
            "AUTH" => TxStatus::Auth,
            "CHARGE" => TxStatus::Charge,
            "CANCEL" => TxStatus::Cancel,
            "CANCEL_OLD" => TxStatus::CancelOld,
            "REFUND" => TxStatus::Refund,
            "REJECT" => TxStatus::Reject,
            "FAILED" => TxStatus::Failed,
            "VERIFIED" => TxStatus::Verified,
            other => return Err(UnknownStatus(other.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_moves() {
        for s in ["NEW", "3D", "AUTH", "CHARGE", "CANCEL", "CANCEL_OLD", "REFUND", "REJECT", "FAILED", "VERIFIED"] {
            assert_eq!(s.parse::<TxStatus>().unwrap().as_str(), s);
        }
        assert!(TxStatus::Auth.can_move_to(TxStatus::Charge));
        assert!(!TxStatus::Charge.can_move_to(TxStatus::Cancel));
        assert!(!TxStatus::Failed.can_move_to(TxStatus::Charge));
        assert!("PAID".parse::<TxStatus>().is_err());
        let declined: Vec<&str> =
            ["NEW", "3D", "AUTH", "CHARGE", "CANCEL", "CANCEL_OLD", "REFUND", "REJECT", "FAILED", "VERIFIED"]
                .into_iter()
                .filter(|s| s.parse::<TxStatus>().unwrap().is_declined())
                .collect();
        assert_eq!(declined, ["REJECT", "FAILED"]);
    }

    #[test]
    fn result_codes_of_states() {
        let code = |s: &str| ResultCode::of(s.parse().unwrap()).code();
        assert_eq!(code("3D"), "107", "a 3-D Secure challenge is open");
        assert_eq!(code("NEW"), "107");
        assert_eq!((code("REJECT"), code("FAILED")), ("101", "101"));
        for done in ["AUTH", "CHARGE", "CANCEL", "CANCEL_OLD", "REFUND", "VERIFIED"] {
            assert_eq!(code(done), "100", "{done}");
        }
    }
}
