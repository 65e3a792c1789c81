//! SQLite: a card payment decided before it takes the write connection, and written in one
//! round trip.
//!
//! The group-commit writer (`writer.rs`) runs one unit at a time on its one connection, so the
//! time a unit holds it bounds how many payments a second SQLite can take, however many cores
//! are idle. A card payment decided on the write connection holds it for two round trips to the
//! connection's thread and, between them, for the wake-up of its task and its decision: its
//! opening read (the token's spend, the attempt's number, the card's funds) must come back
//! before it knows what to write.
//!
//! Here the reads go first, on a read-only connection (WAL: they wait for no writer), and the
//! payment is decided on them. Only then does it take the write connection, and it sends its
//! whole unit at once: the savepoint (or the batch's BEGIN), the token's spend, the writes,
//! RELEASE. What the read-only connection read may be older than the write connection's batch
//! (units not yet committed are invisible to it), so every fact the decision took from it is
//! held again on the write connection, inside the unit:
//! - **the token is unspent**: its spend is a plain insert, and a spent token's id is a unique
//!   violation;
//! - **the attempt's number is free and nothing holds the invoice**: the payment's insert meets
//!   the unique indexes `payments_invoice_attempt` and `payments_invoice_holding`, as it does
//!   when two attempts number at once on PostgreSQL;
//! - **the card covers the debit**: the database refuses to take a card's account below zero
//!   (migration 0015's trigger on `ledger_accounts`), and for an approval that is exactly the
//!   state machine's funds check. It checks what the card has now, not the balance the read saw,
//!   so payments from one card in one batch do not trip each other.
//!
//! Any of these failing stops the unit's statements; the unit is dropped (the next holder of
//! the connection rolls back to its savepoint, `writer.rs`) and the payment goes the locked way
//! (`payments.rs`), which reads on the write connection and answers as it always did: a spent
//! token, a taken invoice, insufficient funds. So does everything this path does not decide:
//! a refusal or a decline (the locked way gives each its answer, in its order), a payment that
//! saves a card, opens a 3-D Secure challenge, charges a subscription or comes from an invoice
//! link (their writes read on the write connection), and PostgreSQL, whose units are
//! transactions of their own on a pool of connections.

use epay_domain::posting::Denomination;
use epay_domain::transition::Checks;
use epay_domain::{AccountKind, TxStatus};
use sqlx::Row;

use super::booking::{Known, PayerRow, RoleAccounts};
use super::decisions::payment_decision;
use super::pipeline::{renumber, statements, Arg, Done, Step};
use super::writes::{AttemptEnd, NUMBERING};
use super::{Backend, OneTrip, SqlStore};
use crate::model::*;
use crate::{StoreError, StoreResult, LINK_TOKEN_PREFIX};

/// The refusal of the database's rule that a card's account never goes below zero (SQLite's
/// trigger of migration 0015): for an approval, the state machine's own funds check
/// (`available >= debit`, so `available - debit >= 0` once the card's sums are updated), held
/// again on the write connection.
const CARD_NOT_BELOW_ZERO: &str = "ledger_accounts_card_not_below_zero";

/// What the read-only connection answered for a payment: its attempt's number, the card's funds
/// and the currencies of the booked accounts.
struct ReadAhead {
    attempt: i32,
    funds: Option<(Denomination, i64)>,
    known: Known,
}

impl<DB: Backend> SqlStore<DB> {
    /// Records `write` in one round trip on the write connection, when it can be decided ahead
    /// (see the module doc): `Ok(None)` when it cannot, or when a check on the write connection
    /// found the read out of date, and nothing was written; the caller then records it the
    /// locked way.
    pub(super) async fn pay_read_ahead(
        &self,
        write: &PaymentWrite,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Option<RecordedPayment>> {
        // Every field, so that one added later is weighed here: what this path cannot decide
        // goes the locked way.
        let PaymentWrite {
            token_digest,
            token_expires_at,
            token_spend,
            payment,
            effect,
            save_card,
            three_ds,
            idempotency,
            subscription,
        } = write;
        let PaymentEffect::Debit { card_account, merchant_account, .. } = effect else { return Ok(None) };
        let decided_elsewhere = token_digest.starts_with(LINK_TOKEN_PREFIX)
            || save_card.is_some()
            || three_ds.is_some()
            || subscription.is_some();
        // An in-memory database reads on its write connection: nothing to read ahead of.
        let beside_the_writer = !self.reads.same_as(&self.pool);
        if DB::ONE_TRIP != OneTrip::Statements || self.writer.is_none() || decided_elsewhere || !beside_the_writer {
            return Ok(None);
        }
        let mut payment = payment.clone();
        // A read that fails (the read-only connections busy past their timeout) leaves the
        // payment to the locked way, which needs none of them.
        let Ok(Some(read)) = self.read_ahead(&payment, card_account, merchant_account).await else { return Ok(None) };
        payment.attempt = read.attempt;
        let Ok(decision) = payment_decision(TxStatus::New, &payment, effect) else { return Ok(None) };
        // The checks `decide_payment` makes for a card payment: the payer's funds, which the
        // write connection holds again (see the module doc); a check added there must be added
        // here, held again, or make this path decline to decide.
        let checks = Checks { payer: read.funds, ..Checks::default() };
        let Ok(decided) = Self::apply_decision(TxStatus::New, &mut payment, decision, &checks) else {
            return Ok(None);
        };
        if decided.declined.is_some() || decided.postings.is_empty() {
            return Ok(None);
        }

        let now = payment.created_at;
        let spend = Step::new(
            "INSERT INTO spent_tokens (token_id, spent_at, expires_at) VALUES ($1, $2, $3)",
            vec![token_digest.into(), now.into(), (*token_expires_at).into()],
        );
        let mut tx = self.begin_opening().await?.queue([spend]);
        let accounts = RoleAccounts { payer: card_account, payee: merchant_account, fee: None };
        let ending = AttemptEnd { token_digest, token_spend: *token_spend, three_ds: None, callback };
        let queued = async {
            Self::book(&mut tx, &payment, &accounts, &decided.postings, Some(read.known), now).await?;
            Self::end_attempt(&mut tx, &payment, ending, idempotency.as_ref(), now).await?;
            tx.send_last().await
        };
        let writer = self.writer.as_ref();
        match queued.await {
            Ok(()) => {}
            Err(e) if read_out_of_date(&e) => {
                // Dropping the unit undoes whatever part of it ran.
                writer.inspect(|w| w.count_read_ahead(false));
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        writer.inspect(|w| w.count_read_ahead(true));
        Ok(Some(RecordedPayment { payment, saved_card_id: None }))
    }

    /// The attempt's numbering and the card's funds, read in one round trip on a read-only
    /// connection. `None` when the read refuses the attempt (the locked way answers that), or
    /// when the payer is not a card's account: the rule the write connection holds the funds
    /// with is a card's only.
    async fn read_ahead(&self, p: &Payment, card: &str, merchant: &str) -> StoreResult<Option<ReadAhead>> {
        // A card's sums are in its own row (it is never sharded): one statement.
        let Some(funds_sql) = Self::funds_and_currencies_sql(card, PayerRow::Unlocked, "") else { return Ok(None) };
        let mut sql = format!("{NUMBERING};\n");
        renumber(&funds_sql, 2, &mut sql);
        sql.push_str(";\nSELECT kind FROM ledger_accounts WHERE id = $3");
        let args: [Arg; 5] =
            [(&p.terminal_id).into(), (&p.invoice_id).into(), card.into(), merchant.into(), merchant.into()];
        let mut conn = self.reads.acquire().await?;
        let done = statements::<DB>(&mut conn, Step::bind(&args, sqlx::query::<DB>(&sql))).await.map_err(|(_, e)| e)?;
        drop(conn);
        let [numbering, funds, kind]: [Done<DB>; 3] = match done.try_into() {
            Ok(all) => all,
            Err(done) => return Err(super::pipeline::unanswered(3, done.len()).into()),
        };
        let payer_kind = kind.rows.first().map(|row| row.try_get::<String, _>("kind")).transpose()?;
        if payer_kind.as_deref() != Some(AccountKind::Card.as_str()) {
            return Ok(None);
        }
        let Ok(attempt) = Self::next_attempt(&numbering.rows) else { return Ok(None) };
        let Ok((funds, known)) = Self::funds_and_currencies_of(p, card, &funds.rows) else { return Ok(None) };
        Ok(Some(ReadAhead { attempt, funds, known }))
    }
}

/// A failure of the unit's round trip that means the read it was decided on is out of date:
/// the token was spent, the invoice or the attempt's number taken, the card's funds no longer
/// cover it. Anything else (a lost connection, a full disk) would fail the locked way too.
fn read_out_of_date(e: &StoreError) -> bool {
    match e {
        StoreError::TokenSpent | StoreError::DuplicateInvoice | StoreError::ConcurrentAttempt => true,
        StoreError::Database(sqlx::Error::Database(db)) => {
            db.is_unique_violation() || db.message().contains(CARD_NOT_BELOW_ZERO)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
