//! Every surface's error enum mapped to its HTTP status and ePay body, in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::services::operations::OperationError;
use crate::services::payments::PaymentError;
use crate::services::status::StatusError;
use crate::services::tokens::TokenError;
use crate::services::transfers::TransferError;

/// OAuth2 errors, RFC 6749 §5.2: `{"error": "...", "error_description": "..."}`.
impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            TokenError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            TokenError::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
            TokenError::UnsupportedGrantType(_) => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            TokenError::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
            TokenError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        let mut response =
            (status, Json(json!({"error": code, "error_description": self.to_string()}))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6749 §5.2: a 401 invalid_client carries the scheme the client may use.
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
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
            PaymentError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, json!({"code": -1, "message": message})),
            PaymentError::Forbidden(_) => (StatusCode::FORBIDDEN, json!({"code": -1, "message": message})),
            PaymentError::BadRequest(_) => (StatusCode::BAD_REQUEST, json!({"code": -1, "message": message})),
            PaymentError::Conflict(_) => (StatusCode::CONFLICT, json!({"code": -1, "message": message})),
            PaymentError::Declined { reason, transaction_id } => {
                (StatusCode::BAD_REQUEST, json!({"code": reason.code, "message": message, "id": transaction_id}))
            }
            PaymentError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"code": -1, "message": "internal error, check the payment status"}),
            ),
        };
        (status, Json(body)).into_response()
    }
}

/// Status errors keep the status shape: `{"resultCode": "...", "resultMessage": "..."}`.
impl IntoResponse for StatusError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            StatusError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "103", m),
            StatusError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "103", "internal error, retry later".into()),
        };
        (status, Json(json!({"resultCode": code, "resultMessage": message, "transaction": null}))).into_response()
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
        (status, Json(json!({"code": 100, "message": self.to_string()}))).into_response()
    }
}

/// Transfer errors, seed 001: `{"code", "message", "invoiceId", "id", "reference", "accountId"}`.
impl IntoResponse for TransferError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.http_status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({
            "code": self.code,
            "message": self.message,
            "invoiceId": self.invoice_id,
            "id": self.id,
            "reference": "",
            "accountId": self.account_id,
        });
        (status, Json(body)).into_response()
    }
}
