//! Background jobs. Each is safe to run on several nodes at once: the work it claims moves by
//! compare-and-set in the store.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;

/// Authorizations expired per sweep; a bounded batch keeps each transaction short.
const EXPIRY_BATCH: i64 = 200;

/// Moves every AUTH older than its terminal's hold period to CANCEL_OLD, in bounded batches.
/// Returns how many expired.
pub async fn expire_authorizations(app: &App) -> usize {
    let mut total = 0;
    // Bounded: at most 50 batches per sweep; the next sweep picks up the rest.
    for _ in 0..50 {
        match app.store.expire_authorizations(app.clock.now_ms(), EXPIRY_BATCH).await {
            Ok(expired) => {
                for p in &expired {
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

pub fn spawn_expiry(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    let period = Duration::from_secs(app.config.expiry_interval_secs);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            expire_authorizations(&app).await;
        }
    })
}
