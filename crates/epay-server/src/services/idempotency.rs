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

/// An answer a keyed request commits, as its surface words it: the HTTP status and the body the
/// client was sent. A service records what happened (its answer value or its error); the surface
/// implements this for it (`edge::http::idempotency`), with the same function it answers with,
/// so a replay is byte for byte the first answer and no service knows the wire.
pub trait Replayable {
    fn stored(self) -> StoredAnswer;
}

/// The record a store write commits for the current request's key, if it has one. `answer`
/// makes the request's answer from the payment as it commits.
pub fn record<R: Replayable>(answer: impl Fn(&Payment) -> R + Send + Sync + 'static) -> Option<IdempotencyRecord> {
    LEASE
        .try_with(|lease| IdempotencyRecord {
            scope_key: lease.scope_key.clone(),
            owner: lease.owner.clone(),
            answer: Arc::new(move |p| answer(p).stored()),
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Done;

    impl Replayable for Done {
        fn stored(self) -> StoredAnswer {
            StoredAnswer::new(200, "{}".into())
        }
    }

    #[tokio::test]
    async fn only_a_request_served_with_a_lease_gets_a_record() {
        assert!(record(|_| Done).is_none());
        let lease = Lease { scope_key: "s:k".into(), owner: "o".into() };
        let inside = serve(lease, async { record(|_| Done) }).await.expect("a record");
        assert_eq!((inside.scope_key.as_str(), inside.owner.as_str()), ("s:k", "o"));
        assert_eq!((inside.answer)(&Payment::default()), StoredAnswer { status: 200, body: "{}".into() });
    }
}
