//! Merchants and their terminals. Reads go through this node's config cache
//! (`config_cache.rs`); every write empties it once the write is done, so this node reads its
//! own writes at once (other nodes learn of them through `config_watch.rs`).

use std::future::Future;

use async_trait::async_trait;
use sqlx::Row;

use super::config_cache::{tables, Lookup, Pick};
use super::{Backend, RowsAffected, SqlStore};
use epay_domain::Secret;

use crate::model::*;
use crate::ports::MerchantsPort;
use crate::{ConfigCacheStats, StoreResult};

/// A random first token generation, below 2^52 so a long run of rotations cannot overflow it.
fn random_generation() -> i64 {
    (uuid::Uuid::new_v4().as_u128() >> 76) as i64
}

/// Inserts or updates one terminal row.
async fn write_terminal<DB: Backend>(tx: &mut super::Unit<DB>, t: &Terminal) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO terminals (id, merchant_id, pos_id, name, two_step, three_ds,
             transfers_allowed, hold_period_secs, created_at, fee_percent_bp, fee_fixed_minor,
             fee_min_minor, transfer_daily_limit_minor, callback_origins, operation_callbacks,
             max_attempts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (id) DO UPDATE SET merchant_id = excluded.merchant_id,
             pos_id = excluded.pos_id, name = excluded.name, two_step = excluded.two_step,
             three_ds = excluded.three_ds, transfers_allowed = excluded.transfers_allowed,
             hold_period_secs = excluded.hold_period_secs, fee_percent_bp = excluded.fee_percent_bp,
             fee_fixed_minor = excluded.fee_fixed_minor, fee_min_minor = excluded.fee_min_minor,
             transfer_daily_limit_minor = excluded.transfer_daily_limit_minor,
             callback_origins = excluded.callback_origins,
             operation_callbacks = excluded.operation_callbacks, max_attempts = excluded.max_attempts",
    )
    .bind(&t.id)
    .bind(&t.merchant_id)
    .bind(&t.pos_id)
    .bind(&t.name)
    .bind(t.two_step)
    .bind(t.three_ds)
    .bind(t.transfers_allowed)
    .bind(t.hold_period_secs)
    .bind(0i64)
    .bind(t.fee_percent_bp)
    .bind(t.fee_fixed_minor)
    .bind(t.fee_min_minor)
    .bind(t.transfer_daily_limit_minor)
    .bind(t.callback_origins.join(" "))
    .bind(t.operation_callbacks)
    .bind(t.max_attempts.get())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl<DB: Backend> SqlStore<DB> {
    /// `key` in `table` from memory, or else `read` from the database (and kept, unless the
    /// cache was emptied meanwhile: the answer may predate the change that emptied it).
    async fn cached<V: Clone + Send>(
        &self,
        table: Pick<V>,
        key: &str,
        read: impl Future<Output = Result<Option<V>, sqlx::Error>> + Send,
    ) -> StoreResult<Option<V>> {
        let ticket = match self.config.get(table, key) {
            Lookup::Hit(value) => return Ok(value),
            Lookup::Miss(ticket) => Some(ticket),
            Lookup::Off => None,
        };
        let value = read.await?;
        if let Some(ticket) = ticket {
            self.config.put(ticket, table, key, value.clone());
        }
        Ok(value)
    }
}

#[async_trait]
impl<DB: Backend> MerchantsPort for SqlStore<DB> {
    async fn upsert_terminal(&self, t: &Terminal) -> StoreResult<()> {
        // The same statement as upsert_merchant's, without touching the merchant row (the
        // terminal's merchant must exist: a foreign key).
        let _changed = self.config.changing();
        let mut tx = self.begin_unit().await?;
        write_terminal(&mut tx, t).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_merchant_secret(&self, merchant_id: &str, secret_digest: &Secret) -> StoreResult<bool> {
        // The tokens issued under the old secret are revoked with it, in one statement: the
        // token generation moves on, and a token of an older one is refused. Whoever held the
        // old secret keeps nothing it obtained with it.
        let _changed = self.config.changing();
        let mut tx = self.begin_unit().await?;
        let changed = sqlx::query(
            "UPDATE merchants SET secret_digest = $1, token_generation = token_generation + 1 WHERE id = $2",
        )
        .bind(secret_digest.expose())
        .bind(merchant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(changed == 1)
    }

    async fn set_webhook_secret(&self, merchant_id: &str, webhook_secret: &Secret) -> StoreResult<bool> {
        let _changed = self.config.changing();
        let changed = sqlx::query("UPDATE merchants SET webhook_secret = $1 WHERE id = $2")
            .bind(webhook_secret.expose())
            .bind(merchant_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    async fn upsert_merchant(&self, m: &Merchant, terminals: &[Terminal]) -> StoreResult<()> {
        let _changed = self.config.changing();
        let now = 0i64;
        let mut tx = self.begin_unit().await?;
        sqlx::query(
            // A new row starts at a random token generation: a merchant deleted and created
            // again under the same id (the sandbox merchant after `epay sandbox purge`) must not
            // bring its old tokens back. A new secret moves the generation on, as a rotation does.
            "INSERT INTO merchants (id, name, client_id, secret_digest, created_at, webhook_secret, token_generation)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, client_id = excluded.client_id,
                 secret_digest = excluded.secret_digest, webhook_secret = excluded.webhook_secret,
                 token_generation = CASE WHEN merchants.secret_digest = excluded.secret_digest
                                         THEN merchants.token_generation
                                         ELSE merchants.token_generation + 1 END",
        )
        .bind(&m.id)
        .bind(&m.name)
        .bind(&m.client_id)
        .bind(m.secret_digest.expose())
        .bind(now)
        .bind(m.webhook_secret.expose())
        .bind(random_generation())
        .execute(&mut *tx)
        .await?;
        for t in terminals {
            write_terminal(&mut tx, t).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn merchant_by_client_id(&self, client_id: &str) -> StoreResult<Option<Merchant>> {
        let read =
            sqlx::query_as("SELECT * FROM merchants WHERE client_id = $1").bind(client_id).fetch_optional(&self.reads);
        self.cached(tables::merchants_by_client_id, client_id, read).await
    }

    async fn merchant(&self, id: &str) -> StoreResult<Option<Merchant>> {
        let read = sqlx::query_as("SELECT * FROM merchants WHERE id = $1").bind(id).fetch_optional(&self.reads);
        self.cached(tables::merchants, id, read).await
    }

    async fn terminal(&self, id: &str) -> StoreResult<Option<Terminal>> {
        let read = sqlx::query_as("SELECT * FROM terminals WHERE id = $1").bind(id).fetch_optional(&self.reads);
        self.cached(tables::terminals, id, read).await
    }

    /// Not cached: the expiry sweep asks once per interval.
    async fn terminals_with_operation_callbacks(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM terminals WHERE operation_callbacks").fetch_all(&self.reads).await?;
        Ok(rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?)
    }

    async fn terminals_of(&self, merchant_id: &str) -> StoreResult<Vec<Terminal>> {
        let read = async {
            sqlx::query_as("SELECT * FROM terminals WHERE merchant_id = $1 ORDER BY pos_id, id")
                .bind(merchant_id)
                .fetch_all(&self.reads)
                .await
                .map(Some)
        };
        Ok(self.cached(tables::terminals_of_merchant, merchant_id, read).await?.unwrap_or_default())
    }

    fn watch_config(&self, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        // The poll reads beside the writer (SQLite: a read connection, which sees every COMMIT).
        super::config_watch::spawn(self.reads.clone(), self.config.clone(), stop)
    }

    fn config_cache_stats(&self) -> ConfigCacheStats {
        self.config.stats()
    }
}
