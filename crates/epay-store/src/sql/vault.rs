//! The card vault's keys and sealed values, and the saved cards.

use async_trait::async_trait;
use sqlx::Row;

use super::{inline_reads, Backend, RowsAffected, SqlStore};
use crate::model::*;
use crate::ports::VaultPort;
use crate::{StoreError, StoreResult};

#[async_trait]
impl<DB: Backend> VaultPort for SqlStore<DB> {
    async fn vault_keys(&self) -> StoreResult<Vec<VaultKey>> {
        Ok(sqlx::query_as("SELECT * FROM vault_keys ORDER BY created_at, id").fetch_all(&self.reads).await?)
    }

    async fn add_vault_key(&self, key: &VaultKey, make_active: bool) -> StoreResult<()> {
        let mut tx = self.begin_unit().await?;
        if make_active {
            sqlx::query("UPDATE vault_keys SET active = FALSE WHERE active").execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO vault_keys (id, wrapped_key, active, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.id)
            .bind(&key.wrapped_key)
            .bind(make_active)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sealed_values_not_under(
        &self,
        kinds: &[SealedKind],
        prefix: &str,
        limit: i64,
    ) -> StoreResult<Vec<SealedValue>> {
        let mut out = Vec::new();
        for sealed in SEALED_COLUMNS.iter().filter(|c| kinds.contains(&c.kind)) {
            if out.len() as i64 >= limit {
                break;
            }
            let SealedColumn { table, id_column, column, .. } = sealed;
            // Identifiers come from the fixed SEALED_COLUMNS list, never from input.
            let sql = format!(
                "SELECT {id_column} AS id, {column} AS sealed FROM {table}
                 WHERE {column} IS NOT NULL AND {column} <> '' AND {column} NOT LIKE $1 LIMIT $2"
            );
            let rows = sqlx::query(&sql)
                .bind(format!("{prefix}%"))
                .bind(limit - out.len() as i64)
                .fetch_all(&self.pool)
                .await?;
            for r in rows {
                out.push(SealedValue { column: *sealed, id: r.try_get("id")?, ciphertext: r.try_get("sealed")? });
            }
        }
        Ok(out)
    }

    async fn reseal(&self, value: &SealedValue, ciphertext: &str) -> StoreResult<bool> {
        // Only a column of the fixed list is ever named in SQL.
        if !SEALED_COLUMNS.contains(&value.column) {
            return Err(StoreError::NotFound);
        }
        let SealedColumn { table, id_column, column, .. } = value.column;
        // A merchant's webhook secret is cached with the merchant.
        let _changed = (table == "merchants").then(|| self.config.changing());
        let sql = format!("UPDATE {table} SET {column} = $1 WHERE {id_column} = $2 AND {column} = $3");
        let changed = sqlx::query(&sql)
            .bind(ciphertext)
            .bind(&value.id)
            .bind(&value.ciphertext)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    async fn saved_card(&self, merchant_id: &str, card_id: &str) -> StoreResult<Option<SavedCard>> {
        const SAVED_CARD: &str = "SELECT * FROM saved_cards WHERE merchant_id = $1 AND id = $2";
        let args = [merchant_id.into(), card_id.into()];
        if let Some(rows) = self.read_inline(SAVED_CARD, &args, inline_reads::saved_card)? {
            return Ok(rows.into_iter().next());
        }
        Ok(sqlx::query_as(SAVED_CARD).bind(merchant_id).bind(card_id).fetch_optional(&self.reads).await?)
    }

    async fn saved_cards(&self, merchant_id: &str, account_id: &str) -> StoreResult<Vec<SavedCard>> {
        Ok(sqlx::query_as(
            "SELECT * FROM saved_cards WHERE merchant_id = $1 AND account_id = $2 AND active
             ORDER BY created_at, id",
        )
        .bind(merchant_id)
        .bind(account_id)
        .fetch_all(&self.reads)
        .await?)
    }

    async fn deactivate_card(&self, merchant_id: &str, card_id: &str) -> StoreResult<bool> {
        let changed =
            sqlx::query("UPDATE saved_cards SET active = FALSE WHERE merchant_id = $1 AND id = $2 AND active")
                .bind(merchant_id)
                .bind(card_id)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(changed == 1)
    }

    async fn merchant_saved_cards(
        &self,
        merchant_id: &str,
        account_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<SavedCard>> {
        Ok(sqlx::query_as(
            "SELECT * FROM saved_cards WHERE merchant_id = $1 AND active AND ($2 = '' OR account_id = $2)
             ORDER BY created_at DESC, id LIMIT $3",
        )
        .bind(merchant_id)
        .bind(account_id)
        .bind(limit)
        .fetch_all(&self.reads)
        .await?)
    }
}
