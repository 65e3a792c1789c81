//! The callback outbox: claiming due events, logging attempts, the callback log.

use async_trait::async_trait;
use epay_domain::DeliveryStatus;
use sqlx::Row;

use super::{Backend, RowsAffected, SqlStore};
use crate::model::*;
use crate::ports::CallbackOutbox;
use crate::StoreResult;

#[async_trait]
impl<DB: Backend> CallbackOutbox for SqlStore<DB> {
    async fn claim_callbacks(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<CallbackEvent>> {
        let mut tx = self.begin_unit().await?;
        let claim_id =
            lease_due(&mut tx, Leased::Callbacks, DeliveryStatus::Pending.as_str(), now_ms, lease_until_ms, limit)
                .await?;
        let claimed = sqlx::query_as(
            "SELECT e.*, m.webhook_secret FROM callback_events e JOIN merchants m ON m.id = e.merchant_id
             WHERE e.claim_id = $1 ORDER BY e.next_attempt_at, e.id",
        )
        .bind(&claim_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn record_callback_attempt(&self, a: &CallbackAttempt, next: CallbackNext, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.begin_unit().await?;
        sqlx::query(
            "INSERT INTO callback_attempts (event_id, attempt_no, started_at, http_status, latency_ms, error,
                 response_excerpt, node)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&a.event_id)
        .bind(a.attempt_no)
        .bind(a.started_at)
        .bind(a.http_status)
        .bind(a.latency_ms)
        .bind(&a.error)
        .bind(&a.response_excerpt)
        .bind(&a.node)
        .execute(&mut *tx)
        .await?;
        let (status, next_at, delivered_at) = match next {
            CallbackNext::Delivered => (DeliveryStatus::Delivered, now_ms, Some(now_ms)),
            CallbackNext::RetryAt(at) => (DeliveryStatus::Pending, at, None),
            CallbackNext::GiveUp => (DeliveryStatus::Failed, now_ms, None),
        };
        sqlx::query(
            "UPDATE callback_events SET status = $1, next_attempt_at = $2, delivered_at = $3, locked_until = 0
             WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(next_at)
        .bind(delivered_at)
        .bind(&a.event_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn callbacks_of(
        &self,
        merchant_id: &str,
        payment_id: &str,
    ) -> StoreResult<Vec<(CallbackEvent, Vec<CallbackAttempt>)>> {
        let events: Vec<CallbackEvent> = sqlx::query_as(
            "SELECT * FROM callback_events WHERE merchant_id = $1 AND payment_id = $2 ORDER BY created_at, id",
        )
        .bind(merchant_id)
        .bind(payment_id)
        .fetch_all(&self.reads)
        .await?;
        let attempts: Vec<CallbackAttempt> = sqlx::query_as(
            "SELECT a.* FROM callback_attempts a JOIN callback_events e ON e.id = a.event_id
             WHERE e.merchant_id = $1 AND e.payment_id = $2 ORDER BY a.attempt_no",
        )
        .bind(merchant_id)
        .bind(payment_id)
        .fetch_all(&self.reads)
        .await?;
        Ok(events
            .into_iter()
            .map(|e| {
                let mine = attempts.iter().filter(|a| a.event_id == e.id).cloned().collect();
                (e, mine)
            })
            .collect())
    }

    async fn resend_callback(
        &self,
        merchant_id: &str,
        terminal_id: Option<&str>,
        event_id: &str,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE callback_events SET status = $5, next_attempt_at = $1
             WHERE id = $2 AND merchant_id = $3
               AND ($4 = '' OR payment_id IN (SELECT id FROM payments WHERE terminal_id = $4))",
        )
        .bind(now_ms)
        .bind(event_id)
        .bind(merchant_id)
        .bind(terminal_id.unwrap_or(""))
        .bind(DeliveryStatus::Pending.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn pending_callbacks(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM callback_events WHERE status = $1")
            .bind(DeliveryStatus::Pending.as_str())
            .fetch_one(&self.reads)
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// The two outboxes whose rows workers on several nodes lease: callback events and messages.
/// Both have `attempts`, `locked_until`, `claim_id` and `next_attempt_at`; only the table and
/// the name of the state column differ.
#[derive(Clone, Copy)]
pub(super) enum Leased {
    Callbacks,
    Messages,
}

impl Leased {
    fn table_and_state_column(self) -> (&'static str, &'static str) {
        match self {
            Leased::Callbacks => ("callback_events", "status"),
            Leased::Messages => ("outbox_messages", "state"),
        }
    }
}

/// Leases up to `limit` rows of `leased` that are `pending` and due at `now_ms` until
/// `lease_until_ms`, counting the attempt, inside `tx`; returns the claim id the leased rows now
/// carry. `SKIP LOCKED` (PostgreSQL) lets nodes claim side by side without waiting.
pub(super) async fn lease_due<DB: Backend>(
    tx: &mut super::Unit<DB>,
    leased: Leased,
    pending: &str,
    now_ms: i64,
    lease_until_ms: i64,
    limit: i64,
) -> Result<String, sqlx::Error> {
    // Random, so claims of different nodes can never share an id.
    let claim_id = uuid::Uuid::new_v4().to_string();
    let (table, state) = leased.table_and_state_column();
    let claim = format!(
        "UPDATE {table} SET attempts = attempts + 1, locked_until = $1, claim_id = $2
         WHERE id IN (SELECT id FROM {table}
                      WHERE {state} = $5 AND next_attempt_at <= $3 AND locked_until <= $3
                      ORDER BY next_attempt_at LIMIT $4 {})",
        DB::SKIP_LOCKED
    );
    sqlx::query(&claim)
        .bind(lease_until_ms)
        .bind(&claim_id)
        .bind(now_ms)
        .bind(limit)
        .bind(pending)
        .execute(&mut **tx)
        .await?;
    Ok(claim_id)
}
