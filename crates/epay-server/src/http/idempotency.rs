//! The `Idempotency-Key` header on every POST of the API: the same key with the same request
//! replays the stored response (status and body); the same key with a different request is an
//! error. The token endpoint is excluded: its response is a bearer token, which we never store
//! in clear.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use epay_store::IdempotencyState;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::services::transfers::TransferError;

const HEADER: &str = "idempotency-key";
/// Requests and responses larger than this are not idempotency-tracked bodies we accept.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The layer's own refusals, in the shape of the surface they answer for: the transfer endpoints'
/// (seed 001), else `{"code": -1, "message": …}`.
fn error(path: &str, status: StatusCode, message: &str) -> Response {
    if path.ends_with("/transfer") {
        return TransferError::new(status.as_u16(), -1, message).into_response();
    }
    (status, Json(json!({"code": -1, "message": message}))).into_response()
}

pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if request.method() != Method::POST || path.ends_with("/oauth2/token") {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => k.to_string(),
        _ => return error(&path, StatusCode::BAD_REQUEST, "Idempotency-Key must be 1 to 255 visible ASCII characters"),
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return error(&path, StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    };
    // The request is identified by everything that makes it what it is: method, path and query,
    // the credentials it carries, and its body.
    let mut hasher = Sha256::new();
    for part in [
        parts.method.as_str().as_bytes(),
        parts.uri.to_string().as_bytes(),
        parts.headers.get("authorization").map(HeaderValue::as_bytes).unwrap_or_default(),
        &body,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hex::encode(hasher.finalize());
    // Keys are the client's: scope them by its credentials, so two merchants that pick the
    // same key never meet.
    let credentials = parts.headers.get("authorization").map(HeaderValue::as_bytes).unwrap_or_default();
    let key = format!("{}:{key}", &hex::encode(Sha256::digest(credentials))[..32]);
    let now = app.clock.now_ms();
    match app.store.idempotency_begin(&key, &digest, now).await {
        Ok(IdempotencyState::Reserved) => {}
        Ok(IdempotencyState::Completed { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, body).into_response();
            response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
            response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
        Ok(IdempotencyState::Mismatch) => {
            return error(
                &path,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Idempotency-Key was already used with a different request; use a new key",
            )
        }
        Ok(IdempotencyState::InProgress) => {
            return error(
                &path,
                StatusCode::CONFLICT,
                "a request with this Idempotency-Key is in progress; retry later",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "idempotency lookup failed");
            return error(&path, StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.unwrap_or_default();
    let stored = if parts.status.is_server_error() {
        // A 5xx is not an answer: free the key so the client's retry runs the request again.
        app.store.idempotency_release(&key).await
    } else {
        app.store.idempotency_complete(&key, parts.status.as_u16(), &String::from_utf8_lossy(&bytes)).await
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "storing the idempotent response failed");
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> serde_json::Value {
        serde_json::from_slice(&to_bytes(response.into_body(), 4096).await.unwrap()).unwrap()
    }

    /// Found by scripts/api-fuzz: a bad Idempotency-Key on a transfer endpoint was answered
    /// `{code, message}`, not the transfer endpoints' documented shape.
    #[tokio::test]
    async fn refusals_take_the_shape_of_their_surface() {
        for path in ["/p2p/transfer", "/api/chdebit/transfer", "/chpayment/transfer"] {
            let response = error(path, StatusCode::BAD_REQUEST, "bad key");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            let body = body(response).await;
            for field in ["code", "message", "invoiceId", "id", "reference", "accountId"] {
                assert!(body.get(field).is_some(), "{path}: {field} missing in {body}");
            }
        }
        let body = body(error("/payment/cryptopay", StatusCode::CONFLICT, "in progress")).await;
        assert_eq!(body, json!({"code": -1, "message": "in progress"}));
    }
}
