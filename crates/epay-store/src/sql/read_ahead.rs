//! A card payment, or a transfer from a card, decided before it touches the write connection,
//! and written in one round trip.
//!
//! **SQLite.** The group-commit writer (`writer.rs`) runs one unit at a time on its one
//! connection, so the time a unit holds it bounds how many payments a second SQLite can take,
//! however many cores are idle. A card payment decided on the write connection holds it for two
//! round trips to the connection's thread and, between them, for the wake-up of its task and its
//! decision: its opening read (the token's spend, the attempt's number, the card's funds) must
//! come back before it knows what to write. Here the reads go first, on a read-only connection
//! (WAL: they wait for no writer) run on the request's own thread (`inline_reads.rs`), and the
//! payment is decided on them. What is left is only writes, which it hands to the writer as a
//! detached unit (`writer.rs`): the committer runs them in its next batch in one round trip (the
//! savepoint, the token's spend, the writes, RELEASE), one detached unit after another with no
//! task woken between them, and commits them together.
//!
//! **PostgreSQL.** The locked way is four round trips (BEGIN, the opening read that locks the
//! card's row, the writes, COMMIT), and PostgreSQL spends its CPU per statement. Here it is two:
//! one read (numbering, funds, the accounts' currencies and kinds, [`PG_AHEAD`]) outside any
//! transaction, taking no lock, and then the writes as ONE statement of data-modifying CTEs that
//! is its own transaction ([`Pipeline::send_alone`](super::pipeline::Pipeline::send_alone)),
//! each row count that must be one checked inside it (migration 0027), so the statement is
//! all or nothing. The card's row is locked only by that statement's update of it, for as long
//! as the statement takes to commit.
//!
//! Either way, what the read saw may be out of date by the time the writes run (units not yet
//! committed are invisible to SQLite's read-only connection; PostgreSQL commits others between
//! the read and the statement), so every fact the decision took from it is held again where the
//! payment writes, inside the unit:
//! - **the token is unspent**: its spend is a plain insert, and a spent token's id is a unique
//!   violation;
//! - **the attempt's number is free and nothing holds the invoice**: the payment's insert meets
//!   the unique indexes `payments_invoice_attempt` and `payments_invoice_holding`, as it does
//!   when two attempts number at once on PostgreSQL;
//! - **the card covers the debit**: the database refuses to take a card's account below zero
//!   (migration 0015: SQLite's trigger, PostgreSQL's CHECK on `ledger_accounts`), and for an
//!   approval that is exactly the state machine's funds check. It checks what the card has now,
//!   not the balance the read saw, so payments from one card in one batch do not trip each
//!   other. On PostgreSQL the update waits for any other writer of the card's row, and then adds
//!   to (and checks) the row as that writer left it.
//!
//! Any of these failing undoes the unit (SQLite: it stops before its RELEASE and the writer rolls
//! back to its savepoint before anything else runs; PostgreSQL: the statement fails, and with it
//! its transaction), and the payment goes the locked way (`payments.rs`), which reads where it
//! writes and answers as it always did: a spent token, a taken invoice, insufficient funds. So
//! does everything this path does not decide: a refusal or a decline (the locked way gives each
//! its answer, in its order), a payment that saves a card, opens a 3-D Secure challenge, charges
//! a subscription or comes from an invoice link (their writes read where they write), a transfer
//! with a receiving card's daily limit, the day's first transfer of a limited terminal, one from
//! a merchant's account (an OCT: no rule of the database holds a merchant's funds) or from a card
//! to itself. On PostgreSQL also a transfer with the terminal's daily
//! limit (its check and its count change one row, which one statement cannot change twice), a
//! card paying in another currency, and a terminal's first payment or fee in a currency: each
//! needs an account opened by a statement of its own before the booking's (a sub-statement does
//! not see another's rows).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use epay_domain::posting::Denomination;
use epay_domain::transition::{Checks, DailyLimit};
use epay_domain::{AccountKind, TxStatus};
use sqlx::Row;

use super::booking::{funds_and_currencies_in, is_sharded, FundsRow, Known, PayerRow, RoleAccounts};
use super::daily_totals::DailySubject;
use super::decisions::{payment_decision, transfer_decision};
use super::inline_reads::{query_on, Inline};
use super::pipeline::Step;
use super::writes::{attempt_after, AttemptEnd, NumberingRow, NUMBERING};
use super::{Backend, OneTrip, SqlStore};
use crate::model::*;
use crate::ReadAheadStats;
use crate::{StoreError, StoreResult, LINK_TOKEN_PREFIX};

/// The refusal of the database's rule that a card's account never goes below zero (migration
/// 0015: SQLite's trigger, PostgreSQL's CHECK, both of this name): for an approval, the state
/// machine's own funds check (`available >= debit`, so `available - debit >= 0` once the card's
/// sums are updated), held again where the payment writes.
const CARD_NOT_BELOW_ZERO: &str = "ledger_accounts_card_not_below_zero";

/// PostgreSQL's SQLSTATE for a deadlock it broke by failing one of the statements.
const DEADLOCK: &str = "40P01";

/// Use cases decided ahead so far: written in one round trip, and those whose read was out of
/// date by the time they wrote.
#[derive(Default)]
pub(super) struct AheadCounts {
    written: AtomicU64,
    out_of_date: AtomicU64,
}

impl AheadCounts {
    fn count(&self, written: bool) {
        let counter = if written { &self.written } else { &self.out_of_date };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stats(&self) -> ReadAheadStats {
        ReadAheadStats {
            written: self.written.load(Ordering::Relaxed),
            out_of_date: self.out_of_date.load(Ordering::Relaxed),
        }
    }
}

/// What the read ahead answered for a payment (SQLite: a read-only connection; PostgreSQL: one
/// statement outside any transaction): its attempt's number, the card's funds
/// and the currencies of the booked accounts.
struct ReadAhead {
    attempt: i32,
    funds: Option<(Denomination, i64)>,
    known: Known,
    /// The day's total of the subject asked for ([`DayTotal`]), when its row exists.
    day_total: Option<i64>,
}

/// The read ahead's rows, as the inline read connection answered them.
struct AheadRows {
    numbering: Vec<NumberingRow>,
    funds: Vec<FundsRow>,
    /// The payer's account's kind (`None`: no such account).
    payer_kind: Option<String>,
    /// The day's total, when asked for and its row exists.
    day_total: Option<i64>,
}

/// The payer account's kind (`$1` the payer).
const PAYER_KIND: &str = "SELECT kind FROM ledger_accounts WHERE id = $1";

/// A daily total's row (`$1` subject, `$2` currency, `$3` the day's start).
const DAY_TOTAL: &str =
    "SELECT total_minor FROM transfer_daily_totals WHERE subject = $1 AND currency = $2 AND day_start_ms = $3";

/// The text of [`PG_AHEAD`], which [`PG_AHEAD_WITH_TOTAL`] extends.
macro_rules! pg_ahead {
    () => {
        "SELECT t.max_attempts, p.attempt, p.status, CAST(NULL AS TEXT) AS id,
             CAST(NULL AS TEXT) AS currency, CAST(NULL AS TEXT) AS kind, CAST(NULL AS BIGINT) AS available
         FROM terminals t LEFT JOIN payments p ON p.terminal_id = t.id AND p.invoice_id = $2
         WHERE t.id = $1
         UNION ALL
         SELECT NULL, NULL, NULL, id, currency, kind,
             CASE WHEN id = $3 THEN credits_posted - debits_posted - debits_pending END
         FROM ledger_accounts WHERE id IN ($3, $4, $5)"
    };
}

/// PostgreSQL: the read ahead of a card payment in one statement, one snapshot (`$1` terminal,
/// `$2` invoice, `$3` the payer, `$4`, `$5` the others): [`NUMBERING`]'s rows (`id` NULL), then
/// each existing account's currency and kind, with what is available for the payer's. Nothing is
/// locked: the payment's one statement holds every fact again (see the module doc).
const PG_AHEAD: &str = pg_ahead!();

/// [`PG_AHEAD`] and a daily total's row, if it exists (`$6` subject, `$7` currency, `$8` the
/// day's start), marked by its `kind`.
const PG_AHEAD_WITH_TOTAL: &str = concat!(
    pg_ahead!(),
    "
     UNION ALL
     SELECT NULL, NULL, NULL, NULL, NULL, 'day total', total_minor FROM transfer_daily_totals
     WHERE subject = $6 AND currency = $7 AND day_start_ms = $8"
);

/// The `kind` of [`PG_AHEAD_WITH_TOTAL`]'s daily total row.
const DAY_TOTAL_ROW: &str = "day total";

/// A daily total to read ahead: the row of `transfer_daily_totals` a limit is checked against.
struct DayTotal<'a> {
    subject: DailySubject<'a>,
    currency: &'a str,
    day_start_ms: i64,
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
        // PostgreSQL opens a conversion account in a statement of its own, before the booking's
        // (`open_account_in_turn`): a payment from a card in another currency cannot be one.
        let opens_accounts = DB::ONE_TRIP == OneTrip::WritableCte && payment.converts();
        let decided_elsewhere = token_digest.starts_with(LINK_TOKEN_PREFIX)
            || save_card.is_some()
            || three_ds.is_some()
            || subscription.is_some()
            || opens_accounts;
        if decided_elsewhere || !self.decides_ahead() {
            return Ok(None);
        }
        let mut payment = payment.clone();
        let others = [merchant_account.as_str(), merchant_account.as_str()];
        let Some(read) = self.read_ahead(&payment, card_account, others, None).await else { return Ok(None) };
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
        let mut tx = Self::open_ahead(token_digest, *token_expires_at, now);
        let accounts = RoleAccounts { payer: card_account, payee: merchant_account, fee: None };
        let ending = AttemptEnd { token_digest, token_spend: *token_spend, three_ds: None, callback };
        let queued = async {
            Self::book(&mut tx, &payment, &accounts, &decided.postings, Some(read.known), now).await?;
            Self::end_attempt(&mut tx, &payment, ending, idempotency.as_ref(), now).await
        }
        .await;
        let written = self.end_ahead(tx, queued).await?;
        Ok(written.then_some(RecordedPayment { payment, saved_card_id: None }))
    }

    /// [`Self::pay_read_ahead`] for a transfer (P2P, AFT) whose sender is a card and that saves
    /// no card. The terminal's daily limit is checked against its total of the day as read, and
    /// held again on the write connection: a write that changes the total's row only while the
    /// transfer still fits, and must change it ([`StoreError::ConcurrentAttempt`] otherwise,
    /// which sends the transfer the locked way). The day's first limited transfer (no row yet)
    /// and a receiving card's limit are checked the locked way; on PostgreSQL, every limited
    /// transfer is (the check and the count change one row, which one statement cannot do twice).
    pub(super) async fn transfer_read_ahead(
        &self,
        write: &TransferWrite,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Option<Payment>> {
        let TransferWrite { token_digest, token_expires_at, token_spend, settlement, three_ds, idempotency } = write;
        let TransferSettlement {
            payment,
            money,
            save_sender,
            save_receiver,
            insufficient_funds,
            receiver_limit,
            terminal_limit,
        } = settlement;
        let Some(m) = money else { return Ok(None) };
        let TransferMoney {
            from_account,
            to_account,
            fee_account,
            fee_minor: _,
            receiver_daily_limit_minor,
            terminal_daily_limit_minor: limit,
            day_start_ms,
        } = m;
        // A card paying itself: the rule that holds its funds on the write connection sees only
        // the net change (the fee), not what the transfer needs.
        // PostgreSQL opens a conversion account in a statement of its own (`open_account_in_turn`).
        let opens_accounts = DB::ONE_TRIP == OneTrip::WritableCte && payment.converts();
        let decided_elsewhere = from_account == to_account
            || opens_accounts
            || receiver_daily_limit_minor.is_some()
            || save_sender.is_some()
            || save_receiver.is_some()
            || three_ds.is_some()
            || token_digest.starts_with(LINK_TOKEN_PREFIX);
        if decided_elsewhere || !self.decides_ahead() {
            return Ok(None);
        }
        // Of the write as the caller made it (`decided`, below, is this path's copy).
        let terminal = DailySubject::Terminal(&payment.terminal_id);
        let currency = payment.currency.as_str();
        let total = DayTotal { subject: terminal, currency, day_start_ms: *day_start_ms };
        let total = match DB::ONE_TRIP {
            OneTrip::Statements => limit.map(|_| total),
            // PostgreSQL: a limit's check and the count change one row, which one statement
            // cannot change twice: the locked way. Without a limit, the total's row is read to
            // know whether it exists (below).
            OneTrip::WritableCte if limit.is_some() => return Ok(None),
            OneTrip::WritableCte => Some(total),
        };
        let others = [to_account.as_str(), fee_account.as_str()];
        let Some(read) = self.read_ahead(payment, from_account, others, total).await else { return Ok(None) };
        if read.known.currency(to_account).is_none() {
            // The receiving account not there yet as read (it may be in the batch): the locked
            // way reads it on the write connection.
            return Ok(None);
        }
        let mut payment = payment.clone();
        payment.attempt = read.attempt;
        let Ok(decision) = transfer_decision(TxStatus::New, settlement) else { return Ok(None) };
        // The checks `settle_transfer` makes: the sender's funds and the terminal's limit, each
        // held again on the write connection (see the module doc and above).
        if DB::ONE_TRIP == OneTrip::WritableCte && read.day_total.is_some() {
            // A total of the day with no limit now (a limit removed today, or this node's copy
            // of the terminal older than another's): the locked way locks the total's row before
            // the fee's shard, where this unit's one statement would update it after the shard,
            // and two transfers taking them in opposite orders would deadlock.
            return Ok(None);
        }
        let terminal_limit_check = match (limit, read.day_total) {
            (None, _) => None,
            (Some(limit), Some(used)) => Some(DailyLimit { limit_minor: *limit, used_minor: used }),
            // The day's first limited transfer creates the total's row: the locked way.
            (Some(_), None) => return Ok(None),
        };
        let checks = Checks { payer: read.funds, terminal_limit: terminal_limit_check, ..Checks::default() };
        let reasons = [insufficient_funds.clone(), receiver_limit.clone(), terminal_limit.clone()];
        let Ok(decided) = Self::apply_transfer_decision(TxStatus::New, &mut payment, decision, &checks, reasons) else {
            return Ok(None);
        };
        if decided.declined.is_some() || decided.postings.is_empty() {
            return Ok(None);
        }

        let now = payment.created_at;
        let mut tx = Self::open_ahead(token_digest, *token_expires_at, now);
        let accounts = RoleAccounts { payer: from_account, payee: to_account, fee: Some(fee_account) };
        let ending = AttemptEnd { token_digest, token_spend: *token_spend, three_ds: None, callback };
        let queued = async {
            if let Some(limit) = *limit {
                // The terminal's total still leaves room for this transfer: the row changed (its
                // total left as it is; `count_in_daily_totals` adds to it below), or the
                // unit stops here.
                let fits = Step::new(
                    "UPDATE transfer_daily_totals SET total_minor = total_minor
                     WHERE subject = $1 AND currency = $2 AND day_start_ms = $3 AND total_minor + $4 <= $5",
                    vec![
                        (&terminal.key()).into(),
                        currency.into(),
                        (*day_start_ms).into(),
                        payment.amount_minor.into(),
                        limit.into(),
                    ],
                );
                // Named as `count_in_daily_totals` names it: on PostgreSQL two changes of one row
                // cannot be one statement (only SQLite gets here now).
                let row = format!("transfer_daily_totals:{}:{currency}:{day_start_ms}", terminal.key());
                tx.defer(fits.row(row).unless_one(StoreError::ConcurrentAttempt)).await?;
            }
            // The receiving account (a card, or the merchant's of an AFT) was read: it exists.
            let booked = Self::book(&mut tx, &payment, &accounts, &decided.postings, Some(read.known), now).await?;
            if payment.status == TxStatus::Charge {
                Self::count_in_daily_totals(&mut tx, &payment, m, &booked).await?;
            }
            Self::end_attempt(&mut tx, &payment, ending, idempotency.as_ref(), now).await
        }
        .await;
        let written = self.end_ahead(tx, queued).await?;
        Ok(written.then_some(payment))
    }

    /// Whether this store decides ahead: SQLite's writer, with inline read connections of its
    /// own (an in-memory database reads on its write connection: nothing to read ahead of).
    pub(super) fn reads_ahead(&self) -> bool {
        DB::ONE_TRIP == OneTrip::Statements && self.writer.is_some() && self.inline.is_some()
    }

    /// Whether this store decides a card payment, a transfer from a card or an operation ahead
    /// ([`Self::pay_read_ahead`], [`Self::transfer_read_ahead`], `operate_ahead.rs`): SQLite as
    /// [`Self::reads_ahead`] says; PostgreSQL always, its writes one statement that is its own transaction ([`Pipeline::send_alone`](super::pipeline::Pipeline::send_alone)).
    pub(super) fn decides_ahead(&self) -> bool {
        DB::ONE_TRIP == OneTrip::WritableCte || self.reads_ahead()
    }

    /// The attempt's numbering and the payer's funds (with the currencies of `others`, the
    /// accounts the attempt books), read on an inline read connection (`inline_reads.rs`). `None`
    /// when the read refuses the attempt (the locked way answers that), when the payer is not
    /// a card's account (the rule the write connection holds the funds with is a card's only),
    /// or when the read fails or another process keeps it busy: the locked
    /// way needs none of them.
    async fn read_ahead(
        &self,
        p: &Payment,
        payer: &str,
        others: [&str; 2],
        total: Option<DayTotal<'_>>,
    ) -> Option<ReadAhead> {
        // A card's sums are in its own row (it is never sharded): one statement.
        if is_sharded(payer) {
            return None;
        }
        let rows = match DB::ONE_TRIP {
            OneTrip::Statements => {
                self.read_to_decide("a payment", |conn| Self::read_ahead_rows(conn, p, payer, others, total.as_ref()))?
            }
            OneTrip::WritableCte => self.read_ahead_rows_in_one(p, payer, others, total.as_ref()).await?,
        };
        if rows.payer_kind.as_deref() != Some(AccountKind::Card.as_str()) {
            return None;
        }
        let attempt = attempt_after(&rows.numbering).ok()?;
        let (funds, known) = funds_and_currencies_in(p, payer, rows.funds).ok()?;
        Some(ReadAhead { attempt, funds, known, day_total: rows.day_total })
    }

    /// Runs `read` on an inline read connection (`inline_reads.rs`), on this thread, for a use
    /// case `what` decided ahead: `None` when another process keeps the file busy or the read
    /// fails, and the locked way then reads for itself. A failure is logged, so a read that
    /// always fails (a schema drift) does not switch the path off unseen.
    pub(super) fn read_to_decide<T>(
        &self,
        what: &'static str,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        match self.inline.as_ref()?.read(read) {
            Ok(Inline::Read(answer)) => Some(answer),
            Ok(Inline::Busy) => None,
            Err(e) => read_or_log(what, Err(e)),
        }
    }

    /// The read ahead's rows, on an inline read connection (`inline_reads.rs`), on this thread:
    /// the attempt's numbering, the payer's funds and the currencies of `others`, the payer's
    /// kind, and the daily total when one is asked for.
    fn read_ahead_rows(
        conn: &rusqlite::Connection,
        p: &Payment,
        payer: &str,
        others: [&str; 2],
        total: Option<&DayTotal<'_>>,
    ) -> rusqlite::Result<AheadRows> {
        // SQLite's text (no row lock), whatever `DB`: only SQLite reads ahead (`reads_ahead`).
        static FUNDS: OnceLock<String> = OnceLock::new();
        let funds_sql = FUNDS.get_or_init(|| {
            SqlStore::<sqlx::Sqlite>::funds_and_currencies_sql("card:", PayerRow::Unlocked, "").unwrap_or_default()
        });
        let numbering = query_on(conn, NUMBERING, &[(&p.terminal_id).into(), (&p.invoice_id).into()], |r| {
            let attempt = match r.get::<_, Option<i32>>("attempt")? {
                Some(attempt) => Some((attempt, r.get("status")?)),
                None => None,
            };
            Ok(NumberingRow { max_attempts: r.get("max_attempts")?, attempt })
        })?;
        let funds = query_on(conn, funds_sql, &[payer.into(), others[0].into(), others[1].into()], |r| {
            let id: String = r.get("id")?;
            let available = if id == payer { Some(r.get("available")?) } else { None };
            Ok(FundsRow { id, currency: r.get("currency")?, available })
        })?;
        let payer_kind = query_on(conn, PAYER_KIND, &[payer.into()], |r| r.get("kind"))?.into_iter().next();
        let day_total = match total {
            Some(t) => {
                let args = [(&t.subject.key()).into(), t.currency.into(), t.day_start_ms.into()];
                query_on(conn, DAY_TOTAL, &args, |r| r.get("total_minor"))?.into_iter().next()
            }
            None => None,
        };
        Ok(AheadRows { numbering, funds, payer_kind, day_total })
    }

    /// PostgreSQL: the read ahead's rows ([`PG_AHEAD`]), in one statement outside any
    /// transaction; `None` when it fails (logged, as [`Self::read_to_decide`] logs), and the
    /// locked way then reads for itself.
    async fn read_ahead_rows_in_one(
        &self,
        p: &Payment,
        payer: &str,
        others: [&str; 2],
        total: Option<&DayTotal<'_>>,
    ) -> Option<AheadRows> {
        let query = sqlx::query::<DB>(if total.is_some() { PG_AHEAD_WITH_TOTAL } else { PG_AHEAD })
            .bind(p.terminal_id.as_str())
            .bind(p.invoice_id.as_str())
            .bind(payer)
            .bind(others[0])
            .bind(others[1]);
        let query = match total {
            Some(t) => query.bind(t.subject.key()).bind(t.currency).bind(t.day_start_ms),
            None => query,
        };
        let read = query.fetch_all(&self.reads).await.and_then(|rows| Self::ahead_rows_of(payer, rows));
        read_or_log("a payment or transfer", read)
    }

    /// [`PG_AHEAD`]'s (or [`PG_AHEAD_WITH_TOTAL`]'s) rows as sqlx answered them: the numbering's
    /// (no `kind`), the accounts' and the day's total.
    fn ahead_rows_of(payer: &str, rows: Vec<DB::Row>) -> Result<AheadRows, sqlx::Error> {
        let (mut numbering, mut accounts, mut payer_kind, mut day_total) = (Vec::new(), Vec::new(), None, None);
        for row in rows {
            match row.try_get::<Option<String>, _>("kind")? {
                None => numbering.push(row),
                Some(kind) if kind == DAY_TOTAL_ROW => day_total = Some(row.try_get::<i64, _>("available")?),
                Some(kind) => {
                    if row.try_get::<String, _>("id")? == payer {
                        payer_kind = Some(kind);
                    }
                    accounts.push(row);
                }
            }
        }
        let numbering = Self::numbering_rows(&numbering)?;
        Ok(AheadRows { numbering, funds: Self::funds_rows(payer, &accounts)?, payer_kind, day_total })
    }

    /// A detached unit (`writer.rs`) for a payment decided ahead, the token's spend its first
    /// write (a plain insert: a token spent since is a unique violation). It holds no
    /// connection: its writes are only queued.
    fn open_ahead(token_id: &str, expires_at: i64, now: i64) -> super::Unit<DB> {
        let spend = Step::new(
            "INSERT INTO spent_tokens (token_id, spent_at, expires_at) VALUES ($1, $2, $3)",
            vec![token_id.into(), now.into(), expires_at.into()],
        );
        super::Unit::detached([spend])
    }

    /// Sends what a unit decided ahead queued (`queued`: whether queueing it went well) in one
    /// round trip: on SQLite the writer runs it in its batch; on PostgreSQL it is one statement
    /// of its own ([`Pipeline::send_alone`](super::pipeline::Pipeline::send_alone)). `Ok(true)`
    /// once durable, `Ok(false)` when the round trip found the read out of date (and left
    /// nothing of it), or when PostgreSQL could not take the writes as one statement (nothing
    /// was sent).
    pub(super) async fn end_ahead(&self, tx: super::Unit<DB>, queued: StoreResult<()>) -> StoreResult<bool> {
        if tx.is_split() {
            return Ok(false);
        }
        let outcome = match (queued, &self.writer) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(writer)) => writer.run_detached_writes(tx).await,
            (Ok(()), None) => match tx.into_one_statement() {
                Some(mut writes) => writes.send_alone(&self.pool).await,
                None => return Ok(false),
            },
        };
        match outcome {
            Ok(()) => {
                self.ahead.count(true);
                Ok(true)
            }
            Err(e) if read_out_of_date(&e) => {
                self.ahead.count(false);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// A read ahead's answer, or `None` when it failed: logged, so a read that always fails (a schema
/// drift) does not switch the path off unseen, and the locked way then reads for itself.
pub(super) fn read_or_log<T>(what: &'static str, read: Result<T, impl std::fmt::Display>) -> Option<T> {
    match read {
        Ok(answer) => Some(answer),
        Err(e) => {
            tracing::warn!(error = %e, what, "reading ahead failed; recorded the locked way");
            None
        }
    }
}

/// A failure of the unit's round trip that means the read it was decided on is out of date:
/// the token was spent, the invoice or the attempt's number taken, the card's funds no longer
/// cover it, the payment an operation moves no longer as read (`operate_ahead.rs`). Anything
/// else (a lost connection, a full disk) would fail the locked way too.
fn read_out_of_date(e: &StoreError) -> bool {
    match e {
        StoreError::TokenSpent | StoreError::DuplicateInvoice | StoreError::ConcurrentAttempt => true,
        // PostgreSQL ends one of two statements that wait for each other's rows (a deadlock),
        // undone as a whole: the locked way takes its locks in the one order.
        StoreError::Database(sqlx::Error::Database(db)) => {
            db.is_unique_violation()
                || db.message().contains(CARD_NOT_BELOW_ZERO)
                || db.code().as_deref() == Some(DEADLOCK)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
