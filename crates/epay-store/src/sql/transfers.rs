//! `TransfersPort`: recording a transfer (P2P, AFT, OCT) and finishing one after 3-D Secure.

use async_trait::async_trait;
use epay_domain::transition::{self, Checks, DailyLimit, Decline};
use epay_domain::{LedgerTransferKind, PaymentKind, TransferKind, TxStatus};
use sqlx::Row;

use super::booking::{denomination, mixed_currencies, RoleAccounts};
use super::decisions::{illegal, transfer_decision, waiting_state};
use super::three_ds::Challenged;
use super::writes::AttemptEnd;
use super::{Backend, SqlStore};
use crate::model::*;
use crate::ports::*;
use crate::StoreResult;

impl<DB: Backend> SqlStore<DB> {
    /// Decides a transfer waiting in `from` (`NEW`, or `3D` after its challenge) through
    /// the state machine: limits checked, amount and fee together or not at all; a limit
    /// or balance that does not allow it turns it into a REJECT with that reason. Books
    /// the money and saves the cards of an approved transfer.
    pub(super) async fn settle_transfer(
        tx: &mut sqlx::Transaction<'static, DB>,
        from: TxStatus,
        settlement: TransferSettlement,
        now: i64,
    ) -> StoreResult<Payment> {
        let decision = transfer_decision(from, &settlement)?;
        let TransferSettlement {
            mut payment,
            money,
            save_sender,
            save_receiver,
            insufficient_funds,
            receiver_limit,
            terminal_limit,
        } = settlement;
        let state = waiting_state(&payment, from);
        let mut checks = Checks::default();
        if let Some(m) = &money {
            if let Some(limit) = m.terminal_daily_limit_minor {
                // Serializes this terminal's transfers on PostgreSQL for the limit check.
                sqlx::query(&format!("SELECT id FROM terminals WHERE id = $1 {}", DB::FOR_UPDATE))
                    .bind(&payment.terminal_id)
                    .fetch_optional(&mut **tx)
                    .await?;
                // Counted when the money moved (its ledger transfer), not when the transfer
                // was created: a 3-D Secure transfer confirmed after midnight counts today.
                // The limit is per currency: only transfers in this one count.
                let row = sqlx::query(
                    "SELECT CAST(COALESCE(SUM(p.amount_minor), 0) AS BIGINT) AS total FROM payments p
                     WHERE p.terminal_id = $1 AND p.kind IN ($5, $6, $7) AND p.status = $4
                       AND p.currency = $3
                       AND EXISTS (SELECT 1 FROM ledger_transfers lt WHERE lt.payment_id = p.id
                                   AND lt.id LIKE '%:transfer' AND lt.created_at >= $2)",
                )
                .bind(&payment.terminal_id)
                .bind(m.day_start_ms)
                .bind(&payment.currency)
                .bind(TxStatus::Charge.as_str())
                .bind(PaymentKind::from(TransferKind::P2p).as_str())
                .bind(PaymentKind::from(TransferKind::Aft).as_str())
                .bind(PaymentKind::from(TransferKind::Oct).as_str())
                .fetch_one(&mut **tx)
                .await?;
                checks.terminal_limit = Some(DailyLimit { limit_minor: limit, used_minor: row.try_get("total")? });
            }
            if m.to_account.starts_with("merchant:") {
                Self::open_account(tx, &m.to_account, AccountKind::Merchant, &payment.currency, now).await?;
            }
            if m.from_account.starts_with("merchant:") {
                Self::open_account(tx, &m.from_account, AccountKind::Merchant, &payment.currency, now).await?;
            }
            // The conversion accounts too, when the card is in another currency: `book` updates
            // them, and a payment takes them before its merchant's row.
            let converts = !payment.card_currency.is_empty() && payment.card_currency != payment.currency;
            let conversion: Vec<String> = if converts {
                [&payment.currency, &payment.card_currency]
                    .map(|side| fx_account(&payment.currency, &payment.card_currency, side))
                    .into()
            } else {
                Vec::new()
            };
            let mut touched = vec![m.from_account.as_str(), m.to_account.as_str(), m.fee_account.as_str()];
            touched.extend(conversion.iter().map(String::as_str));
            Self::lock_accounts(tx, &touched).await?;
            let to_currency =
                Self::account_currency(tx, &m.to_account).await?.ok_or_else(|| mixed_currencies(&payment.id))?;
            // The receiving account is locked above (`lock_accounts`), so its credits today cannot
            // change between this sum and the booking.
            if let Some(limit) = m.receiver_daily_limit_minor {
                // The receiving account has one currency, and so have its credits and limit.
                let row = sqlx::query(
                    "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM ledger_transfers
                     WHERE credit_account = $1 AND kind = $3 AND payment_id IS NOT NULL
                       AND (id LIKE '%:transfer' OR id LIKE '%:transfer:fx') AND created_at >= $2",
                )
                .bind(&m.to_account)
                .bind(m.day_start_ms)
                .bind(LedgerTransferKind::Posted.as_str())
                .fetch_one(&mut **tx)
                .await?;
                let side = denomination(&payment, &to_currency).ok_or_else(|| mixed_currencies(&payment.id))?;
                checks.receiver_limit =
                    Some((side, DailyLimit { limit_minor: limit, used_minor: row.try_get("total")? }));
            }
            checks.payer = Self::funds(tx, &payment, &m.from_account).await?;
            if checks.payer.is_none() {
                return Err(mixed_currencies(&payment.id).into());
            }
        }
        let decided = transition::decide(&state, decision, &checks).map_err(illegal(from, payment.status))?;
        payment.status = decided.status;
        payment.charged_minor = decided.charged_minor;
        if let Some(fee) = decided.fee_minor {
            payment.fee_minor = fee;
        }
        if let Some(why) = decided.declined {
            let (code, reason) = match why {
                Decline::InsufficientFunds => insufficient_funds,
                Decline::ReceiverLimit => receiver_limit,
                Decline::TerminalLimit => terminal_limit,
            };
            payment.reason_code = code;
            payment.reason = reason;
            payment.approval_code = String::new();
            payment.reference = String::new();
        }
        if let (Some(m), false) = (&money, decided.postings.is_empty()) {
            if m.fee_minor > 0 {
                Self::open_account(tx, &m.fee_account, AccountKind::Merchant, &payment.currency, now).await?;
            }
            let accounts = RoleAccounts { payer: &m.from_account, payee: &m.to_account, fee: Some(&m.fee_account) };
            Self::book(tx, &payment, &accounts, &decided.postings, now).await?;
        }
        if payment.reason_code == 0 {
            if let Some(card) = &save_sender {
                payment.card_id = Self::save_card(tx, card).await?;
            }
            if let Some(card) = &save_receiver {
                payment.receiver_card_id = Self::save_card(tx, card).await?;
            }
        }
        Ok(payment)
    }
}

#[async_trait]
impl<DB: Backend> TransfersPort for SqlStore<DB> {
    async fn record_transfer(&self, write: TransferWrite, callback: CallbackBuilder<'_>) -> StoreResult<Payment> {
        let TransferWrite { token_digest, token_expires_at, token_spend, settlement, three_ds, idempotency } = write;
        let now = settlement.payment.created_at;
        let mut tx = self.pool.begin_with(DB::BEGIN).await?;
        Self::spend_token_in(&mut tx, &token_digest, token_expires_at, now).await?;
        let mut settlement = settlement;
        settlement.payment.attempt = Self::number_attempt(&mut tx, &settlement.payment).await?;
        let payment = Self::settle_transfer(&mut tx, TxStatus::New, settlement, now).await?;
        let ending = AttemptEnd { token_digest: &token_digest, token_spend, three_ds: three_ds.as_ref(), callback };
        Self::end_attempt(&mut tx, &payment, ending, idempotency.as_ref(), now).await?;
        tx.commit().await?;
        Ok(payment)
    }

    async fn finish_three_ds_transfer(
        &self,
        session_id: &str,
        settlement: TransferSettlement,
        now_ms: i64,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Payment> {
        self.finish_challenge(session_id, Challenged::Transfer(settlement), now_ms, callback).await
    }
}
