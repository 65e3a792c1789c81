//! `PaymentsPort`: payment attempts, charge/cancel/refund (`operate`), expiry of holds, refunds.

use async_trait::async_trait;
use epay_domain::transition::{self, Refunded};
use epay_domain::TxStatus;
use sqlx::{FromRow, Row};

use super::booking::{Known, RoleAccounts};
use super::decisions::{refused, state_of};
use super::inline_reads;
use super::pipeline::Step;
use super::writes::{is_unique_violation, AttemptEnd};
use super::{Backend, RowsAffected, SqlStore};
use crate::model::*;
use crate::ports::*;
use crate::{StoreError, StoreResult, LINK_TOKEN_PREFIX};

/// A payment as its merchant may see it (`$1` id, `$2` merchant): another merchant's is none.
pub(super) const MERCHANTS_PAYMENT: &str = "SELECT * FROM payments WHERE id = $1 AND merchant_id = $2";

/// How an operation's write ended.
enum Applied {
    Done,
    /// The payment was no longer as read (another request or node moved it first).
    Lost,
    /// A concurrent refund with the same externalID committed first: retry and replay it.
    RefundRace,
}

impl<DB: Backend> SqlStore<DB> {
    /// Holds the invoice link of a payment made with a link's token, inside the payment's unit:
    /// a no-op UPDATE that matches only an ACTIVE, unexpired link, so it takes the link row's
    /// write lock until the payment commits. A cancel (`cancel_invoice_link`) locks the same
    /// row first, so the two are serialized: a cancel that committed first leaves no ACTIVE
    /// row here (`LinkClosed`, nothing written); a payment that committed first is seen by the
    /// cancel's check for a paid payment, which runs after its lock.
    async fn hold_active_link(tx: &mut super::Unit<DB>, p: &Payment, now: i64) -> StoreResult<()> {
        let held = sqlx::query(
            "UPDATE invoice_links SET state = state
             WHERE terminal_id = $1 AND invoice_id = $2 AND state = 'ACTIVE' AND expires_at > $3",
        )
        .bind(&p.terminal_id)
        .bind(&p.invoice_id)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if held == 1 {
            Ok(())
        } else {
            Err(StoreError::LinkClosed)
        }
    }

    /// The compare-and-set that moves `p` as `moved` says: the new status and money, only while
    /// the payment's status and money are still those it was decided from.
    pub(super) fn operation_update(p: &Payment, moved: &transition::Moved, now: i64) -> Step {
        Step::new(
            "UPDATE payments SET status = $1, charged_minor = $2, refunded_minor = $3, updated_at = $4
             WHERE id = $5 AND status = $6 AND charged_minor = $7 AND refunded_minor = $8",
            vec![
                moved.status.as_str().into(),
                moved.charged_minor.into(),
                moved.refunded_minor.into(),
                now.into(),
                (&p.id).into(),
                p.status.as_str().into(),
                p.charged_minor.into(),
                p.refunded_minor.into(),
            ],
        )
        .row(format!("payments:{}", p.id))
    }

    /// A refund's row, named like its ledger transfer: refunded-so-far only grows, so the id is
    /// unique, and a second refund decided from the same refunded amount is a unique violation.
    pub(super) fn refund_row(p: &Payment, moved: &transition::Moved, external_id: Option<&str>, now: i64) -> Step {
        Step::new(
            "INSERT INTO refunds (id, payment_id, external_id, amount_minor, created_at) VALUES ($1, $2, $3, $4, $5)",
            vec![
                format!("{}:refund:{}", p.id, p.refunded_minor).into(),
                (&p.id).into(),
                external_id.into(),
                moved.amount_minor.into(),
                now.into(),
            ],
        )
    }

    /// An operation's money and history: its postings between the payment's card and merchant
    /// accounts, and its step. `known`: the accounts' currencies and the holds' shards, when
    /// they were read before (`operate_ahead.rs`).
    pub(super) async fn book_operation(
        tx: &mut super::Unit<DB>,
        p: &Payment,
        moved: &transition::Moved,
        known: Option<Known>,
        now: i64,
    ) -> StoreResult<()> {
        let card = p.card_account.clone().unwrap_or_default();
        let merchant = merchant_account(&p.terminal_id, &p.currency);
        let accounts = RoleAccounts { payer: &card, payee: &merchant, fee: None };
        Self::book(tx, p, &accounts, &moved.postings, known, now).await?;
        Self::record_event(tx, &p.id, moved.operation.into(), moved.status, moved.amount_minor, 0, now).await
    }

    /// Applies an operation the state machine allowed (`moved`, from `p` as read): the new
    /// status and money by compare-and-set on the status and money it was decided from,
    /// a refund's row, the postings, the history step. With `lost`, the compare-and-set is
    /// queued with the other writes (`pipeline.rs`) and a payment no longer as read fails the
    /// unit with `lost` when they are sent; without, it runs at once and answers `Lost`.
    async fn apply_operation(
        tx: &mut super::Unit<DB>,
        p: &Payment,
        moved: &transition::Moved,
        external_id: Option<&str>,
        now: i64,
        lost: Option<StoreError>,
    ) -> StoreResult<Applied> {
        let update = Self::operation_update(p, moved, now);
        match lost {
            Some(lost) => tx.defer(update.unless_one(lost)).await?,
            None => match update.unless_one(StoreError::Refused(Refusal::Busy)).run::<DB>(&mut **tx).await {
                Ok(()) => {}
                Err(StoreError::Refused(Refusal::Busy)) => return Ok(Applied::Lost),
                Err(e) => return Err(e),
            },
        }
        if moved.operation == epay_domain::Operation::Refund {
            // Run at once: a concurrent refund with the same externalID that committed first is
            // a retry, not an error.
            match Self::refund_row(p, moved, external_id, now).run::<DB>(&mut **tx).await {
                Ok(()) => {}
                Err(StoreError::Database(e)) if is_unique_violation(&e) => return Ok(Applied::RefundRace),
                Err(e) => return Err(e),
            }
        }
        Self::book_operation(tx, p, moved, None, now).await?;
        Ok(Applied::Done)
    }

    /// Whether a token bound to `bound.invoice_id` may move `p`'s money: it must name `p`'s
    /// invoice and have been issued after `p` was decided, i.e. after its history first
    /// shows AUTH or CHARGE. The decision, once made, never changes, so reading it in the
    /// operation's transaction is as good as a lock. No such step (a payment still in 3D,
    /// a declined one, or one made before migration 0007 wrote histories): refused.
    async fn bound_token_may_operate(
        tx: &mut super::Unit<DB>,
        p: &Payment,
        bound: &InvoiceBound,
    ) -> Result<bool, sqlx::Error> {
        if p.invoice_id != bound.invoice_id {
            return Ok(false);
        }
        let decided: Option<i64> = sqlx::query(
            "SELECT MIN(created_at) AS decided FROM payment_events
             WHERE payment_id = $1 AND status IN ($2, $3)",
        )
        .bind(&p.id)
        .bind(TxStatus::Auth.as_str())
        .bind(TxStatus::Charge.as_str())
        .fetch_one(&mut **tx)
        .await?
        .try_get("decided")?;
        Ok(decided.is_some_and(|decided| bound.issued_at > decided))
    }

    /// One attempt at an operation; `Ok(None)` asks the caller to retry (a concurrent
    /// refund with the same externalID committed first).
    async fn try_operate(
        &self,
        req: &OperationRequest,
        callback: OperationCallbackBuilder<'_>,
    ) -> StoreResult<Option<OperationOutcome>> {
        let now = req.now_ms;
        // The payment, locked, read in the round trip that opens the unit (`Opening`).
        let locked = format!("{MERCHANTS_PAYMENT} {}", DB::FOR_UPDATE);
        let args = [(&req.payment_id).into(), (&req.merchant_id).into()];
        let (mut tx, done) = self.begin_opening().await?.open(&locked, &args).await?;
        let row = done.first().and_then(|read| read.rows.first());
        let row: Option<Payment> = row.map(Payment::from_row).transpose()?;
        let p = match row {
            Some(p) if req.terminal_id.as_ref().is_none_or(|t| *t == p.terminal_id) => p,
            _ => return Err(StoreError::Refused(Refusal::NotFound)),
        };
        if let Some(bound) = &req.invoice_bound {
            if !Self::bound_token_may_operate(&mut tx, &p, bound).await? {
                return Err(StoreError::Refused(Refusal::NotThisToken));
            }
        }
        // The state machine (epay_domain::transition) judges the operation on the row as
        // this transaction sees it: locked on PostgreSQL, and SQLite runs one transaction
        // at a time, so no concurrent operation changes it between the checks (ePay's
        // minimum refund among them) and the write, which is a compare-and-set anyway.
        let state = state_of(&p);
        let moved = match &req.operation {
            Operation::Charge { amount_minor } => transition::charge(&state, *amount_minor).map_err(refused)?,
            Operation::Cancel => transition::cancel(&state).map_err(refused)?,
            Operation::Refund { amount_minor, external_id } => {
                let mut earlier = None;
                if let Some(external) = external_id {
                    let row =
                        sqlx::query("SELECT amount_minor FROM refunds WHERE payment_id = $1 AND external_id = $2")
                            .bind(&p.id)
                            .bind(external)
                            .fetch_optional(&mut *tx)
                            .await?;
                    earlier = row.map(|r| r.try_get::<i64, _>("amount_minor")).transpose()?;
                }
                match transition::refund(&state, *amount_minor, earlier).map_err(refused)? {
                    Refunded::Moved(moved) => moved,
                    Refunded::Replay => {
                        Self::commit_idempotency(&mut tx, req.idempotency.as_ref(), &p).await?;
                        tx.finish().await?;
                        return Ok(Some(OperationOutcome { payment: p, replayed: true }));
                    }
                }
            }
        };
        let external_id = match &req.operation {
            Operation::Refund { external_id, .. } => external_id.as_deref(),
            _ => None,
        };
        // What answers a payment no longer as read (another request or node moved it first).
        let lost = if moved.operation == epay_domain::Operation::Refund {
            Refusal::OverAmount { left_minor: state.refundable() }
        } else {
            Refusal::WrongStatus { status: p.status }
        };
        match Self::apply_operation(&mut tx, &p, &moved, external_id, now, Some(StoreError::Refused(lost))).await? {
            Applied::Done => {}
            Applied::RefundRace => return Ok(None),
            // Only without `lost`.
            Applied::Lost => return Err(StoreError::Refused(Refusal::Busy)),
        }
        // The row as the compare-and-set leaves it: no read back.
        let payment = Payment {
            status: moved.status,
            charged_minor: moved.charged_minor,
            refunded_minor: moved.refunded_minor,
            updated_at: now,
            ..p
        };
        if let Some(cb) = callback(&payment, moved.amount_minor) {
            Self::insert_callback(&mut tx, &cb, now).await?;
        }
        Self::commit_idempotency(&mut tx, req.idempotency.as_ref(), &payment).await?;
        tx.finish().await?;
        Ok(Some(OperationOutcome { payment, replayed: false }))
    }
}

#[async_trait]
impl<DB: Backend> PaymentsPort for SqlStore<DB> {
    async fn payment_by_invoice(&self, terminal_id: &str, invoice_id: &str) -> StoreResult<Option<Payment>> {
        const LAST_ATTEMPT: &str =
            "SELECT * FROM payments WHERE terminal_id = $1 AND invoice_id = $2 ORDER BY attempt DESC LIMIT 1";
        let args = [terminal_id.into(), invoice_id.into()];
        if let Some(rows) = self.read_inline(LAST_ATTEMPT, &args, inline_reads::payment)? {
            return Ok(rows.into_iter().next());
        }
        let last = sqlx::query_as(LAST_ATTEMPT).bind(terminal_id).bind(invoice_id);
        Ok(last.fetch_optional(&self.reads).await?)
    }

    async fn invoice_attempts(
        &self,
        merchant_id: &str,
        terminal_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Vec<Payment>> {
        let attempts = sqlx::query_as(
            "SELECT * FROM payments WHERE merchant_id = $1 AND terminal_id = $2 AND invoice_id = $3
             ORDER BY attempt",
        )
        .bind(merchant_id)
        .bind(terminal_id)
        .bind(invoice_id);
        Ok(attempts.fetch_all(&self.reads).await?)
    }

    async fn record_payment(&self, write: PaymentWrite, callback: CallbackBuilder<'_>) -> StoreResult<RecordedPayment> {
        // Decided on what one read answered, written in one round trip (`read_ahead.rs`); when
        // that path cannot decide it, or what it read went out of date, decided here the locked
        // way (on SQLite on the write connection; on PostgreSQL in a transaction of its own).
        if let Some(recorded) = self.pay_read_ahead(&write, callback).await? {
            return Ok(recorded);
        }
        let PaymentWrite {
            token_digest,
            token_expires_at,
            token_spend,
            mut payment,
            effect,
            save_card,
            three_ds,
            idempotency,
            subscription,
        } = write;
        let now = payment.created_at;
        let opening = self.begin_opening().await?;
        let (mut tx, read) = if token_digest.starts_with(LINK_TOKEN_PREFIX) {
            // An invoice link's payment first holds the link, then spends and numbers.
            let mut tx = opening.plain().await?;
            Self::hold_active_link(&mut tx, &payment, now).await?;
            payment.attempt = Self::spend_and_number(&mut tx, &token_digest, token_expires_at, now, &payment).await?;
            (tx, None)
        } else {
            let card = match &effect {
                PaymentEffect::Debit { card_account, merchant_account, .. } => {
                    Some((card_account.as_str(), merchant_account.as_str()))
                }
                _ => None,
            };
            let (tx, attempt, read) =
                Self::open_attempt(opening, &token_digest, token_expires_at, now, &payment, card).await?;
            payment.attempt = attempt;
            (tx, read)
        };

        Self::decide_payment(&mut tx, TxStatus::New, &mut payment, &effect, read, now).await?;

        let approved = payment.reason_code == 0;
        let mut saved_card_id = None;
        if let (true, Some(CardToSave { card, recurrent })) = (approved, save_card) {
            let id = Self::save_card(&mut tx, &card).await?;
            if let (true, Some(card_id)) = (recurrent, &id) {
                Self::record_recurrent_agreement(&mut tx, &payment, card_id, now).await?;
            }
            payment.card_id = id.clone();
            saved_card_id = id;
        }
        if let Some(charge) = &subscription {
            Self::record_subscription_charge(&mut tx, charge, &payment, now).await?;
        }

        let ending = AttemptEnd { token_digest: &token_digest, token_spend, three_ds: three_ds.as_ref(), callback };
        Self::end_attempt(&mut tx, &payment, ending, idempotency.as_ref(), now).await?;
        tx.finish().await?;
        Ok(RecordedPayment { payment, saved_card_id })
    }

    async fn payment(&self, merchant_id: &str, id: &str) -> StoreResult<Option<Payment>> {
        // Inline on SQLite, like `payment_by_invoice`: an operation's request reads its payment
        // first (services/operations), and so do the cabinet, receipts and 3-D Secure.
        let args = [id.into(), merchant_id.into()];
        if let Some(rows) = self.read_inline(MERCHANTS_PAYMENT, &args, inline_reads::payment)? {
            return Ok(rows.into_iter().next());
        }
        Ok(sqlx::query_as(MERCHANTS_PAYMENT).bind(id).bind(merchant_id).fetch_optional(&self.reads).await?)
    }

    async fn payment_by_id(&self, id: &str) -> StoreResult<Option<Payment>> {
        Ok(sqlx::query_as("SELECT * FROM payments WHERE id = $1").bind(id).fetch_optional(&self.reads).await?)
    }

    async fn operate(
        &self,
        request: OperationRequest,
        callback: OperationCallbackBuilder<'_>,
    ) -> StoreResult<OperationOutcome> {
        // Decided on what was read, written in one round trip (`operate_ahead.rs`); when that
        // path cannot decide it, or the payment moved since it was read, decided here the locked
        // way.
        if let Some(outcome) = self.operate_ahead(&request, callback).await? {
            return Ok(outcome);
        }
        // Two attempts: the second runs only when a concurrent refund with the same
        // externalID won the race, and then replays it.
        for _ in 0..2 {
            if let Some(outcome) = self.try_operate(&request, callback).await? {
                return Ok(outcome);
            }
        }
        Err(StoreError::Refused(Refusal::Busy))
    }

    async fn expire_authorizations(
        &self,
        now_ms: i64,
        limit: i64,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Vec<Payment>> {
        let expire = epay_domain::Operation::Expire;
        // The due payments, read without a lock; each is then expired in a unit of its own that
        // locks it (skipping one another node holds) and finds it still due. One unit for the
        // batch would lock their cards and merchant shards payment after payment, an order no
        // other transaction keeps, and could deadlock with an operation or a payment of one of
        // those cards on PostgreSQL.
        let due = "SELECT p.id FROM payments p JOIN terminals t ON t.id = p.terminal_id
             WHERE p.status = $3 AND p.created_at + t.hold_period_secs * 1000 <= $1
             ORDER BY p.created_at LIMIT $2";
        let due = sqlx::query(due)
            .bind(now_ms)
            .bind(limit)
            .bind(expire.from_status().as_str())
            .fetch_all(&self.reads)
            .await?;
        let locked =
            format!("SELECT p.* FROM payments p WHERE p.id = $1 AND p.status = $2 {}", DB::SKIP_LOCKED_PAYMENTS);
        let mut expired = Vec::new();
        for row in due {
            let id: String = row.try_get("id")?;
            let mut tx = self.begin_unit().await?;
            let p: Option<Payment> =
                sqlx::query_as(&locked).bind(&id).bind(expire.from_status().as_str()).fetch_optional(&mut *tx).await?;
            // Moved since the read, or held by another node's sweep or an operation: not now.
            let Some(p) = p else { continue };
            // Only a card payment is ever held; anything else in AUTH is left alone.
            let Ok(moved) = transition::expire(&state_of(&p)) else { continue };
            if let Applied::Done = Self::apply_operation(&mut tx, &p, &moved, None, now_ms, None).await? {
                let p = Payment { status: moved.status, updated_at: now_ms, ..p };
                if let Some(cb) = callback(&p) {
                    Self::insert_callback(&mut tx, &cb, now_ms).await?;
                }
                tx.finish().await?;
                expired.push(p);
            }
        }
        Ok(expired)
    }

    async fn refunds_of(&self, payment_id: &str) -> StoreResult<Vec<(String, Option<String>, i64)>> {
        let rows = sqlx::query(
            "SELECT id, external_id, amount_minor FROM refunds WHERE payment_id = $1 ORDER BY created_at, id",
        )
        .bind(payment_id)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("external_id")?, r.try_get("amount_minor")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
