//! Spent access tokens, Idempotency-Keys and abuse counters.

use async_trait::async_trait;
use sqlx::Row;

use super::{Backend, RowsAffected, SqlStore};

use crate::model::*;
use crate::ports::TokensPort;
use crate::StoreResult;

#[async_trait]
impl<DB: Backend> TokensPort for SqlStore<DB> {
    async fn token_spent_at(&self, token_id: &str) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT spent_at FROM spent_tokens WHERE token_id = $1")
            .bind(token_id)
            .fetch_optional(&self.reads)
            .await?;
        Ok(row.map(|r| r.try_get("spent_at")).transpose()?)
    }

    async fn purge_spent_tokens(&self, now_ms: i64, limit: i64) -> StoreResult<u64> {
        let purged = sqlx::query(
            "DELETE FROM spent_tokens WHERE token_id IN
                 (SELECT token_id FROM spent_tokens WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now_ms)
        .bind(limit)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(purged)
    }

    async fn idempotency_begin(&self, claim: &IdempotencyClaim) -> StoreResult<IdempotencyState> {
        // An expired key is forgotten first, so its next use is a new request.
        sqlx::query("DELETE FROM idempotency_keys WHERE scope_key = $1 AND created_at <= $2")
            .bind(&claim.scope_key)
            .bind(claim.expired_before_ms)
            .execute(&self.pool)
            .await?;
        let reserved = sqlx::query(
            "INSERT INTO idempotency_keys
                 (scope_key, request_digest, response_status, response_body, created_at, lease_owner, lease_until)
             VALUES ($1, $2, NULL, NULL, $3, $4, $5) ON CONFLICT (scope_key) DO NOTHING",
        )
        .bind(&claim.scope_key)
        .bind(&claim.request_digest)
        .bind(claim.now_ms)
        .bind(&claim.owner)
        .bind(claim.lease_until_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if reserved == 1 {
            return Ok(IdempotencyState::Reserved);
        }
        let row = sqlx::query("SELECT * FROM idempotency_keys WHERE scope_key = $1")
            .bind(&claim.scope_key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            // Released between our insert and this read: the caller may simply retry.
            return Ok(IdempotencyState::InProgress);
        };
        let digest: String = row.try_get("request_digest")?;
        let status: Option<i32> = row.try_get("response_status")?;
        let body: Option<String> = row.try_get("response_body")?;
        if let (Some(status), Some(body)) = (status, body) {
            return Ok(if digest == claim.request_digest {
                IdempotencyState::Completed { status: status as u16, body }
            } else {
                IdempotencyState::Mismatch
            });
        }
        let lease_until: Option<i64> = row.try_get("lease_until")?;
        if lease_until.is_some_and(|until| until > claim.lease_now_ms) {
            return Ok(if digest == claim.request_digest {
                IdempotencyState::InProgress
            } else {
                IdempotencyState::Mismatch
            });
        }
        // The lease ended with nothing committed (its request died): take the key over,
        // by compare-and-set so only one of several waiting retries gets it.
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET request_digest = $1, lease_owner = $2, lease_until = $3, created_at = $4
             WHERE scope_key = $5 AND response_status IS NULL AND (lease_until IS NULL OR lease_until <= $6)",
        )
        .bind(&claim.request_digest)
        .bind(&claim.owner)
        .bind(claim.lease_until_ms)
        .bind(claim.now_ms)
        .bind(&claim.scope_key)
        .bind(claim.lease_now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(if taken == 1 { IdempotencyState::Reserved } else { IdempotencyState::InProgress })
    }

    async fn idempotency_release(&self, key: &str, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope_key = $1 AND lease_owner = $2 AND response_status IS NULL",
        )
        .bind(key)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn purge_idempotency_keys(&self, expired_before_ms: i64, limit: i64) -> StoreResult<u64> {
        let purged = sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope_key IN
                 (SELECT scope_key FROM idempotency_keys WHERE created_at <= $1 LIMIT $2)",
        )
        .bind(expired_before_ms)
        .bind(limit)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(purged)
    }

    async fn abuse_window(&self, key: &str, now_ms: i64) -> StoreResult<Option<AbuseWindow>> {
        // Not counted: this only reads the window.
        Ok(sqlx::query_as("SELECT failures, expires_ms FROM abuse_counters WHERE key = $1 AND expires_ms > $2")
            .bind(key)
            .bind(now_ms)
            .fetch_optional(&self.reads)
            .await?)
    }

    async fn abuse_count(
        &self,
        key: &str,
        window_ms: i64,
        now_ms: i64,
        below: Option<i64>,
    ) -> StoreResult<AbuseWindow> {
        sqlx::query("DELETE FROM abuse_counters WHERE expires_ms <= $1").bind(now_ms).execute(&self.pool).await?;
        // One statement: the reset of an ended window, the ceiling and the increment are
        // decided on the row as it is when this statement locks it.
        let counted: Option<AbuseWindow> = sqlx::query_as(
            "INSERT INTO abuse_counters (key, failures, expires_ms) VALUES ($1, 1, $2 + $3)
             ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN abuse_counters.expires_ms <= $2 THEN 1
                                 ELSE abuse_counters.failures + 1 END,
                 expires_ms = CASE WHEN abuse_counters.expires_ms <= $2 THEN $2 + $3
                                   ELSE abuse_counters.expires_ms END
             WHERE abuse_counters.expires_ms <= $2 OR abuse_counters.failures < $4
             RETURNING failures, expires_ms",
        )
        .bind(key)
        .bind(now_ms)
        .bind(window_ms)
        .bind(below.unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        match counted {
            Some(window) => Ok(AbuseWindow { counted: true, ..window }),
            None => Ok(self.abuse_window(key, now_ms).await?.unwrap_or(AbuseWindow {
                failures: 0,
                expires_ms: now_ms,
                counted: false,
            })),
        }
    }

    async fn abuse_clear(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM abuse_counters WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }

    async fn spend_token(&self, token_id: &str, expires_at: i64, now_ms: i64) -> StoreResult<bool> {
        Ok(Self::spend_token_on(&self.pool, token_id, expires_at, now_ms).await?)
    }
}
