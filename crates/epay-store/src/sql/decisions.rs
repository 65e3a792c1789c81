//! What ties a stored row to the domain's state machine (`epay_domain::transition`): the state a
//! transition reads from a payment row, the decision a caller recorded on the row it hands over,
//! and the state machine's refusals in the store's words.

use epay_domain::transition::{self, Decision};
use epay_domain::{PaymentState, TxStatus};

use crate::model::*;
use crate::{StoreError, StoreResult};

/// What the state machine's transitions read of a payment row.
pub(super) fn state_of(p: &Payment) -> PaymentState {
    PaymentState {
        kind: p.kind,
        status: p.status,
        amount_minor: p.amount_minor,
        charged_minor: p.charged_minor,
        refunded_minor: p.refunded_minor,
        fx: p.fx_rate(),
    }
}

/// The state of an attempt waiting in `from` (`NEW`, or `3D` after its challenge) for its
/// decision: nothing charged or refunded yet.
pub(super) fn waiting_state(p: &Payment, from: TxStatus) -> PaymentState {
    PaymentState { status: from, charged_minor: 0, refunded_minor: 0, ..state_of(p) }
}

/// A merchant's request the state machine refuses, in the store's words.
pub(super) fn refused(refusal: transition::Refusal) -> StoreError {
    StoreError::Refused(match refusal {
        transition::Refusal::WrongStatus { status } => Refusal::WrongStatus { status },
        transition::Refusal::OverAmount { left_minor } => Refusal::OverAmount { left_minor },
        transition::Refusal::BelowMinimumRefund { amount_minor } => Refusal::BelowMinimumRefund { amount_minor },
        transition::Refusal::ExternalIdReused { amount_minor } => Refusal::ExternalIdReused { amount_minor },
        transition::Refusal::NotAPayment { kind } => Refusal::NotAPayment { kind },
    })
}

/// A decision the state machine has no move for (no such move, or a decision that does not fit
/// the transaction's kind): the caller's bug, refused so nothing is written.
pub(super) fn illegal(from: TxStatus, to: TxStatus) -> impl FnOnce(transition::TransitionError) -> StoreError {
    move |_| StoreError::IllegalMove { from, to }
}

/// The decision a caller recorded on a payment it hands to the store: the status it set and
/// the money it asked to move. Any other pairing is a caller's bug.
pub(super) fn payment_decision(from: TxStatus, p: &Payment, effect: &PaymentEffect) -> StoreResult<Decision> {
    match (p.status, effect) {
        (TxStatus::Auth, PaymentEffect::Debit { kind: DebitKind::Pending, .. }) => Ok(Decision::Approve { hold: true }),
        (TxStatus::Charge, PaymentEffect::Debit { kind: DebitKind::Posted, .. }) => {
            Ok(Decision::Approve { hold: false })
        }
        (TxStatus::Verified, PaymentEffect::None) => Ok(Decision::Verify),
        (TxStatus::ThreeD, PaymentEffect::None) => Ok(Decision::Challenge),
        (status, PaymentEffect::None) if status.is_declined() => Ok(Decision::Decline { status }),
        (to, _) => Err(StoreError::IllegalMove { from, to }),
    }
}

/// The decision on a transfer: money to move means approved.
pub(super) fn transfer_decision(from: TxStatus, settlement: &TransferSettlement) -> StoreResult<Decision> {
    match (&settlement.money, settlement.payment.status) {
        (Some(m), TxStatus::Charge) => Ok(Decision::Transfer { fee_minor: m.fee_minor }),
        (None, TxStatus::ThreeD) => Ok(Decision::Challenge),
        (None, status) if status.is_declined() => Ok(Decision::Decline { status }),
        (_, to) => Err(StoreError::IllegalMove { from, to }),
    }
}
