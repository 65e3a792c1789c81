//! A charge, cancel or refund decided before it touches the write connection, and written in one
//! round trip, as a card payment is (`read_ahead.rs`): on SQLite by the writer's committer, on
//! PostgreSQL as one statement that is its own transaction, after two reads outside any
//! transaction that lock nothing (the locked way there is `BEGIN`, the payment read and locked,
//! the accounts, the writes, `COMMIT`).
//!
//! Decided the locked way (`payments.rs`), an operation holds the write connection for a round
//! trip to read and lock its payment, one more for a refund's row (and one to look up an
//! earlier refund with the same externalID), one for the accounts it books, and the last for its
//! writes and RELEASE, each a wake-up of its task in between: the writer's one connection does
//! nothing else meanwhile. Here the payment, the earlier refund and the accounts are read first
//! (SQLite: on an inline read-only connection, `inline_reads.rs`, on the request's thread;
//! PostgreSQL: two statements on any connection), the state machine decides on them, and what is
//! left is writes only (SQLite: run by the committer in the open batch, or the next, one unit
//! after another with no task woken between them; PostgreSQL: one statement).
//!
//! What the read saw may be older than what the write meets (SQLite: the write connection's batch;
//! PostgreSQL: whatever committed between the read and the statement, or holds the payment's row
//! when the statement reaches it, which then waits for it and checks the row as it was left), so
//! the decision holds only while the payment is as read, which the unit's first write checks: the
//! compare-and-set of the payment's status and money (`operation_update`) must change its row,
//! or the unit stops there ([`StoreError::ConcurrentAttempt`]). Everything else the decision
//! took from the read follows from that row or never changes:
//! - **the status and amounts** (ePay's minimum refund among the checks) are the row's; the
//!   rest of the payment the decision and the booking use (its card account, terminal, amount,
//!   currencies and recorded rate) is fixed once it leaves `3D` (the only other update of a
//!   payment, `three_ds.rs`, moves it out of `3D`, from which no operation is allowed);
//! - **no earlier refund has this externalID**: refunds are only ever added, every refund
//!   changes the payment's refunded amount, and the refund was looked up after the payment was
//!   read, so a refund the lookup missed committed after the payment's read, or is still in the
//!   batch, and either way the compare-and-set fails; a refund's row is also unique by the
//!   refunded amount it was decided from;
//! - **the accounts' currencies and the holds' shards** never change once written.
//!
//! A unit whose check fails leaves nothing (SQLite: the writer rolls back to its savepoint;
//! PostgreSQL: the statement fails whole) and the operation goes the locked way, which reads
//! where it writes and answers as it always did. So does everything this path does not decide: a refusal (the locked way gives each its
//! answer, in its order: not found, wrong status, over the amount), a replay of a refund with
//! a known externalID (answered with the payment as the write connection has it), an operation
//! with a token bound to an invoice (its check reads the payment's history), and on PostgreSQL
//! an operation on a payment in another currency than its card's (a conversion account is opened
//! by a statement of its own: the unit is split, `writer.rs`, and sends nothing).

use epay_domain::transition::{self, Refunded};
use sqlx::{FromRow, Row};

use super::booking::{shard_of, Known, ACCOUNTS_AND_HOLDS};
use super::decisions::state_of;
use super::inline_reads::{self, query_on};
use super::payments::MERCHANTS_PAYMENT;
use super::read_ahead::read_or_log;
use super::{Backend, OneTrip, SqlStore};
use crate::model::*;
use crate::{StoreError, StoreResult};

/// What the read-only connection answered for an operation.
struct OperationRead {
    payment: Payment,
    /// A refund of the payment with the operation's externalID, if one was found.
    earlier_refund: bool,
    known: Known,
}

impl OperationRead {
    /// The read, from the payment and [`ACCOUNTS_AND_HOLDS`]'s rows for its `accounts` (card,
    /// merchant): `None` when one of those accounts is missing.
    fn of(
        payment: Payment,
        earlier_refund: bool,
        accounts: [&str; 2],
        rows: Vec<(String, Option<String>, Option<i32>)>,
    ) -> Option<Self> {
        let known = Known::from_rows(rows, true);
        accounts.iter().all(|account| known.currency(account).is_some()).then_some(OperationRead {
            payment,
            earlier_refund,
            known,
        })
    }
}

/// A refund of payment `$1` with externalID `$2`.
const EARLIER_REFUND: &str = "SELECT 1 FROM refunds WHERE payment_id = $1 AND external_id = $2";

/// PostgreSQL: [`MERCHANTS_PAYMENT`] (`$1` the payment, `$2` its merchant) and whether a refund
/// of it has externalID `$3`, in one snapshot: a refund the lookup missed committed after the
/// payment's read too, and changed the payment's refunded amount.
const PG_PAYMENT_AND_REFUND: &str = "SELECT p.*, EXISTS (SELECT 1 FROM refunds r
         WHERE r.payment_id = p.id AND r.external_id = $3) AS earlier_refund
     FROM payments p WHERE p.id = $1 AND p.merchant_id = $2";

impl<DB: Backend> SqlStore<DB> {
    /// Records `req` in one round trip on the write connection, when it can be decided ahead
    /// (see the module doc): `Ok(None)` when it cannot, or when the payment was no longer as
    /// read, and nothing was written; the caller then records it the locked way.
    pub(super) async fn operate_ahead(
        &self,
        req: &OperationRequest,
        callback: OperationCallbackBuilder<'_>,
    ) -> StoreResult<Option<OperationOutcome>> {
        // Every field, so that one added later is weighed here.
        let OperationRequest { merchant_id, terminal_id, invoice_bound, payment_id, operation, now_ms, idempotency } =
            req;
        if invoice_bound.is_some() || !self.decides_ahead() {
            return Ok(None);
        }
        let external_id = match operation {
            Operation::Refund { external_id, .. } => external_id.as_deref(),
            Operation::Charge { .. } | Operation::Cancel => None,
        };
        let read = match DB::ONE_TRIP {
            OneTrip::Statements => self.read_operation(payment_id, merchant_id, external_id),
            OneTrip::WritableCte => self.read_operation_in_two(payment_id, merchant_id, external_id).await,
        };
        let Some(read) = read else { return Ok(None) };
        let OperationRead { payment: p, earlier_refund, known } = read;
        if earlier_refund || terminal_id.as_ref().is_some_and(|t| *t != p.terminal_id) {
            return Ok(None);
        }
        let state = state_of(&p);
        let decided = match operation {
            Operation::Charge { amount_minor } => transition::charge(&state, *amount_minor),
            Operation::Cancel => transition::cancel(&state),
            Operation::Refund { amount_minor, .. } => match transition::refund(&state, *amount_minor, None) {
                Ok(Refunded::Moved(moved)) => Ok(moved),
                // Unreachable with no earlier refund; the locked way answers a replay.
                Ok(Refunded::Replay) => return Ok(None),
                Err(refusal) => Err(refusal),
            },
        };
        let Ok(moved) = decided else { return Ok(None) };

        let now = *now_ms;
        let update = Self::operation_update(&p, &moved, now).unless_one(StoreError::ConcurrentAttempt);
        let mut tx: super::Unit<DB> = super::Unit::detached([update]);
        // The row as the compare-and-set leaves it.
        let payment = Payment {
            status: moved.status,
            charged_minor: moved.charged_minor,
            refunded_minor: moved.refunded_minor,
            updated_at: now,
            ..p.clone()
        };
        let queued = async {
            if moved.operation == epay_domain::Operation::Refund {
                tx.defer(Self::refund_row(&p, &moved, external_id, now)).await?;
            }
            Self::book_operation(&mut tx, &p, &moved, Some(known), now).await?;
            if let Some(cb) = callback(&payment, moved.amount_minor) {
                Self::insert_callback(&mut tx, &cb, now).await?;
            }
            Self::commit_idempotency(&mut tx, idempotency.as_ref(), &payment).await
        }
        .await;
        let written = self.end_ahead(tx, queued).await?;
        Ok(written.then_some(OperationOutcome { payment, replayed: false }))
    }

    /// The payment, whether a refund of it has `external_id`, and what booking the operation
    /// needs (the card's and merchant's currencies, the holds' shards), read on an inline read
    /// connection. `None` when there is no such payment or it has no card account (the locked
    /// way answers both), when an account it books is missing, or when the read fails or
    /// another process keeps it busy.
    fn read_operation(&self, payment_id: &str, merchant_id: &str, external_id: Option<&str>) -> Option<OperationRead> {
        self.read_to_decide("an operation", |conn| {
            let payment =
                query_on(conn, MERCHANTS_PAYMENT, &[payment_id.into(), merchant_id.into()], inline_reads::payment)?;
            let Some(payment) = payment.into_iter().next() else { return Ok(None) };
            // After the payment: see the module doc for why this order.
            let earlier_refund = match external_id {
                Some(external) => {
                    !query_on(conn, EARLIER_REFUND, &[payment_id.into(), external.into()], |_| Ok(()))?.is_empty()
                }
                None => false,
            };
            let Some(card) = payment.card_account.clone() else { return Ok(None) };
            let merchant = merchant_account(&payment.terminal_id, &payment.currency);
            let args = [
                card.as_str().into(),
                merchant.as_str().into(),
                merchant.as_str().into(),
                payment_id.into(),
                shard_of(payment_id).into(),
            ];
            let rows = query_on(conn, ACCOUNTS_AND_HOLDS, &args, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(OperationRead::of(payment, earlier_refund, [&card, &merchant], rows))
        })
        .flatten()
    }

    /// [`Self::read_operation`] on PostgreSQL: two statements outside any transaction, locking
    /// nothing (the payment and its earlier refund, then the accounts and holds, which need the
    /// payment's card account). `None` as there; a failed read is logged.
    async fn read_operation_in_two(
        &self,
        payment_id: &str,
        merchant_id: &str,
        external_id: Option<&str>,
    ) -> Option<OperationRead> {
        let read = async {
            let row = sqlx::query::<DB>(PG_PAYMENT_AND_REFUND)
                .bind(payment_id)
                .bind(merchant_id)
                .bind(external_id)
                .fetch_optional(&self.reads)
                .await?;
            let Some(row) = row else { return Ok::<_, sqlx::Error>(None) };
            let payment = Payment::from_row(&row)?;
            let earlier_refund: bool = row.try_get("earlier_refund")?;
            let Some(card) = payment.card_account.clone() else { return Ok(None) };
            if payment.converts() {
                // Its booking opens a conversion account by a statement of its own: not one
                // statement, the locked way (without reading on).
                return Ok(None);
            }
            let merchant = merchant_account(&payment.terminal_id, &payment.currency);
            let rows = sqlx::query::<DB>(ACCOUNTS_AND_HOLDS)
                .bind(card.as_str())
                .bind(merchant.as_str())
                .bind(merchant.as_str())
                .bind(payment_id)
                .bind(shard_of(payment_id))
                .fetch_all(&self.reads)
                .await?;
            let rows = rows
                .iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("currency")?, r.try_get("shard")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            Ok(OperationRead::of(payment, earlier_refund, [&card, &merchant], rows))
        };
        read_or_log("an operation", read.await).flatten()
    }
}

#[cfg(test)]
mod tests;
