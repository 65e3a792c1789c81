//! Every surface's error enum mapped to its HTTP status and ePay body, in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use epay_domain::{ReasonCode, ResultCode};

use crate::services::operations::OperationError;
use crate::services::payments::PaymentError;
use crate::services::status::StatusError;
use crate::services::tokens::TokenError;
use crate::services::transfers::{Refusal, TransferError};
use crate::wire::{capped, echoed, ErrorBody, OAuthErrorBody, StatusResponse, TransferErrorBody, MAX_MESSAGE_CHARS};

/// OAuth2 errors, RFC 6749 §5.2: `{"error": "...", "error_description": "..."}`.
impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            TokenError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            TokenError::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
            TokenError::UnsupportedGrantType(_) => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            TokenError::InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
            TokenError::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
            TokenError::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            TokenError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        let body =
            OAuthErrorBody { error: code.into(), error_description: capped(&self.to_string(), MAX_MESSAGE_CHARS) };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6749 §5.2: a 401 invalid_client carries the scheme the client may use.
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        }
        if let TokenError::TooManyAttempts(secs) = self {
            retry_after(&mut response, secs);
        }
        response
    }
}

/// Payment errors, seed 003: `{"code": -1, "message": "..."}`; a decline carries its ePay
/// reason code in `code` (e.g. 484) and the transaction id it was recorded under.
impl IntoResponse for PaymentError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, body) = match self {
            PaymentError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorBody::new(-1, message)),
            PaymentError::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorBody::new(-1, message)),
            PaymentError::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorBody::new(-1, message)),
            PaymentError::Conflict(_) => (StatusCode::CONFLICT, ErrorBody::new(-1, message)),
            PaymentError::Declined { reason, transaction_id } => {
                let mut body = ErrorBody::new(reason.code, message);
                body.id = Some(transaction_id);
                (StatusCode::BAD_REQUEST, body)
            }
            PaymentError::AttemptsExhausted(_) => {
                (StatusCode::BAD_REQUEST, ErrorBody::new(epay_domain::ReasonCode::TOO_MANY_ATTEMPTS.code, message))
            }
            PaymentError::TooManyAttempts { retry_after_secs } => {
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(ErrorBody::new(-1, message))).into_response();
                retry_after(&mut response, retry_after_secs);
                return response;
            }
            PaymentError::Internal => {
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorBody::new(-1, "internal error, check the payment status"))
            }
        };
        (status, Json(body)).into_response()
    }
}

/// Status errors keep the status shape: `{"resultCode": "...", "resultMessage": "..."}`.
impl IntoResponse for StatusError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            StatusError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, ResultCode::Error, m),
            StatusError::Internal => {
                (StatusCode::INTERNAL_SERVER_ERROR, ResultCode::Error, "internal error, retry later".into())
            }
        };
        let message = capped(&message, MAX_MESSAGE_CHARS);
        (status, Json(StatusResponse { result_code: code.code().into(), result_message: message, transaction: None }))
            .into_response()
    }
}

/// Operation errors, facts §9: HTTP 400 `{"code": 100, "message": "..."}` (401 for the token).
impl IntoResponse for OperationError {
    fn into_response(self) -> Response {
        let status = match &self {
            OperationError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            OperationError::BadRequest(_) | OperationError::NotFound(_) | OperationError::Refused(_) => {
                StatusCode::BAD_REQUEST
            }
            OperationError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(ErrorBody::new(100, self.to_string()))).into_response()
    }
}

/// Transfer errors, seed 001: `{"code", "message", "invoiceId", "id", "reference", "accountId"}`.
impl IntoResponse for TransferError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let reason = |r: ReasonCode| r.code;
        let (status, code, id, retry_after_secs) = match self.refusal {
            Refusal::Unauthorized(_) => (StatusCode::UNAUTHORIZED, -1, String::new(), None),
            Refusal::Forbidden(_) => (StatusCode::FORBIDDEN, -1, String::new(), None),
            Refusal::BadRequest(_) => (StatusCode::BAD_REQUEST, -1, String::new(), None),
            Refusal::NotPermitted => (StatusCode::BAD_REQUEST, reason(ReasonCode::NOT_PERMITTED), String::new(), None),
            Refusal::PhoneMismatch => {
                (StatusCode::BAD_REQUEST, reason(ReasonCode::IIN_PHONE_MISMATCH), String::new(), None)
            }
            Refusal::Declined { code, transaction_id, .. } => (StatusCode::BAD_REQUEST, code, transaction_id, None),
            Refusal::TooManyAttempts { retry_after_secs } => {
                (StatusCode::TOO_MANY_REQUESTS, -1, String::new(), Some(retry_after_secs))
            }
            Refusal::Held(_) => (StatusCode::CONFLICT, -1, String::new(), None),
            Refusal::AttemptsExhausted(_) => {
                (StatusCode::BAD_REQUEST, reason(ReasonCode::TOO_MANY_ATTEMPTS), String::new(), None)
            }
            Refusal::Internal | Refusal::Storage => (StatusCode::INTERNAL_SERVER_ERROR, -1, String::new(), None),
        };
        let mut response = transfer_body(status, code, &message, &self.invoice_id, id, &self.account_id);
        if let Some(secs) = retry_after_secs {
            retry_after(&mut response, secs);
        }
        response
    }
}

/// A refusal of the transfer endpoints before any transfer was read (the Idempotency-Key
/// layer's), in seed 001's shape.
pub(crate) fn transfer_refusal(status: StatusCode, message: &str) -> Response {
    transfer_body(status, -1, message, "", String::new(), "")
}

fn transfer_body(
    status: StatusCode,
    code: i32,
    message: &str,
    invoice_id: &str,
    id: String,
    account_id: &str,
) -> Response {
    // The order id and account id are the client's own values: repeated, but never at length.
    let body = TransferErrorBody {
        code,
        message: capped(message, MAX_MESSAGE_CHARS),
        invoice_id: echoed(invoice_id),
        id,
        reference: String::new(),
        account_id: echoed(account_id),
    };
    (status, Json(body)).into_response()
}

/// `429` answers say when to come back (RFC 9110 §10.2.3).
fn retry_after(response: &mut Response, secs: u64) {
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

/// Invoice-link errors, in the payment API's shape: `{"code": -1, "message": "..."}`.
impl IntoResponse for crate::services::invoices::InvoiceError {
    fn into_response(self) -> Response {
        use crate::services::invoices::InvoiceError;
        let status = match &self {
            InvoiceError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            InvoiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            InvoiceError::BadRequest(_) => StatusCode::BAD_REQUEST,
            InvoiceError::NotFound(_) => StatusCode::NOT_FOUND,
            InvoiceError::Conflict(_) => StatusCode::CONFLICT,
            InvoiceError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(ErrorBody::new(-1, self.to_string()))).into_response()
    }
}
