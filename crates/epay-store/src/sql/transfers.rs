//! `TransfersPort`: recording a transfer (P2P, AFT, OCT) and finishing one after 3-D Secure.

use async_trait::async_trait;
use epay_domain::transition::{self, Checks, DailyLimit, Decided, Decision, Decline};
use epay_domain::TxStatus;

use super::booking::{denomination, is_sharded, mixed_currencies, PayerRow, RoleAccounts};
use super::daily_totals::DailySubject;
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
        tx: &mut super::Unit<DB>,
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
        let mut checks = Checks::default();
        let mut known = None;
        if let Some(m) = &money {
            if m.to_account.starts_with("merchant:") {
                Self::open_account(tx, &m.to_account, AccountKind::Merchant, &payment.currency, now).await?;
            }
            if m.from_account.starts_with("merchant:") {
                Self::open_account(tx, &m.from_account, AccountKind::Merchant, &payment.currency, now).await?;
            }
            // The conversion accounts too, when the card is in another currency: `book` updates
            // them, and a payment takes them before its merchant's row.
            let conversion: Vec<String> = if payment.converts() {
                [&payment.currency, &payment.card_currency]
                    .map(|side| fx_account(&payment.currency, &payment.card_currency, side))
                    .into()
            } else {
                Vec::new()
            };
            // Locked: every account whose own row this transaction updates (cards, in one order
            // with every other transaction) or reads for a check (the payer's funds, the
            // receiver's daily limit). A sharded account that is only credited (a merchant
            // receiving an AFT, the fee and conversion accounts) is not: its sums are on shards,
            // and locking its row would make it the hot row sharding removed.
            let mut touched = vec![m.from_account.as_str(), m.to_account.as_str(), m.fee_account.as_str()];
            touched.extend(conversion.iter().map(String::as_str));
            let checked = |account: &&str| {
                !is_sharded(account)
                    || *account == m.from_account
                    || (*account == m.to_account && m.receiver_daily_limit_minor.is_some())
            };
            touched.retain(checked);
            Self::lock_accounts(tx, &touched).await?;
            // The payer's funds (its row locked just above) and every account's currency in one
            // read; `book` is handed the currencies.
            let others = [m.to_account.as_str(), m.fee_account.as_str()];
            let (funds, currencies) =
                Self::funds_and_currencies(tx, &payment, &m.from_account, others, PayerRow::Locked).await?;
            let to_currency =
                currencies.currency(&m.to_account).ok_or_else(|| mixed_currencies(&payment.id))?.to_string();
            // The terminal's total of the day, after the accounts: every transfer of the terminal
            // takes this one row, so it is held from here to COMMIT only (not while the accounts
            // are locked and read). One order for every transfer: accounts, then the terminal's
            // total, then the receiver's.
            let terminal = DailySubject::Terminal(&payment.terminal_id);
            if let Some(limit) = m.terminal_daily_limit_minor {
                // The row is locked until commit (PostgreSQL), so the terminal's limited
                // transfers are checked one after another against a total no other can change.
                let used = Self::daily_total(tx, terminal, &payment.currency, m.day_start_ms).await?;
                checks.terminal_limit = Some(DailyLimit { limit_minor: limit, used_minor: used });
            } else {
                // No limit now, but a row of the day (a limit set earlier today, or seen by a
                // node whose copy of the terminal is newer) is added to at the end: locked here,
                // in the order a limited transfer locks it.
                Self::lock_daily_total(tx, terminal, &payment.currency, m.day_start_ms).await?;
            }
            // The receiving account is locked above (`lock_accounts`), so its credits today cannot
            // change between this sum and the booking.
            if let Some(limit) = m.receiver_daily_limit_minor {
                // The receiving account has one currency, and so have its credits and limit.
                let receiver = DailySubject::Receiver(&m.to_account);
                let used = Self::daily_total(tx, receiver, &to_currency, m.day_start_ms).await?;
                let side = denomination(&payment, &to_currency).ok_or_else(|| mixed_currencies(&payment.id))?;
                checks.receiver_limit = Some((side, DailyLimit { limit_minor: limit, used_minor: used }));
            }
            checks.payer = funds;
            if checks.payer.is_none() {
                return Err(mixed_currencies(&payment.id).into());
            }
            known = Some(currencies);
        }
        let reasons = [insufficient_funds, receiver_limit, terminal_limit];
        let decided = Self::apply_transfer_decision(from, &mut payment, decision, &checks, reasons)?;
        if let (Some(m), false) = (&money, decided.postings.is_empty()) {
            // `book` opens the fee account if its posting names it for the first time.
            let accounts = RoleAccounts { payer: &m.from_account, payee: &m.to_account, fee: Some(&m.fee_account) };
            let booked = Self::book(tx, &payment, &accounts, &decided.postings, known, now).await?;
            if payment.status == TxStatus::Charge {
                Self::count_in_daily_totals(tx, &payment, m, &booked).await?;
            }
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

impl<DB: Backend> SqlStore<DB> {
    /// Decides a transfer waiting in `from` by the state machine, on what `checks` read, and
    /// records the outcome on its row: status, charged amount and fee, and for a decline its
    /// reason, the one `reasons` names for it (insufficient funds, the receiver's limit, the
    /// terminal's limit, as the settlement gives them).
    pub(super) fn apply_transfer_decision(
        from: TxStatus,
        payment: &mut Payment,
        decision: Decision,
        checks: &Checks,
        reasons: [(i32, String); 3],
    ) -> StoreResult<Decided> {
        let state = waiting_state(payment, from);
        let decided = transition::decide(&state, decision, checks).map_err(illegal(from, payment.status))?;
        payment.status = decided.status;
        payment.charged_minor = decided.charged_minor;
        if let Some(fee) = decided.fee_minor {
            payment.fee_minor = fee;
        }
        if let Some(why) = decided.declined {
            let [insufficient_funds, receiver_limit, terminal_limit] = reasons;
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
        Ok(decided)
    }
}

#[async_trait]
impl<DB: Backend> TransfersPort for SqlStore<DB> {
    async fn record_transfer(&self, write: TransferWrite, callback: CallbackBuilder<'_>) -> StoreResult<Payment> {
        // Decided on what one read answered, written in one round trip (`read_ahead.rs`); when
        // that path cannot decide it, or what it read went out of date, decided here the locked
        // way (on SQLite on the write connection; on PostgreSQL in a transaction of its own).
        if let Some(recorded) = self.transfer_read_ahead(&write, callback).await? {
            return Ok(recorded);
        }
        let TransferWrite { token_digest, token_expires_at, token_spend, settlement, three_ds, idempotency } = write;
        let now = settlement.payment.created_at;
        let opening = self.begin_opening().await?;
        let mut settlement = settlement;
        let (mut tx, attempt, _) =
            Self::open_attempt(opening, &token_digest, token_expires_at, now, &settlement.payment, None).await?;
        settlement.payment.attempt = attempt;
        let payment = Self::settle_transfer(&mut tx, TxStatus::New, settlement, now).await?;
        let ending = AttemptEnd { token_digest: &token_digest, token_spend, three_ds: three_ds.as_ref(), callback };
        Self::end_attempt(&mut tx, &payment, ending, idempotency.as_ref(), now).await?;
        tx.finish().await?;
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
