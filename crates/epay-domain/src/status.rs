//! Transaction statuses (facts §8.2) and the moves allowed between them.

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
}
