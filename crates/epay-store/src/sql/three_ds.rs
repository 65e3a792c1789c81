//! `ThreeDsPort`: 3-D Secure sessions, the ACS's answer, and ending a challenge (its payment's
//! decision, in the one transaction that confirms the session).

use async_trait::async_trait;
use epay_domain::{PaymentStep, ThreeDsState, TxStatus};
use sqlx::{ColumnIndex, Encode, Executor, FromRow, IntoArguments, Type};

use super::{Backend, RowsAffected, SqlStore, Value};
use crate::model::*;
use crate::ports::*;
use crate::{StoreError, StoreResult};

impl<DB> SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    String: Value<DB>,
    i64: Value<DB>,
    i32: Value<DB>,
    bool: Value<DB>,
    Option<String>: Value<DB>,
    Option<i64>: Value<DB>,
    Option<i32>: Value<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
{
    pub(super) async fn insert_three_ds(
        tx: &mut sqlx::Transaction<'static, DB>,
        t: &ThreeDsSession,
    ) -> Result<(), sqlx::Error> {
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

    /// Ends a 3-D Secure challenge (`confirmed`, by compare-and-set: only once), in the
    /// transaction that ends its payment or transfer. The challenge is over: the sealed
    /// card numbers are not needed any more.
    pub(super) async fn confirm_session(
        tx: &mut sqlx::Transaction<'static, DB>,
        session_id: &str,
        now: i64,
    ) -> StoreResult<()> {
        let claimed = sqlx::query(
            "UPDATE three_ds_sessions SET state = $1, updated_at = $2, pan_ciphertext = '',
                 receiver_pan_ciphertext = NULL
             WHERE id = $3 AND state <> $1",
        )
        .bind(ThreeDsState::Confirmed.as_str())
        .bind(now)
        .bind(session_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Err(StoreError::AlreadyConfirmed);
        }
        Ok(())
    }

    /// Ends a payment's or a transfer's 3-D Secure challenge once it is decided: the row
    /// moves from `3D` by compare-and-set (only once), its history step, the token given
    /// back to a declined hosted-page attempt, its callback; then commits.
    pub(super) async fn end_challenge(
        mut tx: sqlx::Transaction<'static, DB>,
        session_id: &str,
        mut payment: Payment,
        now_ms: i64,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Payment> {
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
        if moved != 1 {
            return Err(StoreError::AlreadyConfirmed);
        }
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
        tx.commit().await?;
        Ok(payment)
    }
}

#[async_trait]
impl<DB> ThreeDsPort for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    String: Value<DB>,
    i64: Value<DB>,
    i32: Value<DB>,
    bool: Value<DB>,
    Option<String>: Value<DB>,
    Option<i64>: Value<DB>,
    Option<i32>: Value<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
{
    async fn three_ds_session(&self, id: &str) -> StoreResult<Option<ThreeDsSession>> {
        let row =
            sqlx::query("SELECT * FROM three_ds_sessions WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(ThreeDsSession::from_row).transpose()?)
    }

    async fn three_ds_session_by_server_id(&self, server_trans_id: &str) -> StoreResult<Option<ThreeDsSession>> {
        let row = sqlx::query("SELECT * FROM three_ds_sessions WHERE server_trans_id = $1")
            .bind(server_trans_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(ThreeDsSession::from_row).transpose()?)
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

    async fn finish_three_ds(&self, finish: ThreeDsFinish, callback: CallbackBuilder<'_>) -> StoreResult<Payment> {
        let ThreeDsFinish { session_id, mut payment, effect, save_card, now_ms } = finish;
        let mut tx = self.pool.begin_with(DB::BEGIN).await?;
        Self::confirm_session(&mut tx, &session_id, now_ms).await?;
        if Self::decide_payment(&mut tx, TxStatus::ThreeD, &mut payment, &effect, now_ms).await? {
            payment.reference = String::new();
        }
        if let (0, Some(card)) = (payment.reason_code, &save_card) {
            payment.card_id = Self::save_card(&mut tx, card).await?;
        }
        Self::end_challenge(tx, &session_id, payment, now_ms, callback).await
    }

    async fn abandoned_three_ds(&self, older_than_ms: i64, limit: i64) -> StoreResult<Vec<ThreeDsSession>> {
        let rows = sqlx::query(
            "SELECT s.* FROM three_ds_sessions s JOIN payments p ON p.id = s.payment_id
             WHERE p.status = $3 AND s.state <> $4 AND s.created_at < $1
             ORDER BY s.created_at LIMIT $2",
        )
        .bind(older_than_ms)
        .bind(limit)
        .bind(TxStatus::ThreeD.as_str())
        .bind(ThreeDsState::Confirmed.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(ThreeDsSession::from_row).collect::<Result<_, _>>()?)
    }

    async fn three_ds_session_of(&self, merchant_id: &str, payment_id: &str) -> StoreResult<Option<ThreeDsSession>> {
        let row = sqlx::query(
            "SELECT s.* FROM three_ds_sessions s JOIN payments p ON p.id = s.payment_id
             WHERE p.merchant_id = $1 AND s.payment_id = $2 ORDER BY s.created_at DESC LIMIT 1",
        )
        .bind(merchant_id)
        .bind(payment_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(ThreeDsSession::from_row).transpose()?)
    }
}
