//! Recurrent agreements of saved cards, and subscriptions. A period's charge is written by
//! `PaymentsPort::record_payment` (its `subscription` field), in the payment's transaction.

use crate::{CardEvent, StoreResult, Subscription, SubscriptionMove, SubscriptionPeriod};
use async_trait::async_trait;

#[async_trait]
pub trait SubscriptionsPort: Send + Sync + 'static {
    /// A saved card's history, oldest first.
    async fn card_events(&self, merchant_id: &str, card_id: &str) -> StoreResult<Vec<CardEvent>>;

    /// True when the card's holder agreed to merchant-initiated repeats.
    async fn recurrent_agreed(&self, merchant_id: &str, card_id: &str) -> StoreResult<bool>;

    /// Inserts a new subscription; `DuplicateInvoice` when its transaction already has one.
    async fn create_subscription(&self, subscription: &Subscription) -> StoreResult<()>;

    async fn subscription(&self, merchant_id: &str, id: &str) -> StoreResult<Option<Subscription>>;

    /// The merchant's subscriptions, newest first (one customer's when `account_id` is not empty).
    async fn subscriptions(&self, merchant_id: &str, account_id: &str, limit: i64) -> StoreResult<Vec<Subscription>>;

    /// A subscription's charges, oldest first.
    async fn subscription_periods(&self, subscription_id: &str) -> StoreResult<Vec<SubscriptionPeriod>>;

    /// Moves a subscription as `change` says (compare-and-set on its status); false if it was
    /// not in `change.from`.
    async fn move_subscription(&self, change: &SubscriptionMove<'_>) -> StoreResult<bool>;

    /// Up to `limit` active subscriptions due at `now_ms`, most overdue first.
    async fn due_subscriptions(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<Subscription>>;

    /// Stops every active or paused subscription of a card (it was deactivated); how many.
    async fn stop_card_subscriptions(&self, merchant_id: &str, card_id: &str, now_ms: i64) -> StoreResult<u64>;
}
