//! Why a transfer was refused or declined, as the domain sees it: no HTTP status here. Each
//! surface words it once (`http::errors` in seed 001's shape, the hosted transfer form as a page).

use epay_domain::ReasonCode;
use epay_store::StoreError;

/// What went wrong, with the message every surface shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The token is missing, unknown, expired or already spent.
    #[error("{0}")]
    Unauthorized(String),
    /// The token does not allow this transfer (its scope or its kind).
    #[error("{0}")]
    Forbidden(String),
    /// Bad input; nothing was written.
    #[error("{0}")]
    BadRequest(String),
    /// The terminal makes no transfers (487; ePay's message keeps its leading space).
    #[error(" Not permitted to merchant")]
    NotPermitted,
    /// A payout's phone and IIN name no card (2357): one answer for every failed lookup.
    #[error("{}", ReasonCode::IIN_PHONE_MISMATCH.message)]
    PhoneMismatch,
    /// The network or a limit declined it; recorded under `transaction_id`.
    #[error("{message}")]
    Declined { code: i32, message: String, transaction_id: String },
    /// Too many declines for this card, token or terminal: refused before the network is asked.
    #[error("too many declined attempts; retry after {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Another attempt on the order id is in progress.
    #[error("{0}")]
    Held(String),
    /// The order id has no attempts left.
    #[error("{0}")]
    AttemptsExhausted(String),
    /// Storage failed before anything was written.
    #[error("internal error")]
    Internal,
    /// Storage failed while the transfer was being written: the client checks its status.
    #[error("internal error, check the transfer status")]
    Storage,
}

/// A refusal with the order it refers to: seed 001's error body repeats the order id and the
/// account id once the request got that far.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{refusal}")]
pub struct TransferError {
    pub refusal: Refusal,
    pub invoice_id: String,
    pub account_id: String,
}

/// A refused bearer token: 401 with its reason, or storage that could not be read.
impl From<crate::services::auth::BearerError> for TransferError {
    fn from(e: crate::services::auth::BearerError) -> TransferError {
        match e {
            crate::services::auth::BearerError::Storage => Refusal::Internal.into(),
            other => Refusal::Unauthorized(other.to_string()).into(),
        }
    }
}

impl From<Refusal> for TransferError {
    fn from(refusal: Refusal) -> TransferError {
        TransferError { refusal, invoice_id: String::new(), account_id: String::new() }
    }
}

impl TransferError {
    pub(super) fn bad(message: impl Into<String>) -> TransferError {
        Refusal::BadRequest(message.into()).into()
    }

    /// The same refusal about the order `invoice_id` of the customer `account_id`.
    pub fn with_order(mut self, invoice_id: &str, account_id: &str) -> TransferError {
        self.invoice_id = invoice_id.to_string();
        self.account_id = account_id.to_string();
        self
    }

    /// The transaction a decline was recorded under, if this is one.
    pub fn transaction_id(&self) -> Option<&str> {
        match &self.refusal {
            Refusal::Declined { transaction_id, .. } => Some(transaction_id),
            _ => None,
        }
    }
}

pub(super) fn internal(e: StoreError) -> TransferError {
    tracing::error!(error = %e, "transfer storage failed");
    Refusal::Storage.into()
}

/// A limit of `crate::services::guard` that was reached.
pub(super) fn too_many_attempts(t: crate::services::guard::TooMany) -> TransferError {
    Refusal::TooManyAttempts { retry_after_secs: t.retry_after_secs }.into()
}
