//! The callback outbox: events written in the transaction of the change they report, then
//! claimed, delivered and logged by the delivery workers of any node.

use async_trait::async_trait;

use crate::{CallbackAttempt, CallbackEvent, CallbackNext, StoreResult};

#[async_trait]
pub trait CallbackOutbox: Send + Sync + 'static {
    /// Claims up to `limit` due callbacks for one delivery attempt each: their attempt counter
    /// goes up and they are leased until `lease_until_ms`, so no other worker or node sends the
    /// same attempt. PostgreSQL skips rows another node is claiming.
    async fn claim_callbacks(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<CallbackEvent>>;

    /// Records one attempt and what follows from it, in one transaction.
    async fn record_callback_attempt(
        &self,
        attempt: &CallbackAttempt,
        next: CallbackNext,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// Every callback of a payment with its attempts, oldest first.
    async fn callbacks_of(
        &self,
        merchant_id: &str,
        payment_id: &str,
    ) -> StoreResult<Vec<(CallbackEvent, Vec<CallbackAttempt>)>>;

    /// Queues one of the merchant's callbacks again for delivery now; with `terminal_id`, only
    /// one of that terminal's payments (another is "not found", as in its callback log). False
    /// if the merchant has no such event.
    async fn resend_callback(
        &self,
        merchant_id: &str,
        terminal_id: Option<&str>,
        event_id: &str,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Callbacks waiting for delivery (queue depth).
    async fn pending_callbacks(&self) -> StoreResult<i64>;
}
