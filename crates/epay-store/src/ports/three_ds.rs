//! 3-D Secure challenges: their sessions, their answers, and the end of a payment that waited
//! for one.

use async_trait::async_trait;
use epay_domain::ThreeDsState;

use crate::{CallbackBuilder, Payment, StoreResult, ThreeDsFinish, ThreeDsSession};

/// A wrong one-time code, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongCode {
    /// Wrong codes so far, this one included.
    pub failures: i32,
    /// Whether this one reached the limit and failed the challenge.
    pub failed: bool,
}

#[async_trait]
pub trait ThreeDsPort: Send + Sync + 'static {
    async fn three_ds_session(&self, id: &str) -> StoreResult<Option<ThreeDsSession>>;
    async fn three_ds_session_by_server_id(&self, server_trans_id: &str) -> StoreResult<Option<ThreeDsSession>>;
    /// The latest 3-D Secure session of one of the merchant's payments.
    async fn three_ds_session_of(&self, merchant_id: &str, payment_id: &str) -> StoreResult<Option<ThreeDsSession>>;

    /// Records the challenge's result (`pending` → `passed`/`failed`/`cancelled`); false if the
    /// challenge was already answered.
    async fn answer_three_ds(&self, id: &str, state: ThreeDsState, reason_code: i32, now_ms: i64) -> StoreResult<bool>;

    /// Counts one wrong one-time code on a waiting challenge and, at the `limit`-th, fails it
    /// with `reason_code` — in one statement, so parallel wrong answers are counted one by one
    /// and none gets past the limit. `None` if the challenge is not waiting any more.
    async fn wrong_three_ds_code(
        &self,
        id: &str,
        limit: i32,
        reason_code: i32,
        now_ms: i64,
    ) -> StoreResult<Option<WrongCode>>;

    /// Ends a 3D payment in one transaction: the session moves to `confirmed` and the payment
    /// from `3D` to its final status (by compare-and-set, so a replayed confirm does nothing),
    /// with its money, saved card and callback. `AlreadyConfirmed` if already finished.
    /// A declined end frees the invoice and the token for another attempt.
    async fn finish_three_ds(&self, finish: ThreeDsFinish, callback: CallbackBuilder<'_>) -> StoreResult<Payment>;

    /// 3D payments started before `older_than_ms` whose challenge never ended.
    async fn abandoned_three_ds(&self, older_than_ms: i64, limit: i64) -> StoreResult<Vec<ThreeDsSession>>;
}
