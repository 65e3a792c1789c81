//! Why a payment is refused or declined. No HTTP status here: each surface words these in one
//! place (`edge::http::errors` for the API, the page's own pages).

use epay_domain::ReasonCode;
use epay_store::StoreError;

use crate::services::attempts;
use crate::services::auth::BearerError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// The card network (or the ledger) declined; the attempt is recorded with this reason.
    #[error("{}", reason.message)]
    Declined { reason: ReasonCode, transaction_id: String },
    /// Too many declined attempts for this card or terminal (card testing); nothing recorded.
    #[error("too many declined attempts; retry after {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The invoice had every attempt its terminal allows, all declined: reason 2740, final
    /// (docs/compatibility.md §48); nothing recorded.
    #[error("{0}")]
    AttemptsExhausted(String),
    #[error("internal error")]
    Internal,
}

impl From<BearerError> for PaymentError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Storage => PaymentError::Internal,
            other => PaymentError::Unauthorized(other.to_string()),
        }
    }
}

/// The answer to a token used up (by a payment, or by too many cryptograms).
pub(crate) const TOKEN_USED: &str = "token has already been used; request a new token";

pub(crate) fn bad(msg: impl Into<String>) -> PaymentError {
    PaymentError::BadRequest(msg.into())
}

pub(crate) fn internal(e: StoreError) -> PaymentError {
    tracing::error!(error = %e, "payment storage failed");
    PaymentError::Internal
}

/// A new attempt at `invoice` the store refused (docs/compatibility.md §48), or a failure.
pub(crate) fn attempt_refused(e: StoreError, invoice: &str) -> PaymentError {
    match attempts::refused(&e, "invoiceId", invoice) {
        Some(attempts::Refused::Held(message)) => PaymentError::Conflict(message),
        Some(attempts::Refused::Exhausted(message)) => PaymentError::AttemptsExhausted(message),
        None => internal(e),
    }
}
