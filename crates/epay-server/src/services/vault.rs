//! The card vault's data keys (envelope encryption): loaded at start, refreshed by the
//! background job so every node learns a rotation, and rotated by `epay keys rotate`, which
//! adds a key, makes it active and reseals every stored card number under it in small batches
//! while the gateway keeps running.

use epay_store::{Store, StoreError, VaultKey};

use crate::keys::{KeyError, Keys, WrappedKey};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("a stored card number does not open with any data key ({table}.{column} of {id})")]
    Unreadable { table: String, column: String, id: String },
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
    pub resealed: usize,
}

/// Adds a new active data key and reseals every stored card number under it.
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

/// Reseals, under the active data key, every card number sealed under another key (or none).
pub async fn reseal_all(keys: &Keys, store: &dyn Store) -> Result<usize, VaultError> {
    let Some(active) = keys.active_data_key() else { return Ok(0) };
    let prefix = format!("v2.{active}.");
    let mut resealed = 0;
    loop {
        let batch = store.sealed_values_not_under(&prefix, BATCH).await?;
        if batch.is_empty() {
            return Ok(resealed);
        }
        let mut progressed = false;
        for value in batch {
            let pan = keys.open_pan(&value.ciphertext).ok_or_else(|| VaultError::Unreadable {
                table: value.table.to_string(),
                column: value.column.to_string(),
                id: value.id.clone(),
            })?;
            // A value changed meanwhile (a payment sealed it anew) is picked up by the next batch.
            if store.reseal(&value, &keys.seal_pan(&pan)).await? {
                resealed += 1;
                progressed = true;
            }
        }
        if !progressed {
            tokio::task::yield_now().await;
        }
    }
}
