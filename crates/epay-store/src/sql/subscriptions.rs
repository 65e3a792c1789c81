//! Recurrent agreements and subscriptions (`SubscriptionsPort`), and the two steps a payment's
//! transaction takes for them (`record_payment`).

use async_trait::async_trait;
use epay_domain::SubscriptionStatus;

use super::writes::{claimed, is_unique_violation};
use super::{Backend, RowsAffected, SqlStore};
use crate::model::Payment;
use crate::ports::SubscriptionsPort;
use crate::recurrent::*;
use crate::{StoreError, StoreResult};

impl<DB: Backend> SqlStore<DB> {
    /// Records, in the transaction that saved the card, that its holder agreed to
    /// merchant-initiated repeats (the card's history).
    pub(super) async fn record_recurrent_agreement(
        tx: &mut super::Unit<DB>,
        payment: &Payment,
        card_id: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO card_events (id, merchant_id, card_id, kind, payment_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(epay_domain::ids::uuid())
        .bind(&payment.merchant_id)
        .bind(card_id)
        .bind(RECURRENT_AGREED)
        .bind(&payment.id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The period's row and the subscription's move, in the payment's transaction. Either
    /// fails (the period or try was already charged; the subscription moved since the scheduler
    /// read it; its card was deactivated after the scheduler read it) with `ConcurrentAttempt`,
    /// and the whole payment rolls back: the card's state is checked here, inside the
    /// transaction, not only where the scheduler picked the subscription.
    pub(super) async fn record_subscription_charge(
        tx: &mut super::Unit<DB>,
        charge: &SubscriptionCharge,
        payment: &Payment,
        now: i64,
    ) -> StoreResult<()> {
        let approved = payment.reason_code == 0;
        let inserted = sqlx::query(
            "INSERT INTO subscription_periods (subscription_id, period_no, try_no, payment_id, approved, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&charge.subscription_id)
        .bind(charge.period_no)
        .bind(charge.tries)
        .bind(&payment.id)
        .bind(approved)
        .bind(now)
        .execute(&mut **tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::ConcurrentAttempt),
            Err(e) => return Err(e.into()),
        }
        let next = if approved { &charge.if_approved } else { &charge.if_declined };
        let moved = sqlx::query(
            "UPDATE subscriptions SET status = $1, status_reason = $2, period_no = $3, tries = $4,
                 next_charge_at = $5, updated_at = $6,
                 last_payment_at = CASE WHEN $7 THEN $6 ELSE last_payment_at END
             WHERE id = $8 AND status = $9 AND period_no = $10 AND tries = $11
               AND EXISTS (SELECT 1 FROM saved_cards c
                           WHERE c.id = subscriptions.card_id AND c.merchant_id = subscriptions.merchant_id
                             AND c.active)",
        )
        .bind(next.status.as_str())
        .bind(&next.status_reason)
        .bind(next.period_no)
        .bind(next.tries)
        .bind(next.next_charge_at)
        .bind(now)
        .bind(approved)
        .bind(&charge.subscription_id)
        .bind(SubscriptionStatus::Active.as_str())
        .bind(charge.period_no)
        .bind(charge.tries)
        .execute(&mut **tx)
        .await?;
        claimed(moved.rows_affected(), StoreError::ConcurrentAttempt)
    }
}

#[async_trait]
impl<DB: Backend> SubscriptionsPort for SqlStore<DB> {
    async fn card_events(&self, merchant_id: &str, card_id: &str) -> StoreResult<Vec<CardEvent>> {
        let events = sqlx::query_as(
            "SELECT id, card_id, kind, payment_id, created_at FROM card_events
             WHERE merchant_id = $1 AND card_id = $2 ORDER BY created_at, id",
        )
        .bind(merchant_id)
        .bind(card_id);
        Ok(events.fetch_all(&self.reads).await?)
    }

    async fn recurrent_agreed(&self, merchant_id: &str, card_id: &str) -> StoreResult<bool> {
        let found =
            sqlx::query("SELECT id FROM card_events WHERE merchant_id = $1 AND card_id = $2 AND kind = $3 LIMIT 1")
                .bind(merchant_id)
                .bind(card_id)
                .bind(RECURRENT_AGREED)
                .fetch_optional(&self.reads)
                .await?;
        Ok(found.is_some())
    }

    async fn create_subscription(&self, s: &Subscription) -> StoreResult<()> {
        let inserted = sqlx::query(
            "INSERT INTO subscriptions (id, merchant_id, terminal_id, transaction_id, card_id, account_id,
                 invoice_id, invoice_prefix, amount_minor, currency, frequency, status, status_reason,
                 period_no, tries, next_charge_at, anchor_at, last_payment_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(&s.id)
        .bind(&s.merchant_id)
        .bind(&s.terminal_id)
        .bind(&s.transaction_id)
        .bind(&s.card_id)
        .bind(&s.account_id)
        .bind(&s.invoice_id)
        .bind(&s.invoice_prefix)
        .bind(s.amount_minor)
        .bind(&s.currency)
        .bind(s.frequency.as_str())
        .bind(s.status.as_str())
        .bind(&s.status_reason)
        .bind(s.period_no)
        .bind(s.tries)
        .bind(s.next_charge_at)
        .bind(s.anchor_at)
        .bind(s.last_payment_at)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateInvoice),
            Err(e) => Err(e.into()),
        }
    }

    async fn subscription(&self, merchant_id: &str, id: &str) -> StoreResult<Option<Subscription>> {
        let found = sqlx::query_as("SELECT * FROM subscriptions WHERE id = $1 AND merchant_id = $2")
            .bind(id)
            .bind(merchant_id)
            .fetch_optional(&self.reads)
            .await?;
        Ok(found)
    }

    async fn subscriptions(&self, merchant_id: &str, account_id: &str, limit: i64) -> StoreResult<Vec<Subscription>> {
        let found = sqlx::query_as(
            "SELECT * FROM subscriptions WHERE merchant_id = $1 AND ($2 = '' OR account_id = $2)
             ORDER BY created_at DESC, id LIMIT $3",
        )
        .bind(merchant_id)
        .bind(account_id)
        .bind(limit)
        .fetch_all(&self.reads)
        .await?;
        Ok(found)
    }

    async fn subscription_periods(&self, subscription_id: &str) -> StoreResult<Vec<SubscriptionPeriod>> {
        let found = sqlx::query_as(
            "SELECT period_no, try_no, payment_id, approved, created_at FROM subscription_periods
             WHERE subscription_id = $1 ORDER BY period_no, try_no",
        )
        .bind(subscription_id)
        .fetch_all(&self.reads)
        .await?;
        Ok(found)
    }

    async fn move_subscription(&self, change: &SubscriptionMove<'_>) -> StoreResult<bool> {
        let SubscriptionMove { merchant_id, id, from, to, reason, resume_at, now_ms } = *change;
        let moved = match resume_at {
            None => {
                sqlx::query(
                    "UPDATE subscriptions SET status = $1, status_reason = $2, updated_at = $3
                 WHERE id = $4 AND merchant_id = $5 AND status = $6",
                )
                .bind(to.as_str())
                .bind(reason)
                .bind(now_ms)
                .bind(id)
                .bind(merchant_id)
                .bind(from.as_str())
                .execute(&self.pool)
                .await?
            }
            Some((period_no, next_charge_at)) => {
                sqlx::query(
                    "UPDATE subscriptions SET status = $1, status_reason = $2, updated_at = $3,
                     period_no = $7, tries = 0, next_charge_at = $8
                 WHERE id = $4 AND merchant_id = $5 AND status = $6",
                )
                .bind(to.as_str())
                .bind(reason)
                .bind(now_ms)
                .bind(id)
                .bind(merchant_id)
                .bind(from.as_str())
                .bind(period_no)
                .bind(next_charge_at)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(moved.rows_affected() == 1)
    }

    async fn due_subscriptions(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<Subscription>> {
        let due = sqlx::query_as(
            "SELECT * FROM subscriptions WHERE status = $1 AND next_charge_at <= $2
             ORDER BY next_charge_at, id LIMIT $3",
        )
        .bind(SubscriptionStatus::Active.as_str())
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.reads)
        .await?;
        Ok(due)
    }

    async fn stop_card_subscriptions(&self, merchant_id: &str, card_id: &str, now_ms: i64) -> StoreResult<u64> {
        let stopped = sqlx::query(
            "UPDATE subscriptions SET status = $1, status_reason = $2, updated_at = $3
             WHERE merchant_id = $4 AND card_id = $5 AND status IN ($6, $7)",
        )
        .bind(SubscriptionStatus::Stopped.as_str())
        .bind("card deactivated")
        .bind(now_ms)
        .bind(merchant_id)
        .bind(card_id)
        .bind(SubscriptionStatus::Active.as_str())
        .bind(SubscriptionStatus::Paused.as_str())
        .execute(&self.pool)
        .await?;
        Ok(stopped.rows_affected())
    }
}
