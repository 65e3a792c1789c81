//! The card vault's keys, the sealed values they protect, and the saved cards.

use async_trait::async_trait;

use crate::{SavedCard, SealedKind, SealedValue, StoreResult, VaultKey};

#[async_trait]
pub trait VaultPort: Send + Sync + 'static {
    /// The card vault's data keys, oldest first.
    async fn vault_keys(&self) -> StoreResult<Vec<VaultKey>>;

    /// Adds a data key; when `make_active`, it becomes the only active one (one transaction).
    async fn add_vault_key(&self, key: &VaultKey, make_active: bool) -> StoreResult<()>;

    /// Up to `limit` stored values (non-empty) of the sealed columns holding `kinds` that do not
    /// start with `prefix`.
    async fn sealed_values_not_under(
        &self,
        kinds: &[SealedKind],
        prefix: &str,
        limit: i64,
    ) -> StoreResult<Vec<SealedValue>>;

    /// Replaces one sealed value if it is still `value.ciphertext` (compare-and-set, so a
    /// concurrent change wins); false if it changed meanwhile.
    async fn reseal(&self, value: &SealedValue, ciphertext: &str) -> StoreResult<bool>;

    async fn saved_card(&self, merchant_id: &str, card_id: &str) -> StoreResult<Option<SavedCard>>;

    /// Active saved cards of one customer of a merchant.
    async fn saved_cards(&self, merchant_id: &str, account_id: &str) -> StoreResult<Vec<SavedCard>>;

    /// Deactivates a saved card; false if the merchant has no such active card.
    async fn deactivate_card(&self, merchant_id: &str, card_id: &str) -> StoreResult<bool>;

    /// The merchant's active saved cards, newest first; one customer's when `account_id` is
    /// not empty.
    async fn merchant_saved_cards(
        &self,
        merchant_id: &str,
        account_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<SavedCard>>;
}
