//! The merchant cabinet: its users and sessions, and what it shows. Every query about payments
//! takes the signed-in merchant's id, so another merchant's ids answer "not found".

use async_trait::async_trait;

use crate::{
    CabinetSession, CabinetUser, DailyStat, MerchantPurge, PaymentEvent, PaymentFilter, PaymentPage, PurgeOutcome,
    StoreResult,
};

#[async_trait]
pub trait CabinetPort: Send + Sync + 'static {
    /// Creates a cabinet user unless one with this e-mail exists; true if created.
    async fn insert_cabinet_user(&self, user: &CabinetUser) -> StoreResult<bool>;
    async fn cabinet_user_by_email(&self, email: &str) -> StoreResult<Option<CabinetUser>>;
    /// Removes a merchant and every cabinet user with `cabinet_email`, in one transaction (see
    /// [`MerchantPurge`]).
    async fn purge_merchant(&self, purge: &MerchantPurge) -> StoreResult<PurgeOutcome>;
    /// Stores a new session (and drops sessions that expired before `now_ms`).
    async fn insert_cabinet_session(&self, session: &CabinetSession, now_ms: i64) -> StoreResult<()>;
    /// A session by the digest of its id, if it has not expired at `now_ms`.
    async fn cabinet_session(&self, id_digest: &str, now_ms: i64) -> StoreResult<Option<CabinetSession>>;
    async fn delete_cabinet_session(&self, id_digest: &str) -> StoreResult<()>;

    /// One page (newest first) of the merchant's transactions matching `filter`, with the total.
    async fn search_payments(
        &self,
        merchant_id: &str,
        filter: &PaymentFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<PaymentPage>;
    /// Attempts, approvals and approved volume per terminal and day since `since_ms`; days
    /// start at midnight of the zone `utc_offset_ms` east of UTC.
    async fn daily_stats(&self, merchant_id: &str, since_ms: i64, utc_offset_ms: i64) -> StoreResult<Vec<DailyStat>>;
    /// The status history of one of the merchant's payments, oldest first.
    async fn payment_events(&self, merchant_id: &str, payment_id: &str) -> StoreResult<Vec<PaymentEvent>>;
}
