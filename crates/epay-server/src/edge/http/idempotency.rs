//! The `Idempotency-Key` header on every POST of the API: the same key with the same request
//! replays the stored answer (status and body); the same key with a different request is an
//! error. The token endpoint is excluded: its response is a bearer token, which we never store
//! in clear.
//!
//! How a key stays correct through crashes and clients that leave (issue 15, item 7):
//! - The key is *leased* to the running request (an owner id and an end), not reserved for ever.
//! - Its answer is committed by the store write it guards, in the same transaction (see
//!   `services::idempotency`): a payment, a transfer, a charge/cancel/refund. A request that
//!   writes nothing stores nothing, and its key is freed when it ends.
//! - The request runs in its own task, so it finishes (and commits or frees its key) even when
//!   the client disconnects and axum drops the handler: the client's retry then replays the
//!   answer. Only a node that dies mid-request leaves a lease behind; it ends after
//!   `idempotency_lease_secs`, and as nothing was committed, the key runs anew.
//! - Keys live 24 h after first use ([`idempotency::TTL_MS`]), then are free again and purged.
//! - Only a request with a valid bearer token is tracked, so unauthenticated requests store
//!   nothing. Keys are scoped to the merchant and to what the token is bound to (terminal,
//!   invoice): a client that refreshes its token still gets its answer replayed.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use epay_store::{IdempotencyClaim, IdempotencyState, StoredAnswer, TokenRecord};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::task::{Context, Poll, Waker};

use crate::app::AppState;
use crate::services::idempotency::{self, Lease, Replayable};
use crate::services::operations::Applied;

const HEADER: &str = "idempotency-key";
/// Requests and responses larger than this are not idempotency-tracked bodies we accept.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The layer's own refusals, in the shape of the surface they answer for: the transfer endpoints'
/// (seed 001), else `{"code": -1, "message": …}`.
fn error(path: &str, status: StatusCode, message: &str) -> Response {
    if path.ends_with("/transfer") {
        return super::errors::transfer_refusal(status, message);
    }
    (status, Json(json!({"code": -1, "message": message}))).into_response()
}

/// `key` if it is 1 to 255 visible ASCII characters.
fn valid_key(key: &HeaderValue) -> Option<String> {
    let key = key.to_str().ok()?;
    (!key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic())).then(|| key.to_string())
}

/// The key in its scope: the merchant and what the token is bound to, so two merchants, two
/// shoppers' invoice-bound tokens, or two customers' (or transfer kinds') tokens that pick the
/// same key never meet.
fn scoped_key(token: &TokenRecord, key: &str) -> String {
    let mut scope = Sha256::new();
    let mut add = |part: &[u8]| {
        scope.update((part.len() as u64).to_be_bytes());
        scope.update(part);
    };
    for part in [Some(token.merchant_id.as_str()), token.terminal_id.as_deref(), token.invoice_id.as_deref()] {
        add(part.unwrap_or_default().as_bytes());
    }
    // Added only when the token has them, so a key stored before they counted (every service
    // token's) keeps its scope across an upgrade and a retry still finds its first answer.
    if let Some(account) = &token.account_id {
        add(b"account");
        add(account.as_bytes());
    }
    if let Some(kind) = token.transfer_kind {
        add(b"transfer-kind");
        add(kind.as_str().as_bytes());
    }
    format!("{}:{key}", &hex::encode(scope.finalize())[..32])
}

/// The request is identified by everything that makes it what it is: method, path and query,
/// and its body (the credentials are the key's scope).
fn request_digest(parts: &Parts, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [parts.method.as_str().as_bytes(), parts.uri.to_string().as_bytes(), body] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if request.method() != Method::POST || path.ends_with("/oauth2/token") {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let Some(key) = valid_key(key) else {
        return error(&path, StatusCode::BAD_REQUEST, "Idempotency-Key must be 1 to 255 visible ASCII characters");
    };
    // A request without a valid bearer token is answered by its endpoint (401) and its key is
    // never stored: strangers cannot fill the table.
    let header = super::caller::authorization(request.headers());
    let Ok(token) = super::caller::authenticate(&app, header).await else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return error(&path, StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    };
    let now = app.clock.now_ms();
    let real_now = app.clock.real_now_ms();
    let claim = IdempotencyClaim {
        scope_key: scoped_key(&token, &key),
        request_digest: request_digest(&parts, &body),
        owner: uuid::Uuid::new_v4().to_string(),
        now_ms: now,
        lease_now_ms: real_now,
        lease_until_ms: real_now + app.config.idempotency_lease_secs as i64 * 1000,
        expired_before_ms: now - idempotency::TTL_MS,
    };
    // Its own task, from the lease on: when the client goes away axum drops this future, but
    // the request still runs to its end, commits its answer or frees the key, and the client's
    // retry learns the outcome instead of finding the key blocked.
    let request = Request::from_parts(parts, Body::from(body));
    let keyed = tokio::spawn(run_keyed(app, claim, path.clone(), request, next));
    keyed.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a keyed request failed");
        error(&path, StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    })
}

/// Leases the key and runs the request under it, or answers what an earlier use left.
async fn run_keyed(app: AppState, claim: IdempotencyClaim, path: String, request: Request, next: Next) -> Response {
    match app.store.idempotency_begin(&claim).await {
        Ok(IdempotencyState::Reserved) => {}
        Ok(IdempotencyState::Completed { status, body }) => return replay(status, body),
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
    let lease = Lease { scope_key: claim.scope_key, owner: claim.owner };
    // The handler in a task of its own, so that even its panic frees the key.
    let handled = tokio::spawn(idempotency::serve(lease.clone(), next.run(request))).await;
    // Whatever committed no answer under the key (a refusal, bad input, an error) frees it.
    if let Err(e) = app.store.idempotency_release(&lease.scope_key, &lease.owner).await {
        tracing::error!(error = %e, "freeing an Idempotency-Key failed; it is free when its lease ends");
    }
    handled.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a keyed request failed");
        error(&path, StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    })
}

/// The answer of an API handler: the service's answer as JSON, or its error in the surface's
/// shape (`super::errors`). What a keyed payment or transfer commits is made by this same
/// function.
pub(crate) fn json_or_error<T: Serialize, E: IntoResponse>(answer: Result<T, E>) -> Response {
    match answer {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A payment's or a transfer's answer, or its decline, as committed with its write.
impl<T: Serialize, E: IntoResponse> Replayable for Result<T, E> {
    fn stored(self) -> StoredAnswer {
        stored(json_or_error(self))
    }
}

/// A charge, cancel or refund that was applied.
impl Replayable for Applied {
    fn stored(self) -> StoredAnswer {
        stored(super::operations::success_answer())
    }
}

/// The status and body of a response whose body is already in memory (`Json`, text), read
/// without awaiting: the store calls this inside its transaction.
fn stored(response: Response) -> StoredAnswer {
    let status = response.status().as_u16();
    let mut body = std::pin::pin!(to_bytes(response.into_body(), StoredAnswer::MAX_BODY_BYTES));
    match body.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(bytes)) => StoredAnswer::new(status, String::from_utf8_lossy(&bytes).into_owned()),
        // Larger than we keep (or, never here, a streamed body).
        _ => StoredAnswer::too_large(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> serde_json::Value {
        serde_json::from_slice(&to_bytes(response.into_body(), 4096).await.unwrap()).unwrap()
    }

    /// A key's scope is what the token binds: another customer's or another transfer kind's
    /// token with the same key never meets it, and a service token's scope is what it was
    /// before those counted (a key stored then still replays).
    #[test]
    fn the_scope_follows_the_tokens_binding() {
        let service = TokenRecord { terminal_id: Some("t".into()), ..crate::testing::bare_token() };
        let mut before = Sha256::new();
        for part in ["m", "t", ""] {
            before.update((part.len() as u64).to_be_bytes());
            before.update(part.as_bytes());
        }
        assert_eq!(scoped_key(&service, "k"), format!("{}:k", &hex::encode(before.finalize())[..32]));
        let alice = TokenRecord { account_id: Some("alice".into()), ..service.clone() };
        let bob = TokenRecord { account_id: Some("bob".into()), ..service.clone() };
        let oct = TokenRecord { transfer_kind: Some(epay_domain::TransferKind::Oct), ..service.clone() };
        let keys = [&service, &alice, &bob, &oct].map(|t| scoped_key(t, "k"));
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
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

    #[test]
    fn a_buffered_answer_is_stored_as_sent_and_a_huge_one_as_a_note() {
        let answer = stored((StatusCode::BAD_REQUEST, Json(json!({"code": 1}))).into_response());
        assert_eq!(answer, StoredAnswer { status: 400, body: r#"{"code":1}"#.into() });
        let huge = stored(Json("x".repeat(StoredAnswer::MAX_BODY_BYTES * 2)).into_response());
        assert_eq!(huge, StoredAnswer::too_large(200));
        assert!(huge.body.len() < 200);
    }

    /// What a keyed request commits is what its handler answers.
    #[test]
    fn the_stored_answer_is_the_handlers_answer() {
        use crate::services::payments::PaymentError;
        let declined: Result<(), _> = Err(PaymentError::BadRequest("field amount is required".into()));
        assert_eq!(
            declined.stored(),
            StoredAnswer { status: 400, body: r#"{"code":-1,"message":"field amount is required"}"#.into() }
        );
        assert_eq!(Ok::<_, PaymentError>(json!({"id": "p"})).stored(), StoredAnswer::new(200, r#"{"id":"p"}"#.into()));
        assert_eq!(Applied.stored(), StoredAnswer::new(200, r#"{"code":0,"message":""}"#.into()));
    }
}
