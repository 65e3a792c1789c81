//! Background jobs. Each is safe to run on several nodes at once: the work it claims moves by
//! compare-and-set in the store.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::services::expiry::expire_authorizations;

/// Tells the background jobs to stop after the step they are in (graceful shutdown).
pub type StopSignal = tokio::sync::watch::Receiver<bool>;

/// Waits until `stop` says so (or its sender is gone).
async fn stopped(stop: &mut StopSignal) {
    let _ = stop.wait_for(|stop| *stop).await;
}

pub fn spawn_expiry(app: Arc<App>, mut stop: StopSignal) -> tokio::task::JoinHandle<()> {
    let period = Duration::from_secs(app.config.expiry_interval_secs);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stopped(&mut stop) => return,
            }
            expire_authorizations(&app).await;
            // Learn data keys another node or `epay keys rotate` added.
            if let Err(e) = crate::services::vault::refresh(&app.keys, app.store.as_ref()).await {
                tracing::warn!(error = %e, "re-reading the vault keys failed");
            }
            let purged = crate::services::idempotency::purge_expired(&app).await;
            if purged > 0 {
                tracing::info!(purged, "expired Idempotency-Keys purged");
            }
            let forgotten = crate::services::tokens::purge_spent(&app).await;
            if forgotten > 0 {
                tracing::info!(forgotten, "spent tokens that expired forgotten");
            }
            // Abuse counters' ended windows: counting no longer sweeps them (one statement
            // fewer per counted attempt), so the table is kept small here, on the clock the
            // windows are counted with (a sandbox clock moved ahead ends them sooner).
            if let Err(e) = app.store.purge_abuse_windows(app.clock.now_ms()).await {
                tracing::warn!(error = %e, "forgetting ended abuse-counter windows failed; will retry");
            }
            let failed = crate::services::three_ds_confirm::fail_abandoned(&app).await;
            if failed > 0 {
                tracing::info!(failed, "abandoned 3-D Secure payments failed (877)");
            }
        }
    })
}

/// Charges the subscriptions' due periods (`services::recurrent`), every
/// `expiry_interval_secs` of real time, on the gateway clock (the sandbox clock when moved).
/// Several nodes may run it at once: each period is charged exactly once (see there).
pub fn spawn_scheduler(app: Arc<App>, mut stop: StopSignal) -> tokio::task::JoinHandle<()> {
    let period = Duration::from_secs(app.config.expiry_interval_secs);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stopped(&mut stop) => return,
            }
            let charged = crate::services::recurrent::run_due(&app).await;
            if charged > 0 {
                tracing::info!(charged, "subscription periods charged");
            }
        }
    })
}

/// Delivers due callbacks until `stop`. Each pass claims a bounded batch (one attempt each,
/// leased to this node), sends them concurrently and records every attempt; on stop the batch
/// in flight is finished and recorded first, so no attempt is left half-done.
pub fn spawn_callbacks(app: Arc<App>, mut stop: StopSignal) -> tokio::task::JoinHandle<()> {
    let config = &app.config;
    let deliverer = Arc::new(crate::runtime::delivery::Deliverer::new(
        config.mode,
        Duration::from_millis(config.callback_timeout_ms),
        config.callback_retry_secs.clone(),
        config.node_name(),
        app.clock.clone(),
    ));
    let idle = Duration::from_millis(config.callback_poll_ms);
    // The lease outlives the longest attempt, so a live node never loses its claim mid-send;
    // a node that dies loses it after this long and another node retries.
    let lease_ms = config.callback_timeout_ms as i64 + 30_000;
    let batch = config.callback_concurrency as i64;
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            let now = app.clock.now_ms();
            let events = match app.store.claim_callbacks(now, now + lease_ms, batch).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming callbacks failed; will retry");
                    tokio::select! {
                        _ = tokio::time::sleep(idle) => continue,
                        _ = stopped(&mut stop) => return,
                    }
                }
            };
            if events.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(idle) => continue,
                    _ = stopped(&mut stop) => return,
                }
            }
            let mut sends = tokio::task::JoinSet::new();
            for event in events {
                let deliverer = deliverer.clone();
                let app = app.clone();
                sends.spawn(async move {
                    let secret = app.open_webhook_secret(&event.merchant_id, &event.webhook_secret).await;
                    let (attempt, delivered) = deliverer.attempt(&event, secret.as_ref(), app.clock.now_ms()).await;
                    let done = app.clock.now_ms();
                    app.metrics.observe_delivery(delivered, Duration::from_millis(attempt.latency_ms.max(0) as u64));
                    let next = if delivered {
                        epay_store::CallbackNext::Delivered
                    } else {
                        deliverer.after_failure(attempt.attempt_no, done)
                    };
                    tracing::info!(
                        event_id = %event.id, payment_id = %event.payment_id, attempt = attempt.attempt_no,
                        http_status = ?attempt.http_status, error = %attempt.error, next = ?next, "callback attempt"
                    );
                    if let Err(e) = app.store.record_callback_attempt(&attempt, next, done).await {
                        tracing::error!(error = %e, event_id = %event.id, "recording a callback attempt failed");
                    }
                });
            }
            while sends.join_next().await.is_some() {}
        }
    })
}
