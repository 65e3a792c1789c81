//! Spent access tokens, Idempotency-Keys and abuse counters.

use async_trait::async_trait;
use sqlx::{FromRow, Row};

use super::pipeline::Arg;
use super::{Backend, RowsAffected, SqlStore};

use crate::model::*;
use crate::ports::TokensPort;
use crate::StoreResult;

#[async_trait]
impl<DB: Backend> TokensPort for SqlStore<DB> {
    async fn token_spent_at(&self, token_id: &str) -> StoreResult<Option<i64>> {
        const SPENT_AT: &str = "SELECT spent_at FROM spent_tokens WHERE token_id = $1";
        if let Some(rows) = self.read_inline(SPENT_AT, &[token_id.into()], |r| r.get("spent_at"))? {
            return Ok(rows.into_iter().next());
        }
        let row = sqlx::query(SPENT_AT).bind(token_id).fetch_optional(&self.reads).await?;
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

    async fn abuse_windows(&self, keys: &[&str], now_ms: i64) -> StoreResult<Vec<(String, AbuseWindow)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // Not counted: this only reads the windows. `$1` is the time, `$2…` the keys.
        let sql = format!(
            "SELECT key, failures, expires_ms FROM abuse_counters WHERE expires_ms > $1 AND key IN ({})",
            placeholders(2, keys.len())
        );
        let mut args: Vec<Arg> = vec![now_ms.into()];
        args.extend(keys.iter().map(|key| Arg::from(*key)));
        let inline = self.read_inline(&sql, &args, |r| {
            let window = AbuseWindow { failures: r.get("failures")?, expires_ms: r.get("expires_ms")?, counted: false };
            Ok((r.get("key")?, window))
        })?;
        if let Some(windows) = inline {
            return Ok(windows);
        }
        let mut query = sqlx::query(&sql).bind(now_ms);
        for key in keys {
            query = query.bind(*key);
        }
        let rows = query.fetch_all(&self.reads).await?;
        let window = |row: &DB::Row| -> Result<(String, AbuseWindow), sqlx::Error> {
            let failures = row.try_get("failures")?;
            let expires_ms = row.try_get("expires_ms")?;
            Ok((row.try_get("key")?, AbuseWindow { failures, expires_ms, counted: false }))
        };
        Ok(rows.iter().map(window).collect::<Result<_, _>>()?)
    }

    async fn abuse_count(
        &self,
        key: &str,
        window_ms: i64,
        now_ms: i64,
        below: Option<i64>,
    ) -> StoreResult<AbuseWindow> {
        // One statement: the reset of an ended window, the ceiling and the increment are
        // decided on the row as it is when this statement locks it. A unit of the writer's batch
        // on SQLite (`write_one`): a cryptogram payment reserves its attempt with it first.
        let args: Vec<Arg> = vec![key.into(), now_ms.into(), window_ms.into(), below.unwrap_or(i64::MAX).into()];
        let rows = self
            .write_one(
                "INSERT INTO abuse_counters (key, failures, expires_ms) VALUES ($1, 1, $2 + $3)
                 ON CONFLICT (key) DO UPDATE SET
                     failures = CASE WHEN abuse_counters.expires_ms <= $2 THEN 1
                                     ELSE abuse_counters.failures + 1 END,
                     expires_ms = CASE WHEN abuse_counters.expires_ms <= $2 THEN $2 + $3
                                       ELSE abuse_counters.expires_ms END
                 WHERE abuse_counters.expires_ms <= $2 OR abuse_counters.failures < $4
                 RETURNING failures, expires_ms",
                args,
            )
            .await?;
        let counted = rows.first().map(AbuseWindow::from_row).transpose()?;
        match counted {
            Some(window) => Ok(AbuseWindow { counted: true, ..window }),
            None => {
                let open = self.abuse_windows(&[key], now_ms).await?.pop().map(|(_, window)| window);
                Ok(open.unwrap_or(AbuseWindow { failures: 0, expires_ms: now_ms, counted: false }))
            }
        }
    }

    async fn abuse_count_all(&self, keys: &[(&str, i64)], now_ms: i64) -> StoreResult<()> {
        // One row per key, counting how often it is named: an upsert may not change one row
        // twice (PostgreSQL refuses), and counting twice is what two calls would have done.
        let mut rows: Vec<(&str, i64, i64)> = Vec::new();
        for &(key, window_ms) in keys {
            match rows.iter_mut().find(|(known, _, _)| *known == key) {
                Some((_, failures, _)) => *failures += 1,
                None => rows.push((key, 1, window_ms)),
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        // PostgreSQL locks the rows in VALUES order: one order for every caller, so two requests
        // counting the same keys never wait for each other crosswise (a deadlock).
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        // As in `abuse_count`: an ended window starts again with these failures, an open one
        // adds them, each decided on the row as this statement locks it.
        let values: Vec<String> =
            (0..rows.len()).map(|i| format!("(${}, ${}, $1 + ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4)).collect();
        let sql = format!(
            "INSERT INTO abuse_counters (key, failures, expires_ms) VALUES {}
             ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN abuse_counters.expires_ms <= $1 THEN excluded.failures
                                 ELSE abuse_counters.failures + excluded.failures END,
                 expires_ms = CASE WHEN abuse_counters.expires_ms <= $1 THEN excluded.expires_ms
                                   ELSE abuse_counters.expires_ms END",
            values.join(", ")
        );
        let mut args: Vec<Arg> = vec![now_ms.into()];
        for (key, failures, window_ms) in rows {
            args.extend([key.into(), failures.into(), window_ms.into()]);
        }
        self.write_one(sql, args).await?;
        Ok(())
    }

    async fn purge_abuse_windows(&self, now_ms: i64) -> StoreResult<u64> {
        let purged = sqlx::query("DELETE FROM abuse_counters WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(purged)
    }

    async fn abuse_clear(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM abuse_counters WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }

    async fn spend_token(&self, token_id: &str, expires_at: i64, now_ms: i64) -> StoreResult<bool> {
        // Alone (`write_one`: in the writer's batch on SQLite); an attempt spends its token
        // inside its own transaction instead (`spend_and_number`). The primary key decides
        // between concurrent spenders (`ON CONFLICT DO NOTHING`, so the loser's transaction is
        // not aborted on PostgreSQL): a token pays once. The row is kept until `expires_at`, the
        // token's own expiry. One row back when this call spent it.
        let spent = self
            .write_one(
                "INSERT INTO spent_tokens (token_id, spent_at, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (token_id) DO NOTHING RETURNING token_id",
                vec![token_id.into(), now_ms.into(), expires_at.into()],
            )
            .await?;
        Ok(spent.len() == 1)
    }
}

/// `$from, $from+1, …`: `count` numbered placeholders for an `IN (…)` list.
fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use crate::Store;

    fn wanted(backend: &str) -> bool {
        std::env::var("EPAY_TEST_BACKENDS").map_or(true, |w| w.contains(backend))
    }

    /// A migrated store on each wanted backend: a fresh SQLite file, a fresh PostgreSQL database.
    async fn stores() -> Vec<std::sync::Arc<dyn Store>> {
        let mut stores = Vec::new();
        if wanted("sqlite") {
            let url = super::super::test_store::sqlite_test_url("abuse");
            stores.push(super::super::connect(&url).await.unwrap());
        }
        if wanted("postgres") {
            let admin_url = std::env::var("EPAY_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let name = format!("epay_abuse_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("PostgreSQL must be reachable");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
            let root = admin_url.rsplit_once('/').map_or(admin_url.clone(), |(r, _)| r.to_string());
            stores.push(super::super::connect(&format!("{root}/{name}")).await.unwrap());
        }
        for store in &stores {
            store.migrate().await.unwrap();
        }
        stores
    }

    /// Several keys counted and read in one statement each behave as each key alone would:
    /// a key named twice counts twice, windows are per key, an ended window starts again, and
    /// only open windows of the keys asked come back.
    #[tokio::test]
    async fn several_keys_count_and_read_in_one_statement_each_as_one_by_one() {
        for store in stores().await {
            let now = 1_000_000;
            store.abuse_count_all(&[("a", 60_000), ("b", 600_000), ("a", 60_000)], now).await.unwrap();
            store.abuse_count_all(&[("a", 60_000), ("c", 60_000)], now + 1).await.unwrap();
            let mut open = store.abuse_windows(&["a", "b", "missing"], now + 2).await.unwrap();
            open.sort_by(|x, y| x.0.cmp(&y.0));
            let seen: Vec<(&str, i64, i64)> =
                open.iter().map(|(k, w)| (k.as_str(), w.failures, w.expires_ms)).collect();
            assert_eq!(seen, [("a", 3, now + 60_000), ("b", 1, now + 600_000)], "c was not asked");
            // After a's window: it is no longer read, and its next failure opens a new one.
            let later = now + 60_000;
            assert!(store.abuse_windows(&["a"], later).await.unwrap().is_empty());
            store.abuse_count_all(&[("a", 60_000), ("b", 600_000)], later).await.unwrap();
            let mut open = store.abuse_windows(&["a", "b"], later).await.unwrap();
            open.sort_by(|x, y| x.0.cmp(&y.0));
            let seen: Vec<(&str, i64, i64)> =
                open.iter().map(|(k, w)| (k.as_str(), w.failures, w.expires_ms)).collect();
            assert_eq!(seen, [("a", 1, later + 60_000), ("b", 2, now + 600_000)]);
            // The reservation of one key still stops at its ceiling, seeing what the upsert counted.
            let full = store.abuse_count("b", 600_000, later, Some(2)).await.unwrap();
            assert!(!full.counted);
            assert_eq!((full.failures, full.expires_ms), (2, now + 600_000));
            assert!(store.abuse_windows(&[], later).await.unwrap().is_empty());
            // The sweep forgets ended windows only: c's (counted at now + 1, ended at later + 1)
            // and nothing else at `later + 1`.
            assert_eq!(store.purge_abuse_windows(later + 1).await.unwrap(), 1);
            assert_eq!(store.abuse_windows(&["a", "b"], later + 1).await.unwrap().len(), 2);
        }
    }
}
