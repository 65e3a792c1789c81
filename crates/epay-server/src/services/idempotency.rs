//! The Idempotency-Key lease of the request being served, and the answer it commits.
//!
//! The HTTP layer leases the key and runs the request inside [`serve`]; the service whose store
//! write the key guards (a payment, a transfer, a charge/cancel/refund) asks [`record`] for the
//! record to put in that write, so the answer commits in the same transaction as the money. A
//! request that writes nothing (bad input, a refusal, an error) commits no answer: the layer
//! then frees the key. The lease travels with the request's task, like a tracing span, so the
//! services that other surfaces share (the payment page, the cabinet) need no extra argument:
//! outside [`serve`] there is no lease and [`record`] answers `None`.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use axum::response::{IntoResponse, Response};
use epay_store::{IdempotencyRecord, Payment, StoredAnswer};

/// How long a key is kept after its first use: 24 hours. Then it is free again, and the
/// background job purges it.
pub const TTL_MS: i64 = 24 * 3600 * 1000;
/// Keys purged per statement; a bounded batch keeps each transaction short.
const PURGE_BATCH: i64 = 1000;

/// Deletes the keys older than [`TTL_MS`] (bounded per run); how many.
pub async fn purge_expired(app: &crate::app::App) -> u64 {
    let expired_before = app.clock.now_ms() - TTL_MS;
    let mut total = 0;
    // At most 50 batches per sweep; the next sweep picks up the rest.
    for _ in 0..50 {
        match app.store.purge_idempotency_keys(expired_before, PURGE_BATCH).await {
            Ok(purged) => {
                total += purged;
                if (purged as i64) < PURGE_BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "purging expired Idempotency-Keys failed; will retry");
                break;
            }
        }
    }
    total
}

/// A key as leased to one request.
#[derive(Debug, Clone)]
pub struct Lease {
    pub scope_key: String,
    pub owner: String,
}

tokio::task_local! {
    static LEASE: Lease;
}

/// Runs `request` with `lease` as its Idempotency-Key.
pub async fn serve<F: Future>(lease: Lease, request: F) -> F::Output {
    LEASE.scope(lease, request).await
}

/// The record a store write commits for the current request's key, if it has one. `answer`
/// renders the HTTP answer from the payment as it commits: the same function the handler
/// answers with, so a replay is byte for byte what the first client was sent.
pub fn record<R: IntoResponse>(answer: impl Fn(&Payment) -> R + Send + Sync + 'static) -> Option<IdempotencyRecord> {
    LEASE
        .try_with(|lease| IdempotencyRecord {
            scope_key: lease.scope_key.clone(),
            owner: lease.owner.clone(),
            answer: Arc::new(move |p| stored(answer(p).into_response())),
        })
        .ok()
}

/// The status and body of a response whose body is already in memory (`Json`, text), read
/// without awaiting: the store calls this inside its transaction.
fn stored(response: Response) -> StoredAnswer {
    let status = response.status().as_u16();
    let mut body = std::pin::pin!(axum::body::to_bytes(response.into_body(), StoredAnswer::MAX_BODY_BYTES));
    match body.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(bytes)) => StoredAnswer::new(status, String::from_utf8_lossy(&bytes).into_owned()),
        // Larger than we keep (or, never here, a streamed body).
        _ => StoredAnswer::too_large(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::Json;

    #[test]
    fn a_buffered_answer_is_stored_as_sent_and_a_huge_one_as_a_note() {
        let answer = stored((StatusCode::BAD_REQUEST, Json(serde_json::json!({"code": 1}))).into_response());
        assert_eq!(answer, StoredAnswer { status: 400, body: r#"{"code":1}"#.into() });
        let huge = stored(Json("x".repeat(StoredAnswer::MAX_BODY_BYTES * 2)).into_response());
        assert_eq!(huge, StoredAnswer::too_large(200));
        assert!(huge.body.len() < 200);
    }

    #[tokio::test]
    async fn only_a_request_served_with_a_lease_gets_a_record() {
        assert!(record(|_| StatusCode::OK).is_none());
        let lease = Lease { scope_key: "s:k".into(), owner: "o".into() };
        let inside = serve(lease, async { record(|_| StatusCode::OK) }).await.expect("a record");
        assert_eq!((inside.scope_key.as_str(), inside.owner.as_str()), ("s:k", "o"));
    }
}
