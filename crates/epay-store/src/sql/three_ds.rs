//! `ThreeDsPort`: 3-D Secure sessions, the ACS's answer, and ending a challenge (its payment's
//! decision, in the one transaction that confirms the session).

use super::writes::claimed;
use super::{Backend, RowsAffected, SqlStore};
use crate::model::*;
use crate::ports::*;
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use epay_domain::{PaymentStep, ThreeDsState, TxStatus};

/// A challenged attempt, as its caller decided it once the challenge was over.
// Built once and moved straight into the transaction that ends the challenge, never kept:
// boxing the larger variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum Challenged {
    /// A card payment as the caller recorded it, and the card to save if it is approved.
    Payment { payment: Payment, effect: PaymentEffect, save_card: Option<SavedCard> },
    /// A transfer, to settle with its money, limits and cards.
    Transfer(TransferSettlement),
}

/// What `wrong_three_ds_code`'s UPDATE returns.
#[derive(sqlx::FromRow)]
struct CountedCode {
    code_failures: i32,
    state: String,
}

impl<DB: Backend> SqlStore<DB> {
    pub(super) async fn insert_three_ds(tx: &mut super::Unit<DB>, t: &ThreeDsSession) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO three_ds_sessions (id, payment_id, server_trans_id, token_digest, pan_ciphertext,
                 expiry_mmyy, save_card, state, reason_code, created_at, updated_at,
                 receiver_pan_ciphertext, receiver_expiry_mmyy, save_receiver, keep_token_on_decline)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&t.id)
        .bind(&t.payment_id)
        .bind(&t.server_trans_id)
        .bind(&t.token_digest)
        .bind(&t.pan_ciphertext)
        .bind(&t.expiry_mmyy)
        .bind(t.save_card)
        .bind(t.state.as_str())
        .bind(t.reason_code)
        .bind(t.created_at)
        .bind(t.updated_at)
        .bind(&t.receiver_pan_ciphertext)
        .bind(&t.receiver_expiry_mmyy)
        .bind(t.save_receiver)
        .bind(t.token_spend == TokenSpend::UnlessDeclined)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Ends a payment's or a transfer's 3-D Secure challenge, in one transaction: the session
    /// `confirmed` (by compare-and-set: only once; the sealed card numbers are not needed any
    /// more), the attempt decided from `3D` with its money, the row moved from `3D` by
    /// compare-and-set, its history step, the token given back to a declined hosted-page
    /// attempt, its callback.
    pub(super) async fn finish_challenge(
        &self,
        session_id: &str,
        challenged: Challenged,
        now_ms: i64,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Payment> {
        let mut tx = self.begin_unit().await?;
        let confirmed = sqlx::query(
            "UPDATE three_ds_sessions SET state = $1, updated_at = $2, pan_ciphertext = '',
                 receiver_pan_ciphertext = NULL
             WHERE id = $3 AND state <> $1",
        )
        .bind(ThreeDsState::Confirmed.as_str())
        .bind(now_ms)
        .bind(session_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        claimed(confirmed, StoreError::AlreadyConfirmed)?;
        let mut payment = match challenged {
            Challenged::Payment { mut payment, effect, save_card } => {
                if Self::decide_payment(&mut tx, TxStatus::ThreeD, &mut payment, &effect, None, now_ms).await? {
                    payment.reference = String::new();
                }
                if let (0, Some(card)) = (payment.reason_code, &save_card) {
                    payment.card_id = Self::save_card(&mut tx, card).await?;
                }
                payment
            }
            Challenged::Transfer(settlement) => {
                Self::settle_transfer(&mut tx, TxStatus::ThreeD, settlement, now_ms).await?
            }
        };
        let moved = sqlx::query(
            "UPDATE payments SET status = $1, charged_minor = $2, fee_minor = $3, reason_code = $4,
                 reason = $5, approval_code = $6, reference = $7, card_id = $8, receiver_card_id = $9,
                 secure = $10, issuer = $11, card_account = $12, receiver_account = $13, updated_at = $14
             WHERE id = $15 AND status = $16",
        )
        .bind(payment.status.as_str())
        .bind(payment.charged_minor)
        .bind(payment.fee_minor)
        .bind(payment.reason_code)
        .bind(&payment.reason)
        .bind(&payment.approval_code)
        .bind(&payment.reference)
        .bind(&payment.card_id)
        .bind(&payment.receiver_card_id)
        .bind(payment.secure)
        .bind(&payment.issuer)
        .bind(&payment.card_account)
        .bind(&payment.receiver_account)
        .bind(now_ms)
        .bind(&payment.id)
        .bind(TxStatus::ThreeD.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        claimed(moved, StoreError::AlreadyConfirmed)?;
        payment.updated_at = now_ms;
        let amount = if payment.charged_minor > 0 { payment.charged_minor } else { payment.amount_minor };
        Self::record_event(
            &mut tx,
            &payment.id,
            PaymentStep::ThreeDs,
            payment.status,
            amount,
            payment.reason_code,
            now_ms,
        )
        .await?;
        if payment.status.is_declined() {
            Self::keep_session_token(&mut tx, session_id).await?;
        }
        if let Some(cb) = callback(&payment) {
            Self::insert_callback(&mut tx, &cb, now_ms).await?;
        }
        tx.finish().await?;
        Ok(payment)
    }
}

#[async_trait]
impl<DB: Backend> ThreeDsPort for SqlStore<DB> {
    async fn three_ds_session(&self, id: &str) -> StoreResult<Option<ThreeDsSession>> {
        let session = sqlx::query_as("SELECT * FROM three_ds_sessions WHERE id = $1").bind(id);
        Ok(session.fetch_optional(&self.reads).await?)
    }

    async fn three_ds_session_by_server_id(&self, server_trans_id: &str) -> StoreResult<Option<ThreeDsSession>> {
        let session =
            sqlx::query_as("SELECT * FROM three_ds_sessions WHERE server_trans_id = $1").bind(server_trans_id);
        Ok(session.fetch_optional(&self.reads).await?)
    }

    async fn answer_three_ds(&self, id: &str, state: ThreeDsState, reason_code: i32, now_ms: i64) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE three_ds_sessions SET state = $1, reason_code = $2, updated_at = $3
             WHERE id = $4 AND state = $5",
        )
        .bind(state.as_str())
        .bind(reason_code)
        .bind(now_ms)
        .bind(id)
        .bind(ThreeDsState::Pending.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn wrong_three_ds_code(
        &self,
        id: &str,
        limit: i32,
        reason_code: i32,
        now_ms: i64,
    ) -> StoreResult<Option<WrongCode>> {
        // One statement: the row is locked (PostgreSQL) or the database written (SQLite) while
        // the count rises, and the `state = pending` guard is read again after a parallel
        // answer's write, so the limit-th wrong code fails the challenge and later ones find it
        // answered.
        let counted: Option<CountedCode> = sqlx::query_as(
            "UPDATE three_ds_sessions SET code_failures = code_failures + 1, updated_at = $1,
                 state = CASE WHEN code_failures + 1 >= $2 THEN $3 ELSE state END,
                 reason_code = CASE WHEN code_failures + 1 >= $2 THEN $4 ELSE reason_code END
             WHERE id = $5 AND state = $6
             RETURNING code_failures, state",
        )
        .bind(now_ms)
        .bind(limit)
        .bind(ThreeDsState::Failed.as_str())
        .bind(reason_code)
        .bind(id)
        .bind(ThreeDsState::Pending.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(counted.map(|c| WrongCode { failures: c.code_failures, failed: c.state == ThreeDsState::Failed.as_str() }))
    }

    async fn finish_three_ds(&self, finish: ThreeDsFinish, callback: CallbackBuilder<'_>) -> StoreResult<Payment> {
        let ThreeDsFinish { session_id, payment, effect, save_card, now_ms } = finish;
        let challenged = Challenged::Payment { payment, effect, save_card };
        self.finish_challenge(&session_id, challenged, now_ms, callback).await
    }

    async fn abandoned_three_ds(&self, older_than_ms: i64, limit: i64) -> StoreResult<Vec<ThreeDsSession>> {
        let sessions = sqlx::query_as(
            "SELECT s.* FROM three_ds_sessions s JOIN payments p ON p.id = s.payment_id
             WHERE p.status = $3 AND s.state <> $4 AND s.created_at < $1
             ORDER BY s.created_at LIMIT $2",
        )
        .bind(older_than_ms)
        .bind(limit)
        .bind(TxStatus::ThreeD.as_str())
        .bind(ThreeDsState::Confirmed.as_str());
        Ok(sessions.fetch_all(&self.reads).await?)
    }

    async fn three_ds_session_of(&self, merchant_id: &str, payment_id: &str) -> StoreResult<Option<ThreeDsSession>> {
        let session = sqlx::query_as(
            "SELECT s.* FROM three_ds_sessions s JOIN payments p ON p.id = s.payment_id
             WHERE p.merchant_id = $1 AND s.payment_id = $2 ORDER BY s.created_at DESC LIMIT 1",
        )
        .bind(merchant_id)
        .bind(payment_id);
        Ok(session.fetch_optional(&self.reads).await?)
    }
}
