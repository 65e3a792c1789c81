//! Expiry of held authorizations: an AUTH older than its terminal's hold period becomes
//! CANCEL_OLD. The expiry worker runs it on a timer; the sandbox clock route runs it at once
//! after moving the clock.

use std::collections::HashSet;

use crate::app::App;
use crate::services::callbacks;

/// Authorizations expired per sweep; a bounded batch keeps each transaction short.
const EXPIRY_BATCH: i64 = 200;

/// Moves every AUTH older than its terminal's hold period to CANCEL_OLD, in bounded batches.
/// Returns how many expired.
pub async fn expire_authorizations(app: &App) -> usize {
    let mut total = 0;
    // The terminals whose merchants asked for operation callbacks (none unless the operator
    // allows them at all); read once per sweep: a setting changed meanwhile applies next sweep.
    let announcing: HashSet<String> = if app.config.operation_callbacks {
        match app.store.terminals_with_operation_callbacks().await {
            Ok(ids) => ids.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading terminal settings failed; expiry will retry");
                return 0;
            }
        }
    } else {
        HashSet::new()
    };
    // Bounded: at most 50 batches per sweep; the next sweep picks up the rest.
    for _ in 0..50 {
        let callback = |p: &epay_store::Payment| {
            announcing
                .contains(&p.terminal_id)
                .then(|| callbacks::for_operation(p, epay_domain::Operation::Expire, p.amount_minor))
                .flatten()
        };
        match app.store.expire_authorizations(app.clock.now_ms(), EXPIRY_BATCH, &callback).await {
            Ok(expired) => {
                for p in &expired {
                    app.metrics.observe_outcome(p);
                    tracing::info!(payment_id = %p.id, invoice_id = %p.invoice_id, "authorization expired: CANCEL_OLD");
                }
                total += expired.len();
                if (expired.len() as i64) < EXPIRY_BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "expiry sweep failed; will retry");
                break;
            }
        }
    }
    total
}
