//! The cabinet's one error enum and the one place it becomes a page.

use axum::http::StatusCode;
use axum::response::Response;

use super::i18n::{words, Lang};
use super::views;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CabinetError {
    /// No valid session: the browser goes to the sign-in page.
    #[error("not signed in")]
    SignedOut,
    /// A POST without the session's CSRF token (or with another one).
    #[error("CSRF token missing or wrong")]
    Csrf,
    /// Not this merchant's (or nothing at all): the two look the same on purpose.
    #[error("{0} not found")]
    NotFound(String),
    /// The request cannot be understood (a filter, an amount, a setting); nothing was written.
    #[error("{0}")]
    BadInput(String),
    /// The request was understood but the rules refuse it (e.g. refund more than is left).
    #[error("{0}")]
    Refused(String),
    /// A field of a form (the transaction filters) to correct; `hint` says what is wrong with it
    /// in the gateway's words.
    #[error("{hint}")]
    BadField { field: &'static str, hint: String },
    /// Refused or invalid, already in the user's words (`message`), with the gateway's own words
    /// (`hint`, e.g. the API's English refusal) kept small for support; nothing was written.
    #[error("{message}")]
    Explained { status: StatusCode, message: String, hint: String },
    #[error("internal error")]
    Internal,
}

impl From<epay_store::StoreError> for CabinetError {
    fn from(e: epay_store::StoreError) -> Self {
        tracing::error!(error = %e, "cabinet storage failed");
        CabinetError::Internal
    }
}

impl From<crate::services::operations::OperationError> for CabinetError {
    fn from(e: crate::services::operations::OperationError) -> Self {
        use crate::services::operations::OperationError as E;
        match e {
            E::NotFound(id) => CabinetError::NotFound(format!("transaction {id}")),
            E::BadRequest(m) => CabinetError::BadInput(m),
            E::Refused(m) => CabinetError::Refused(m),
            E::Unauthorized(_) | E::Internal => CabinetError::Internal,
        }
    }
}

impl From<crate::services::payments::PaymentError> for CabinetError {
    fn from(e: crate::services::payments::PaymentError) -> Self {
        use crate::services::payments::PaymentError as E;
        match e {
            // The cabinet checks that a payment, callback or card is the merchant's before it
            // calls a service, so what is left here is input the service refused.
            E::BadRequest(m) => CabinetError::BadInput(m),
            other => {
                tracing::error!(error = %other, "cabinet service failed");
                CabinetError::Internal
            }
        }
    }
}

impl From<crate::services::admin::AdminError> for CabinetError {
    fn from(e: crate::services::admin::AdminError) -> Self {
        use crate::services::admin::AdminError as E;
        match e {
            E::Invalid(m) => CabinetError::BadInput(m),
            E::NotFound(m) => CabinetError::NotFound(m),
            E::Exists(m) => CabinetError::BadInput(format!("{m} already exists")),
            E::Store(s) => s.into(),
            E::Key(k) => {
                tracing::error!(error = %k, "cabinet: sealing a secret failed");
                CabinetError::Internal
            }
        }
    }
}

/// The page (or redirect) for an error, in the user's language, to someone not signed in.
pub fn respond(lang: Lang, error: &CabinetError) -> Response {
    page(lang, None, error)
}

/// The error page of a signed-in user: with the menu, so the way on is one click.
pub fn respond_signed(chrome: &views::Chrome<'_>, error: &CabinetError) -> Response {
    page(chrome.lang, Some(chrome), error)
}

fn page(lang: Lang, chrome: Option<&views::Chrome<'_>>, error: &CabinetError) -> Response {
    let w = words(lang);
    let (status, heading, detail, hint) = match error {
        CabinetError::SignedOut => return super::redirect("/cabinet/login"),
        CabinetError::Csrf => (StatusCode::FORBIDDEN, w.refused, w.csrf_refused.to_string(), ""),
        CabinetError::NotFound(what) => (StatusCode::NOT_FOUND, w.not_found, String::new(), what.as_str()),
        CabinetError::BadInput(m) => (StatusCode::BAD_REQUEST, w.bad_input, String::new(), m.as_str()),
        CabinetError::Refused(m) => (StatusCode::CONFLICT, w.refused, String::new(), m.as_str()),
        CabinetError::BadField { field, hint } => {
            let label = match *field {
                "from" => w.date_from,
                "to" => w.date_to,
                "status" => w.status,
                "min" => w.amount_min,
                "max" => w.amount_max,
                "invoice" => w.invoice_id,
                "card" => w.card_mask,
                "terminal" => w.terminal,
                "q" => w.search,
                _ => w.page,
            };
            (StatusCode::BAD_REQUEST, w.bad_input, format!("{}: {label}", w.check_field), hint.as_str())
        }
        CabinetError::Explained { status, message, hint } => {
            let heading = if *status == StatusCode::CONFLICT { w.refused } else { w.bad_input };
            (*status, heading, message.clone(), hint.as_str())
        }
        CabinetError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, w.internal, String::new(), ""),
    };
    match chrome {
        Some(c) => super::html(status, views::signed_error_page(c, heading, &detail, hint)),
        None => {
            // Not signed in: nothing of a payment's to show; the gateway's words stay as the detail.
            let detail = if detail.is_empty() { hint.to_string() } else { detail };
            super::html(status, views::error_page(lang, heading, &detail))
        }
    }
}
