//! The card vault's data keys (envelope encryption): loaded at start, refreshed by the
//! background job so every node learns a rotation, and rotated by `epay keys rotate`, which
//! adds a key, makes it active and reseals every stored card number and webhook signing secret
//! under it in small batches while the gateway keeps running. At start, webhook secrets still in
//! clear (written before they were sealed) are sealed the same way.

use epay_store::{SealedKind, SealedValue, Store, StoreError, VaultKey};

use crate::platform::keys::{KeyError, Keys, Sealing, WrappedKey, V2};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("a stored value ({kind:?}) does not open with any data key ({table}.{column} of {id})")]
    Unreadable { kind: SealedKind, table: String, column: String, id: String },
}

/// How a stored value of `kind` in the row `id` is sealed (see [`Sealing`]).
fn sealing(kind: SealedKind, id: &str) -> Sealing<'_> {
    match kind {
        SealedKind::Pan => Sealing::Pan,
        SealedKind::WebhookSecret => Sealing::WebhookSecret { merchant_id: id },
    }
}

/// Values resealed per batch: short transactions, no long lock on the cards table.
const BATCH: i64 = 200;

fn wrapped(rows: &[VaultKey]) -> Vec<WrappedKey> {
    rows.iter().map(|k| WrappedKey { id: k.id.clone(), wrapped: k.wrapped_key.clone(), active: k.active }).collect()
}

/// Installs the stored data keys, creating the first one on a new database.
pub async fn load(keys: &Keys, store: &dyn Store, now_ms: i64) -> Result<(), VaultError> {
    let mut rows = store.vault_keys().await?;
    if rows.is_empty() {
        let key = keys.new_data_key();
        store
            .add_vault_key(&VaultKey { id: key.id, wrapped_key: key.wrapped, active: true, created_at: now_ms }, true)
            .await?;
        rows = store.vault_keys().await?;
    }
    keys.install_data_keys(&wrapped(&rows))?;
    Ok(())
}

/// Re-reads the data keys (another node or `epay keys rotate` may have added one).
pub async fn refresh(keys: &Keys, store: &dyn Store) -> Result<(), VaultError> {
    let rows = store.vault_keys().await?;
    if !rows.is_empty() {
        keys.install_data_keys(&wrapped(&rows))?;
    }
    Ok(())
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub new_key: String,
    pub resealed: Resealed,
}

/// How many stored values were sealed anew, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    pub card_numbers: usize,
    pub webhook_secrets: usize,
}

impl Resealed {
    fn count(&mut self, kind: SealedKind) {
        match kind {
            SealedKind::Pan => self.card_numbers += 1,
            SealedKind::WebhookSecret => self.webhook_secrets += 1,
        }
    }
}

/// Adds a new active data key and reseals every stored card number and webhook secret under it.
pub async fn rotate(keys: &Keys, store: &dyn Store, now_ms: i64) -> Result<Rotation, VaultError> {
    refresh(keys, store).await?;
    let key = keys.new_data_key();
    let new_key = key.id.clone();
    store
        .add_vault_key(&VaultKey { id: key.id, wrapped_key: key.wrapped, active: true, created_at: now_ms }, true)
        .await?;
    refresh(keys, store).await?;
    let resealed = reseal_all(keys, store).await?;
    Ok(Rotation { new_key, resealed })
}

/// Reseals, under the active data key, every sealed value under another key (or none).
pub async fn reseal_all(keys: &Keys, store: &dyn Store) -> Result<Resealed, VaultError> {
    let Some(active) = keys.active_data_key() else { return Ok(Resealed::default()) };
    reseal(keys, store, SealedKind::ALL, &format!("{V2}{active}.")).await
}

/// Seals the webhook secrets still stored in clear (rows from before secrets were sealed), so
/// an existing database is upgraded at start without an operator step. Idempotent, and safe
/// with several nodes starting at once: each row is replaced by compare-and-set, so the first
/// node seals it and the others find nothing left.
pub async fn seal_clear_secrets(keys: &Keys, store: &dyn Store) -> Result<usize, VaultError> {
    Ok(reseal(keys, store, &[SealedKind::WebhookSecret], V2).await?.webhook_secrets)
}

/// Seals anew, under the active data key, every stored value of `kinds` not starting with
/// `prefix`.
async fn reseal(keys: &Keys, store: &dyn Store, kinds: &[SealedKind], prefix: &str) -> Result<Resealed, VaultError> {
    let mut resealed = Resealed::default();
    loop {
        let batch = store.sealed_values_not_under(kinds, prefix, BATCH).await?;
        if batch.is_empty() {
            return Ok(resealed);
        }
        let mut progressed = false;
        for value in batch {
            // A value changed meanwhile (a payment sealed it anew, a secret was rotated) is
            // picked up by the next batch.
            if store.reseal(&value, &seal_anew(keys, &value)?).await? {
                resealed.count(value.column.kind);
                progressed = true;
            }
        }
        if !progressed {
            tokio::task::yield_now().await;
        }
    }
}

fn seal_anew(keys: &Keys, value: &SealedValue) -> Result<String, VaultError> {
    let what = sealing(value.column.kind, &value.id);
    let plain = keys.open(what, &value.ciphertext).ok_or_else(|| VaultError::Unreadable {
        kind: value.column.kind,
        table: value.column.table.to_string(),
        column: value.column.column.to_string(),
        id: value.id.clone(),
    })?;
    Ok(keys.seal(what, &plain)?)
}
