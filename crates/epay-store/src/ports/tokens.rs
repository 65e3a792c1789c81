//! Spent access tokens, Idempotency-Keys and abuse counters: what guards requests before any
//! money moves. Access tokens themselves are sealed by the gateway and never stored; only their
//! spending is (table `spent_tokens`).

use async_trait::async_trait;

use crate::{AbuseWindow, IdempotencyClaim, IdempotencyState, StoreResult};

#[async_trait]
pub trait TokensPort: Send + Sync + 'static {
    /// When the token `token_id` was spent, if it was.
    async fn token_spent_at(&self, token_id: &str) -> StoreResult<Option<i64>>;
    /// Marks a token used, so it authorises nothing more; false if it already was. Remembered
    /// until `expires_at` (the token's expiry), after which the token authorises nothing anyway.
    async fn spend_token(&self, token_id: &str, expires_at: i64, now_ms: i64) -> StoreResult<bool>;
    /// Forgets up to `limit` spent tokens that expired at or before `now_ms`; how many.
    async fn purge_spent_tokens(&self, now_ms: i64, limit: i64) -> StoreResult<u64>;

    /// Leases the claim's key to its request, or reports what an earlier use left. An expired
    /// key, or one whose lease ended without an answer (its request crashed), is free again.
    async fn idempotency_begin(&self, claim: &IdempotencyClaim) -> StoreResult<IdempotencyState>;
    /// Ends `owner`'s lease on `key` if no answer was committed under it: the key is free again.
    async fn idempotency_release(&self, key: &str, owner: &str) -> StoreResult<()>;
    /// Deletes up to `limit` keys first used at or before `expired_before_ms`; how many.
    async fn purge_idempotency_keys(&self, expired_before_ms: i64, limit: i64) -> StoreResult<u64>;

    // Abuse counters (table abuse_counters), shared by every node on one database.

    /// The windows open at `now_ms` among `keys`, with their keys, in one read (a request's
    /// keys are checked together: one round trip however many it counts against). A key with
    /// no open window is left out.
    async fn abuse_windows(&self, keys: &[&str], now_ms: i64) -> StoreResult<Vec<(String, AbuseWindow)>>;
    /// Counts one failure of `key` in one statement: a window that ended starts again at
    /// `now_ms` for `window_ms`. With `below`, the failure is counted only while the window holds
    /// fewer than `below` (a reservation: concurrent callers cannot all slip under the limit);
    /// otherwise `counted` is false and nothing changes.
    async fn abuse_count(&self, key: &str, window_ms: i64, now_ms: i64, below: Option<i64>)
        -> StoreResult<AbuseWindow>;
    /// Counts one failure of each `(key, window_ms)` (a key named twice counts twice), with no
    /// ceiling, in one upsert: what [`Self::abuse_count`] without `below` does to one key, done
    /// to all of them at once.
    async fn abuse_count_all(&self, keys: &[(&str, i64)], now_ms: i64) -> StoreResult<()>;
    /// Forgets every window that ended at or before `now_ms`; how many. A background job's
    /// (every `expiry_interval_secs`), not each count's: an ended window is never read
    /// (`abuse_windows`) and restarts when its key fails again (`abuse_count`), so sweeping
    /// only bounds the table, and a count need not pay a statement for it.
    async fn purge_abuse_windows(&self, now_ms: i64) -> StoreResult<u64>;
    /// Forgets `key`'s window (a success that clears earlier failures).
    async fn abuse_clear(&self, key: &str) -> StoreResult<()>;
}
