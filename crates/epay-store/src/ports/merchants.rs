//! Merchants and their terminals.
//!
//! Every request reads them and almost nothing writes them, so a running gateway serves the
//! reads below from memory (`sql/config_cache.rs`) while [`MerchantsPort::watch_config`] runs: a
//! change made anywhere (another node, `epay terminal update`, the cabinet, a hand edit) is seen
//! within [`crate::CONFIG_STALENESS`], and one made through this store at once. Reads inside a
//! money transaction do not use these methods: they read the database in the transaction.

use async_trait::async_trait;
use epay_domain::Secret;

use crate::{ConfigCacheStats, Merchant, StoreResult, Terminal};

#[async_trait]
pub trait MerchantsPort: Send + Sync + 'static {
    /// Inserts or updates a merchant and its terminals (seeding, admin).
    async fn upsert_merchant(&self, merchant: &Merchant, terminals: &[Terminal]) -> StoreResult<()>;

    /// Creates or changes one terminal of an existing merchant, leaving the merchant row alone
    /// (so a concurrent secret rotation is never undone).
    async fn upsert_terminal(&self, terminal: &Terminal) -> StoreResult<()>;

    /// Replaces a merchant's client-secret digest or webhook secret (one column each, so two
    /// rotations at once cannot undo each other); false if there is no such merchant.
    async fn set_merchant_secret(&self, merchant_id: &str, secret_digest: &Secret) -> StoreResult<bool>;
    async fn set_webhook_secret(&self, merchant_id: &str, webhook_secret: &Secret) -> StoreResult<bool>;

    async fn merchant_by_client_id(&self, client_id: &str) -> StoreResult<Option<Merchant>>;
    async fn merchant(&self, id: &str) -> StoreResult<Option<Merchant>>;
    async fn terminal(&self, id: &str) -> StoreResult<Option<Terminal>>;
    /// Ids of the terminals that send operation callbacks (for the expiry sweep, which expires
    /// payments of many terminals at once).
    async fn terminals_with_operation_callbacks(&self) -> StoreResult<Vec<String>>;
    async fn terminals_of(&self, merchant_id: &str) -> StoreResult<Vec<Terminal>>;

    /// Starts keeping the in-memory merchants and terminals in step with the database (a
    /// version poll on both backends, LISTEN/NOTIFY on PostgreSQL) until `stop` turns true;
    /// the returned task then ends. Until it has checked the database once, and whenever it
    /// cannot, the reads above go to the database.
    fn watch_config(&self, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()>;

    /// The cache's hit, miss and invalidation counters (for `/metrics`).
    fn config_cache_stats(&self) -> ConfigCacheStats;
}
