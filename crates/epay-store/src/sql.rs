//! The SQL adapter: one body of SQL for SQLite and PostgreSQL. Both accept `$1`-style
//! placeholders, and the schema uses types both understand (TEXT, BIGINT, INTEGER, BOOLEAN), so
//! the same statements run on either. What differs lives in the two [`Backend`] impls
//! (`sqlite.rs`, `postgres.rs`): connecting, migrations, and the row-lock clauses.
//!
//! Most ports are generic over the backend (`SqlStore<DB>`, one file each). The payment,
//! ledger, transfer and 3-D Secure writes are still stamped out for each backend by
//! `sql_store!` below, while `epay-domain` takes over their transitions.

mod cabinet;
mod callbacks;
mod database;
mod ledger;
mod merchants;
mod migrations;
mod postgres;
pub(crate) mod rows;
mod sqlite;
mod tokens;
mod vault;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use epay_domain::posting::{Denomination, LegEnd, Posting, Role};
use epay_domain::transition::{self, Checks, DailyLimit, Decision, Decline, Refunded};
use epay_domain::{LedgerTransferKind, PaymentKind, PaymentState, Secret, ThreeDsState, TransferKind, TxStatus};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Database, Decode, Encode, FromRow, Pool, Postgres, Row, Sqlite, Type};

use crate::model::*;
use crate::ports::*;
use crate::{Store, StoreError, StoreResult};
use ledger::check_accounts;

/// Opens the store named by `url`: `sqlite://path/to/file.sqlite` or `postgres://...`.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        // The message may be printed: never with the URL's password.
        Err(StoreError::UnsupportedUrl(epay_domain::secret::redact_url(url)))
    }
}

/// The store on one database: a connection pool and the SQL of every port.
pub struct SqlStore<DB: Database> {
    pool: Pool<DB>,
}

pub type SqliteStore = SqlStore<Sqlite>;
pub type PgStore = SqlStore<Postgres>;

/// What differs between the two databases; everything else is the same SQL. Implemented by
/// `sqlx::Sqlite` (`sqlite.rs`) and `sqlx::Postgres` (`postgres.rs`).
///
/// The generic ports' impl blocks each repeat one `where` clause: that `&mut Connection` runs
/// statements, that arguments bind, that columns are found by name, and that the column types
/// the SQL uses (`Value`) encode and decode. Rust implies a trait's bounds on `Self` (and on its
/// associated types) but not on other types such as `String`, so they cannot live here.
pub trait Backend: Database<QueryResult: RowsAffected> {
    /// `sqlite` or `postgres`, for logs and readiness.
    const BACKEND: &'static str;
    /// Ends a `SELECT … LIMIT n` inside a subquery that claims rows for one node: PostgreSQL
    /// skips rows another node is claiming; SQLite (one connection) has nobody to skip.
    const SKIP_LOCKED: &'static str;

    /// The embedded migrations of this database's dialect.
    fn migrator() -> &'static Migrator;

    fn run_migrations(pool: &Pool<Self>) -> impl Future<Output = Result<(), MigrateError>> + Send;
}

/// How many rows a statement changed (each driver has it, but as its own inherent method).
pub trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

/// A Rust type stored in a column: written (`Encode`), read (`Decode`) and typed (`Type`) alike
/// on the backend `DB`.
pub trait Value<DB: Database>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> {}

impl<DB: Database, T> Value<DB> for T where T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> {}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// What a unique violation on inserting a payment means. PostgreSQL names the index;
/// SQLite names its columns (and, with one connection, never meets the race at all).
fn attempt_conflict(err: &sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = err else { return StoreError::DuplicateInvoice };
    let attempt_index =
        db.constraint() == Some("payments_invoice_attempt") || db.message().contains("payments.attempt");
    if attempt_index {
        StoreError::ConcurrentAttempt
    } else {
        StoreError::DuplicateInvoice
    }
}

/// Refuses a write that moves a transaction where the state machine has no move (a caller's
/// bug), inside the transaction, so nothing is written.
fn check_move(from: TxStatus, to: TxStatus) -> StoreResult<()> {
    if from.can_move_to(to) {
        Ok(())
    } else {
        Err(StoreError::IllegalMove { from, to })
    }
}

/// What the state machine's transitions (`epay_domain::transition`) read of a payment row.
fn state_of(p: &Payment) -> PaymentState {
    PaymentState {
        kind: p.kind,
        status: p.status,
        amount_minor: p.amount_minor,
        charged_minor: p.charged_minor,
        refunded_minor: p.refunded_minor,
        fx: p.fx_rate(),
    }
}

/// Which of `p`'s two currencies an account in `currency` is in; `None` for any other currency,
/// which would mix currencies in one posting.
fn denomination(p: &Payment, currency: &str) -> Option<Denomination> {
    if currency == p.currency {
        Some(Denomination::Payment)
    } else if currency == p.card_currency {
        Some(Denomination::Card)
    } else {
        None
    }
}

/// The currency of `p` a denomination names.
fn currency_of(p: &Payment, denomination: Denomination) -> &str {
    match denomination {
        Denomination::Payment => &p.currency,
        Denomination::Card => &p.card_currency,
    }
}

/// The ledger accounts a payment's postings name, by role.
struct RoleAccounts<'a> {
    payer: &'a str,
    payee: &'a str,
    /// A transfer's fee account (a payment takes no fee).
    fee: Option<&'a str>,
}

impl RoleAccounts<'_> {
    fn of(&self, role: Role) -> Option<&str> {
        match role {
            Role::Payer => Some(self.payer),
            Role::Payee => Some(self.payee),
            Role::Fee => self.fee,
        }
    }
}

/// A merchant's request the state machine refuses, in the store's words.
fn refused(refusal: transition::Refusal) -> StoreError {
    StoreError::Refused(match refusal {
        transition::Refusal::WrongStatus { status } => Refusal::WrongStatus { status },
        transition::Refusal::OverAmount { left_minor } => Refusal::OverAmount { left_minor },
        transition::Refusal::BelowMinimumRefund { amount_minor } => Refusal::BelowMinimumRefund { amount_minor },
        transition::Refusal::ExternalIdReused { amount_minor } => Refusal::ExternalIdReused { amount_minor },
        transition::Refusal::NotAPayment { kind } => Refusal::NotAPayment { kind },
    })
}

/// A decision the state machine has no move for (no such move, or a decision that does not fit
/// the transaction's kind): the caller's bug, refused so nothing is written.
fn illegal(from: TxStatus, to: TxStatus) -> impl FnOnce(transition::TransitionError) -> StoreError {
    move |_| StoreError::IllegalMove { from, to }
}

/// The decision a caller recorded on a payment it hands to the store: the status it set and
/// the money it asked to move. Any other pairing is a caller's bug.
fn payment_decision(from: TxStatus, p: &Payment, effect: &PaymentEffect) -> StoreResult<Decision> {
    match (p.status, effect) {
        (TxStatus::Auth, PaymentEffect::Debit { kind: DebitKind::Pending, .. }) => Ok(Decision::Approve { hold: true }),
        (TxStatus::Charge, PaymentEffect::Debit { kind: DebitKind::Posted, .. }) => {
            Ok(Decision::Approve { hold: false })
        }
        (TxStatus::Verified, PaymentEffect::None) => Ok(Decision::Verify),
        (TxStatus::ThreeD, PaymentEffect::None) => Ok(Decision::Challenge),
        (status, PaymentEffect::None) if status.is_declined() => Ok(Decision::Decline { status }),
        (to, _) => Err(StoreError::IllegalMove { from, to }),
    }
}

/// The decision on a transfer: money to move means approved.
fn transfer_decision(from: TxStatus, settlement: &TransferSettlement) -> StoreResult<Decision> {
    match (&settlement.money, settlement.payment.status) {
        (Some(m), TxStatus::Charge) => Ok(Decision::Transfer { fee_minor: m.fee_minor }),
        (None, TxStatus::ThreeD) => Ok(Decision::Challenge),
        (None, status) if status.is_declined() => Ok(Decision::Decline { status }),
        (_, to) => Err(StoreError::IllegalMove { from, to }),
    }
}

/// How an operation's write ended.
enum Applied {
    Done,
    /// The payment was no longer as read (another request or node moved it first).
    Lost,
    /// A concurrent refund with the same externalID committed first: retry and replay it.
    RefundRace,
}

/// The store's refusal of a posting between currencies (the database refuses it too).
fn mixed_currencies(id: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("ledger transfer {id} mixes currencies or names a missing account"))
}

macro_rules! sql_store {
    (
        $store:ty, $db:ty, $row:ty, $lock:literal, $skip_locked:literal
    ) => {
        impl $store {
            /// Stores a keyed request's answer in the transaction of the write it guards. Only
            /// the key's lease owner may do so: if the lease ended and another request claimed
            /// the key, the write fails and rolls back, so one key never commits twice.
            async fn commit_idempotency(
                tx: &mut sqlx::Transaction<'static, $db>,
                record: Option<&IdempotencyRecord>,
                payment: &Payment,
            ) -> StoreResult<()> {
                let Some(record) = record else { return Ok(()) };
                let answer = (record.answer)(payment);
                let stored = sqlx::query(
                    "UPDATE idempotency_keys SET response_status = $1, response_body = $2, lease_owner = NULL,
                         lease_until = NULL
                     WHERE scope_key = $3 AND lease_owner = $4 AND response_status IS NULL",
                )
                .bind(answer.status as i32)
                .bind(&answer.body)
                .bind(&record.scope_key)
                .bind(&record.owner)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if stored != 1 {
                    return Err(StoreError::IdempotencyKeyLost);
                }
                Ok(())
            }

            /// The currency of a ledger account, if it exists.
            async fn account_currency(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
            ) -> Result<Option<String>, sqlx::Error> {
                let row = sqlx::query("SELECT currency FROM ledger_accounts WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                row.map(|r| r.try_get("currency")).transpose()
            }

            /// Creates a gateway-side account in `currency` unless it exists. Its currency is
            /// fixed from now on (no statement changes it; the database refuses it).
            async fn open_account(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
                kind: AccountKind,
                currency: &str,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO ledger_accounts (id, kind, currency, debits_pending, debits_posted, credits_pending,
                         credits_posted, created_at)
                     VALUES ($1, $2, $3, 0, 0, 0, 0, $4) ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(kind.as_str())
                .bind(currency)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Inserts one ledger transfer, only between two existing accounts of one currency.
            #[allow(clippy::too_many_arguments)]
            async fn insert_leg(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
                payment_id: Option<&str>,
                debit: &str,
                credit: &str,
                amount: i64,
                kind: LedgerTransferKind,
                pending_id: Option<&str>,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                let inserted = sqlx::query(
                    "INSERT INTO ledger_transfers (id, payment_id, debit_account, credit_account, amount_minor,
                         kind, pending_id, created_at)
                     SELECT $1, $2, d.id, c.id, $5, $6, $7, $8
                     FROM ledger_accounts d JOIN ledger_accounts c ON c.id = $4
                     WHERE d.id = $3 AND d.currency = c.currency",
                )
                .bind(id)
                .bind(payment_id)
                .bind(debit)
                .bind(credit)
                .bind(amount)
                .bind(kind.as_str())
                .bind(pending_id)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if inserted != 1 {
                    return Err(mixed_currencies(id));
                }
                Ok(())
            }

            /// Locks the paying account's row and reads what it has available, in which of the
            /// payment's currencies, for the decision's funds check (`None`: no such account).
            /// The lock (PostgreSQL; SQLite's writer already holds the database) keeps the amount
            /// true until the transaction books the payment, so two concurrent payments can never
            /// take an account below zero.
            async fn funds(
                tx: &mut sqlx::Transaction<'static, $db>,
                p: &Payment,
                account: &str,
            ) -> Result<Option<(Denomination, i64)>, sqlx::Error> {
                let row = sqlx::query(concat!(
                    "SELECT currency, credits_posted - debits_posted - debits_pending AS available
                     FROM ledger_accounts WHERE id = $1 ",
                    $lock
                ))
                .bind(account)
                .fetch_optional(&mut **tx)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let currency: String = row.try_get("currency")?;
                let side = denomination(p, &currency).ok_or_else(|| mixed_currencies(account))?;
                Ok(Some((side, row.try_get("available")?)))
            }

            /// Books a transition's postings: for each, its ledger transfers `<payment>:<name>`
            /// (see [`Posting::legs`]: through the pair's conversion accounts when the card is in
            /// another currency), then the four sums of every account it touches, card rows first
            /// and then by id, one order for every transaction so concurrent ones on PostgreSQL
            /// cannot deadlock.
            async fn book(
                tx: &mut sqlx::Transaction<'static, $db>,
                p: &Payment,
                accounts: &RoleAccounts<'_>,
                postings: &[Posting],
                now: i64,
            ) -> Result<(), sqlx::Error> {
                for posting in postings {
                    let id = format!("{}:{}", p.id, posting.name);
                    let account = |role| accounts.of(role).ok_or_else(|| mixed_currencies(&id));
                    let (debit, credit) = (account(posting.debit)?, account(posting.credit)?);
                    let side = |currency: Option<String>| {
                        currency.as_deref().and_then(|c| denomination(p, c)).ok_or_else(|| mixed_currencies(&id))
                    };
                    let debit_side = side(Self::account_currency(tx, debit).await?)?;
                    let credit_side = side(Self::account_currency(tx, credit).await?)?;
                    let mut deltas: Vec<(String, [i64; 4])> = Vec::new();
                    let mut add = |account: &str, delta: [i64; 4]| match deltas.iter_mut().find(|(a, _)| a == account) {
                        Some((_, sums)) => sums.iter_mut().zip(delta).for_each(|(s, d)| *s += d),
                        None => deltas.push((account.to_string(), delta)),
                    };
                    for leg in posting.legs(debit_side, credit_side) {
                        let currency = currency_of(p, leg.denomination);
                        let end = |e: LegEnd| match e {
                            LegEnd::Account(role) => account(role).map(str::to_string),
                            LegEnd::Conversion => Ok(fx_account(&p.currency, &p.card_currency, currency)),
                        };
                        let (from, to) = (end(leg.debit)?, end(leg.credit)?);
                        if leg.debit == LegEnd::Conversion || leg.credit == LegEnd::Conversion {
                            let fx = if leg.debit == LegEnd::Conversion { &from } else { &to };
                            Self::open_account(tx, fx, AccountKind::Fx, currency, now).await?;
                        }
                        let suffix = if leg.fx_leg { ":fx" } else { "" };
                        let leg_id = format!("{id}{suffix}");
                        let pending = posting.resolves().map(|hold| format!("{}:{hold}{suffix}", p.id));
                        Self::insert_leg(tx, &leg_id, Some(p.id.as_str()), &from, &to, leg.amount, leg.kind, pending.as_deref(), now)
                            .await?;
                        let (pending, posted) = leg.deltas();
                        add(&from, [pending, posted, 0, 0]);
                        add(&to, [0, 0, pending, posted]);
                    }
                    deltas.sort_by(|a, b| (!a.0.starts_with("card:"), &a.0).cmp(&(!b.0.starts_with("card:"), &b.0)));
                    for (account, [dp, dpo, cp, cpo]) in deltas {
                        sqlx::query(
                            "UPDATE ledger_accounts SET debits_pending = debits_pending + $1,
                                 debits_posted = debits_posted + $2, credits_pending = credits_pending + $3,
                                 credits_posted = credits_posted + $4
                             WHERE id = $5",
                        )
                        .bind(dp)
                        .bind(dpo)
                        .bind(cp)
                        .bind(cpo)
                        .bind(&account)
                        .execute(&mut **tx)
                        .await?;
                    }
                }
                Ok(())
            }

            /// Decides a card payment (or verification) waiting in `from` (`NEW`, or `3D` after
            /// its challenge) as the caller recorded it, through the state machine: an approval
            /// the card cannot pay becomes the REJECT `insufficient` (code, reason). Books the
            /// money and saves the card of an approved payment.
            async fn decide_payment(
                tx: &mut sqlx::Transaction<'static, $db>,
                from: TxStatus,
                payment: &mut Payment,
                effect: &PaymentEffect,
                insufficient: (i32, String),
                now: i64,
            ) -> StoreResult<bool> {
                let decision = payment_decision(from, payment, effect)?;
                let state = PaymentState { status: from, charged_minor: 0, refunded_minor: 0, ..state_of(payment) };
                let mut checks = Checks::default();
                let mut payer = String::new();
                if let PaymentEffect::Debit { card_account, .. } = effect {
                    checks.payer = Self::funds(tx, payment, card_account).await?;
                    payer = card_account.clone();
                }
                let decided = transition::decide(&state, decision, &checks).map_err(illegal(from, payment.status))?;
                payment.status = decided.status;
                payment.charged_minor = decided.charged_minor;
                if decided.declined.is_some() {
                    let (code, reason) = insufficient;
                    payment.reason_code = code;
                    payment.reason = reason;
                    payment.approval_code = String::new();
                }
                if let PaymentEffect::Debit { merchant_account, .. } = effect {
                    if !decided.postings.is_empty() {
                        Self::open_account(tx, merchant_account, AccountKind::Merchant, &payment.currency, now).await?;
                        let accounts = RoleAccounts { payer: &payer, payee: merchant_account, fee: None };
                        Self::book(tx, payment, &accounts, &decided.postings, now).await?;
                    }
                }
                Ok(decided.declined.is_some())
            }

            async fn insert_three_ds(
                tx: &mut sqlx::Transaction<'static, $db>,
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

            /// A three_ds_sessions row.
            fn session_from(row: &$row) -> Result<ThreeDsSession, sqlx::Error> {
                ThreeDsSession::from_row(row)
            }

            /// Ends a 3-D Secure challenge (`confirmed`, by compare-and-set: only once), in the
            /// transaction that ends its payment or transfer. The challenge is over: the sealed
            /// card numbers are not needed any more.
            async fn confirm_session(
                tx: &mut sqlx::Transaction<'static, $db>,
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

            /// Decides a transfer waiting in `from` (`NEW`, or `3D` after its challenge) through
            /// the state machine: limits checked, amount and fee together or not at all; a limit
            /// or balance that does not allow it turns it into a REJECT with that reason. Books
            /// the money and saves the cards of an approved transfer.
            async fn settle_transfer(
                tx: &mut sqlx::Transaction<'static, $db>,
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
                let state = PaymentState { status: from, charged_minor: 0, refunded_minor: 0, ..state_of(&payment) };
                let mut checks = Checks::default();
                if let Some(m) = &money {
                    if let Some(limit) = m.terminal_daily_limit_minor {
                        // Serializes this terminal's transfers on PostgreSQL for the limit check.
                        sqlx::query(concat!("SELECT id FROM terminals WHERE id = $1 ", $lock))
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
                    let to_currency =
                        Self::account_currency(tx, &m.to_account).await?.ok_or_else(|| mixed_currencies(&payment.id))?;
                    if let Some(limit) = m.receiver_daily_limit_minor {
                        sqlx::query(concat!("SELECT id FROM ledger_accounts WHERE id = $1 ", $lock))
                            .bind(&m.to_account)
                            .fetch_optional(&mut **tx)
                            .await?;
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

            /// Appends one step to a payment's status history, inside the transaction that
            /// makes the change, so the history never disagrees with the payment row.
            async fn record_event(
                tx: &mut sqlx::Transaction<'static, $db>,
                payment_id: &str,
                operation: &str,
                status: TxStatus,
                amount_minor: i64,
                reason_code: i32,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO payment_events (payment_id, operation, status, amount_minor, reason_code, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(payment_id)
                .bind(operation)
                .bind(status.as_str())
                .bind(amount_minor)
                .bind(reason_code)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Numbers a new attempt at the payment's invoice (docs/compatibility.md §48). Refused
            /// while another attempt holds the invoice (`DuplicateInvoice`, or `ChallengeOpen`
            /// while it waits for 3-D Secure) and once the terminal's attempts are used
            /// (`AttemptsExhausted`). This read only chooses the answer: two attempts that read
            /// at the same moment are kept apart by the unique indexes the insert meets,
            /// `payments_invoice_attempt` (one number per attempt, so never more attempts than
            /// the limit) and `payments_invoice_holding` (one attempt that is not declined).
            async fn number_attempt(tx: &mut sqlx::Transaction<'static, $db>, p: &Payment) -> StoreResult<i32> {
                let rows = sqlx::query(
                    "SELECT t.max_attempts, p.attempt, p.status FROM terminals t
                     LEFT JOIN payments p ON p.terminal_id = t.id AND p.invoice_id = $2
                     WHERE t.id = $1",
                )
                .bind(&p.terminal_id)
                .bind(&p.invoice_id)
                .fetch_all(&mut **tx)
                .await?;
                let max: i32 = match rows.first() {
                    Some(row) => row.try_get("max_attempts")?,
                    None => return Err(StoreError::NotFound),
                };
                let mut last = 0;
                let mut statuses = Vec::new();
                for row in &rows {
                    if let Some(attempt) = row.try_get::<Option<i32>, _>("attempt")? {
                        last = last.max(attempt);
                        let status: String = row.try_get("status")?;
                        // A status this code does not know holds the invoice: refuse, never double.
                        statuses.push(status.parse().unwrap_or(TxStatus::New));
                    }
                }
                let attempts = epay_domain::InvoiceAttempts::of(statuses, max);
                match attempts.holding {
                    Some(TxStatus::ThreeD) => Err(StoreError::ChallengeOpen),
                    Some(_) => Err(StoreError::DuplicateInvoice),
                    None if attempts.exhausted() => Err(StoreError::AttemptsExhausted { attempts: attempts.used }),
                    None => Ok(last + 1),
                }
            }

            /// A declined attempt on the hosted page leaves its token usable: the shopper may try
            /// the same invoice again on the same page, within the terminal's attempts.
            async fn keep_token(tx: &mut sqlx::Transaction<'static, $db>, token_digest: &str) -> Result<(), sqlx::Error> {
                sqlx::query("UPDATE tokens SET used_at = NULL WHERE token_digest = $1")
                    .bind(token_digest)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// A 3-D Secure attempt from the hosted page that ends declined leaves the token that
            /// started it usable, like any declined attempt there.
            async fn keep_session_token(
                tx: &mut sqlx::Transaction<'static, $db>,
                session_id: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "UPDATE tokens SET used_at = NULL
                     WHERE token_digest = (SELECT token_digest FROM three_ds_sessions
                                           WHERE id = $1 AND keep_token_on_decline)",
                )
                .bind(session_id)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Inserts a payment row. Another attempt that holds the invoice, or took the same
            /// attempt number, makes it `DuplicateInvoice` or `ConcurrentAttempt`.
            async fn insert_payment(tx: &mut sqlx::Transaction<'static, $db>, p: &Payment) -> StoreResult<()> {
                // An attempt is recorded decided (or waiting in 3D): its first move, from NEW.
                check_move(TxStatus::New, p.status)?;
                let inserted = sqlx::query(
                    "INSERT INTO payments (id, merchant_id, terminal_id, invoice_id, invoice_id_alt, kind, status,
                         amount_minor, charged_minor, refunded_minor, fee_minor, currency, description, account_id,
                         email, phone, payer_name, language, post_link, failure_post_link, back_link,
                         failure_back_link, secret_hash, data, card_id, card_mask, card_brand, card_account, issuer,
                         reference, int_reference, approval_code, reason_code, reason, secure, created_at, updated_at,
                         sender_transfer_type, receiver_transfer_type, receiver_card_id, receiver_card_mask,
                         receiver_card_brand, receiver_account, card_currency, fx_rate_micros, card_amount_minor,
                         attempt)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                         $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37,
                         $38, $39, $40, $41, $42, $43, $44, $45, $46, $47)",
                )
                .bind(&p.id)
                .bind(&p.merchant_id)
                .bind(&p.terminal_id)
                .bind(&p.invoice_id)
                .bind(&p.invoice_id_alt)
                .bind(p.kind.as_str())
                .bind(p.status.as_str())
                .bind(p.amount_minor)
                .bind(p.charged_minor)
                .bind(p.refunded_minor)
                .bind(p.fee_minor)
                .bind(&p.currency)
                .bind(&p.description)
                .bind(&p.account_id)
                .bind(&p.email)
                .bind(&p.phone)
                .bind(&p.payer_name)
                .bind(&p.language)
                .bind(&p.post_link)
                .bind(&p.failure_post_link)
                .bind(&p.back_link)
                .bind(&p.failure_back_link)
                .bind(p.secret_hash.as_ref().map(Secret::expose))
                .bind(&p.data)
                .bind(&p.card_id)
                .bind(&p.card_mask)
                .bind(&p.card_brand)
                .bind(&p.card_account)
                .bind(&p.issuer)
                .bind(&p.reference)
                .bind(&p.int_reference)
                .bind(&p.approval_code)
                .bind(p.reason_code)
                .bind(&p.reason)
                .bind(p.secure)
                .bind(p.created_at)
                .bind(p.updated_at)
                .bind(&p.sender_transfer_type)
                .bind(&p.receiver_transfer_type)
                .bind(&p.receiver_card_id)
                .bind(&p.receiver_card_mask)
                .bind(&p.receiver_card_brand)
                .bind(&p.receiver_account)
                .bind(&p.card_currency)
                .bind(p.fx_rate().micros())
                .bind(p.card_amount_minor)
                .bind(p.attempt)
                .execute(&mut **tx)
                .await;
                match inserted {
                    Ok(_) => {
                        Self::record_event(tx, &p.id, "created", p.status, p.amount_minor, p.reason_code, p.created_at)
                            .await?;
                        Ok(())
                    }
                    Err(e) if is_unique_violation(&e) => Err(attempt_conflict(&e)),
                    Err(e) => Err(e.into()),
                }
            }

            /// Saves a card for a customer (or reactivates the one already saved); returns its id,
            /// except where a receive-only save (`!card.payable`) met a card that may pay or was
            /// deactivated: that id is not the saver's to learn, and the card is left as it was.
            async fn save_card(
                tx: &mut sqlx::Transaction<'static, $db>,
                card: &SavedCard,
            ) -> Result<Option<String>, sqlx::Error> {
                let row = sqlx::query(
                    "INSERT INTO saved_cards (id, merchant_id, account_id, pan_fingerprint, pan_ciphertext,
                         card_mask, card_brand, expiry_mmyy, payer_name, transaction_id, terminal_pos_id,
                         reference, int_reference, card_token, active, created_at, payable)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, TRUE, $15, $16)
                     ON CONFLICT (merchant_id, account_id, pan_fingerprint) DO UPDATE
                         -- A proof that makes the card payable (again) gives it a new id: whoever
                         -- saved it as a receiver knows the old one. A receive-only save never
                         -- makes a card payable, never revives a deactivated one, and changes
                         -- nothing of a card that may pay.
                         SET id = CASE WHEN excluded.payable AND NOT (saved_cards.payable AND saved_cards.active)
                                       THEN excluded.id ELSE saved_cards.id END,
                             active = CASE WHEN excluded.payable THEN TRUE ELSE saved_cards.active END,
                             payable = CASE WHEN excluded.payable THEN TRUE ELSE saved_cards.payable END,
                             expiry_mmyy = CASE WHEN excluded.payable AND excluded.expiry_mmyy <> ''
                                                THEN excluded.expiry_mmyy ELSE saved_cards.expiry_mmyy END,
                             pan_ciphertext = CASE WHEN excluded.payable THEN excluded.pan_ciphertext
                                                   ELSE saved_cards.pan_ciphertext END
                     RETURNING id, payable, active",
                )
                .bind(&card.id)
                .bind(&card.merchant_id)
                .bind(&card.account_id)
                .bind(&card.pan_fingerprint)
                .bind(&card.pan_ciphertext)
                .bind(&card.card_mask)
                .bind(&card.card_brand)
                .bind(&card.expiry_mmyy)
                .bind(&card.payer_name)
                .bind(&card.transaction_id)
                .bind(&card.terminal_pos_id)
                .bind(&card.reference)
                .bind(&card.int_reference)
                .bind(&card.card_token)
                .bind(card.created_at)
                .bind(card.payable)
                .fetch_one(&mut **tx)
                .await?;
                let (id, payable, active): (String, bool, bool) =
                    (row.try_get("id")?, row.try_get("payable")?, row.try_get("active")?);
                Ok((card.payable || (!payable && active)).then_some(id))
            }

            async fn insert_callback(
                tx: &mut sqlx::Transaction<'static, $db>,
                cb: &NewCallback,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO callback_events (id, merchant_id, payment_id, kind, url, payload, status, attempts,
                         next_attempt_at, locked_until, claim_id, created_at, delivered_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, '', $7, NULL)",
                )
                .bind(&cb.id)
                .bind(&cb.merchant_id)
                .bind(&cb.payment_id)
                .bind(&cb.kind)
                .bind(&cb.url)
                .bind(cb.payload.expose())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Applies an operation the state machine allowed (`moved`, from `p` as read): the new
            /// status and money by compare-and-set on the status and money it was decided from,
            /// a refund's row, the postings, the history step.
            async fn apply_operation(
                tx: &mut sqlx::Transaction<'static, $db>,
                p: &Payment,
                moved: &transition::Moved,
                external_id: Option<&str>,
                now: i64,
            ) -> StoreResult<Applied> {
                let updated = sqlx::query(
                    "UPDATE payments SET status = $1, charged_minor = $2, refunded_minor = $3, updated_at = $4
                     WHERE id = $5 AND status = $6 AND charged_minor = $7 AND refunded_minor = $8",
                )
                .bind(moved.status.as_str())
                .bind(moved.charged_minor)
                .bind(moved.refunded_minor)
                .bind(now)
                .bind(&p.id)
                .bind(p.status.as_str())
                .bind(p.charged_minor)
                .bind(p.refunded_minor)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if updated != 1 {
                    return Ok(Applied::Lost);
                }
                if moved.operation == epay_domain::Operation::Refund {
                    // Named like its ledger transfer: refunded-so-far only grows, so it is unique.
                    let refund_id = format!("{}:refund:{}", p.id, p.refunded_minor);
                    let inserted = sqlx::query(
                        "INSERT INTO refunds (id, payment_id, external_id, amount_minor, created_at)
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&refund_id)
                    .bind(&p.id)
                    .bind(external_id)
                    .bind(moved.amount_minor)
                    .bind(now)
                    .execute(&mut **tx)
                    .await;
                    match inserted {
                        Ok(_) => {}
                        Err(e) if is_unique_violation(&e) => return Ok(Applied::RefundRace),
                        Err(e) => return Err(e.into()),
                    }
                }
                let card = p.card_account.clone().unwrap_or_default();
                let merchant = merchant_account(&p.terminal_id, &p.currency);
                let accounts = RoleAccounts { payer: &card, payee: &merchant, fee: None };
                Self::book(tx, p, &accounts, &moved.postings, now).await?;
                Self::record_event(tx, &p.id, moved.operation.as_str(), moved.status, moved.amount_minor, 0, now).await?;
                Ok(Applied::Done)
            }

            /// Ends a payment's or a transfer's 3-D Secure challenge once it is decided: the row
            /// moves from `3D` by compare-and-set (only once), its history step, the token given
            /// back to a declined hosted-page attempt, its callback; then commits.
            async fn end_challenge(
                mut tx: sqlx::Transaction<'static, $db>,
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
                Self::record_event(&mut tx, &payment.id, "3ds", payment.status, amount, payment.reason_code, now_ms)
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

            /// Whether a token bound to `bound.invoice_id` may move `p`'s money: it must name `p`'s
            /// invoice and have been issued after `p` was decided, i.e. after its history first
            /// shows AUTH or CHARGE. The decision, once made, never changes, so reading it in the
            /// operation's transaction is as good as a lock. No such step (a payment still in 3D,
            /// a declined one, or one made before migration 0007 wrote histories): refused.
            async fn bound_token_may_operate(
                tx: &mut sqlx::Transaction<'static, $db>,
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
                callback: CallbackBuilder<'_>,
            ) -> StoreResult<Option<OperationOutcome>> {
                let now = req.now_ms;
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query(concat!("SELECT * FROM payments WHERE id = $1 AND merchant_id = $2 ", $lock))
                    .bind(&req.payment_id)
                    .bind(&req.merchant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let p = match row.as_ref().map(Self::payment_from).transpose()? {
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
                            let row = sqlx::query(
                                "SELECT amount_minor FROM refunds WHERE payment_id = $1 AND external_id = $2",
                            )
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
                                tx.commit().await?;
                                return Ok(Some(OperationOutcome { payment: p, replayed: true }));
                            }
                        }
                    }
                };
                let external_id = match &req.operation {
                    Operation::Refund { external_id, .. } => external_id.as_deref(),
                    _ => None,
                };
                match Self::apply_operation(&mut tx, &p, &moved, external_id, now).await? {
                    Applied::Done => {}
                    Applied::RefundRace => return Ok(None),
                    Applied::Lost if moved.operation == epay_domain::Operation::Refund => {
                        return Err(StoreError::Refused(Refusal::OverAmount { left_minor: state.refundable() }))
                    }
                    Applied::Lost => return Err(StoreError::Refused(Refusal::WrongStatus { status: p.status })),
                }
                let row = sqlx::query("SELECT * FROM payments WHERE id = $1").bind(&p.id).fetch_one(&mut *tx).await?;
                let payment = Self::payment_from(&row)?;
                if let Some(cb) = callback(&payment) {
                    Self::insert_callback(&mut tx, &cb, now).await?;
                }
                Self::commit_idempotency(&mut tx, req.idempotency.as_ref(), &payment).await?;
                tx.commit().await?;
                Ok(Some(OperationOutcome { payment, replayed: false }))
            }
            /// A payments row (see `Payment`'s `FromRow`).
            fn payment_from(row: &$row) -> Result<Payment, sqlx::Error> {
                Payment::from_row(row)
            }

            /// Reads ledger rows for `ledger check`: a row whose kind this code does not know is
            /// reported as a violation and left out, rather than failing the whole check.
            fn known_rows<T>(
                rows: &[$row],
                what: &str,
                read: fn(&$row) -> Result<T, sqlx::Error>,
                violations: &mut Vec<InvariantViolation>,
            ) -> Result<Vec<T>, sqlx::Error> {
                let mut known = Vec::new();
                for row in rows {
                    match read(row) {
                        Ok(item) => known.push(item),
                        Err(sqlx::Error::ColumnDecode { index, .. }) if index == "kind" => {
                            let (id, kind): (String, String) = (row.try_get("id")?, row.try_get("kind")?);
                            violations.push(InvariantViolation {
                                subject: format!("{what} {id}"),
                                problem: format!("unknown kind {kind:?}"),
                            });
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(known)
            }

            /// A ledger_accounts row.
            fn account_from(row: &$row) -> Result<LedgerAccount, sqlx::Error> {
                LedgerAccount::from_row(row)
            }

            /// A ledger_transfers row.
            fn transfer_from(row: &$row) -> Result<LedgerTransfer, sqlx::Error> {
                LedgerTransfer::from_row(row)
            }
        }

        #[async_trait]
        impl PaymentsPort for $store {
            async fn payment_by_invoice(&self, terminal_id: &str, invoice_id: &str) -> StoreResult<Option<Payment>> {
                let row = sqlx::query(
                    "SELECT * FROM payments WHERE terminal_id = $1 AND invoice_id = $2 ORDER BY attempt DESC LIMIT 1",
                )
                .bind(terminal_id)
                .bind(invoice_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.as_ref().map(Self::payment_from).transpose()?)
            }

            async fn invoice_attempts(
                &self,
                merchant_id: &str,
                terminal_id: &str,
                invoice_id: &str,
            ) -> StoreResult<Vec<Payment>> {
                let rows = sqlx::query(
                    "SELECT * FROM payments WHERE merchant_id = $1 AND terminal_id = $2 AND invoice_id = $3
                     ORDER BY attempt",
                )
                .bind(merchant_id)
                .bind(terminal_id)
                .bind(invoice_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(Self::payment_from).collect::<Result<_, _>>()?)
            }

            async fn record_payment(
                &self,
                write: PaymentWrite,
                callback: CallbackBuilder<'_>,
            ) -> StoreResult<RecordedPayment> {
                let PaymentWrite {
                    token_digest,
                    token_spend,
                    mut payment,
                    effect,
                    save_card,
                    on_insufficient_funds,
                    three_ds,
                    idempotency,
                } = write;
                let now = payment.created_at;
                let mut tx = self.pool.begin().await?;

                let spent = sqlx::query("UPDATE tokens SET used_at = $1 WHERE token_digest = $2 AND used_at IS NULL")
                    .bind(now)
                    .bind(&token_digest)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if spent != 1 {
                    return Err(StoreError::TokenSpent);
                }
                payment.attempt = Self::number_attempt(&mut tx, &payment).await?;

                // The state machine says a declined approval is a REJECT; the caller words why.
                let (_, code, reason) = on_insufficient_funds;
                Self::decide_payment(&mut tx, TxStatus::New, &mut payment, &effect, (code, reason), now).await?;

                let approved = payment.reason_code == 0;
                let mut saved_card_id = None;
                if let (true, Some(CardToSave { card })) = (approved, save_card) {
                    let id = Self::save_card(&mut tx, &card).await?;
                    payment.card_id = id.clone();
                    saved_card_id = id;
                }

                Self::insert_payment(&mut tx, &payment).await?;
                if token_spend == TokenSpend::UnlessDeclined && payment.status.is_declined() {
                    Self::keep_token(&mut tx, &token_digest).await?;
                }
                if let Some(session) = &three_ds {
                    Self::insert_three_ds(&mut tx, session).await?;
                }
                if let Some(cb) = callback(&payment) {
                    Self::insert_callback(&mut tx, &cb, now).await?;
                }
                Self::commit_idempotency(&mut tx, idempotency.as_ref(), &payment).await?;
                tx.commit().await?;
                Ok(RecordedPayment { payment, saved_card_id })
            }

            async fn payment(&self, merchant_id: &str, id: &str) -> StoreResult<Option<Payment>> {
                let row = sqlx::query("SELECT * FROM payments WHERE id = $1 AND merchant_id = $2")
                    .bind(id)
                    .bind(merchant_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::payment_from).transpose()?)
            }

            async fn payment_by_id(&self, id: &str) -> StoreResult<Option<Payment>> {
                let row = sqlx::query("SELECT * FROM payments WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(Self::payment_from).transpose()?)
            }

            async fn operate(
                &self,
                request: OperationRequest,
                callback: CallbackBuilder<'_>,
            ) -> StoreResult<OperationOutcome> {
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
                let mut tx = self.pool.begin().await?;
                let expire = epay_domain::Operation::Expire;
                let rows = sqlx::query(concat!(
                    "SELECT p.* FROM payments p JOIN terminals t ON t.id = p.terminal_id
                     WHERE p.status = $3 AND p.created_at + t.hold_period_secs * 1000 <= $1
                     ORDER BY p.created_at LIMIT $2 ",
                    $skip_locked
                ))
                .bind(now_ms)
                .bind(limit)
                .bind(expire.from_status().as_str())
                .fetch_all(&mut *tx)
                .await?;
                let mut expired = Vec::new();
                for row in &rows {
                    let p = Self::payment_from(row)?;
                    // Only a card payment is ever held; anything else in AUTH is left alone.
                    let Ok(moved) = transition::expire(&state_of(&p)) else { continue };
                    if let Applied::Done = Self::apply_operation(&mut tx, &p, &moved, None, now_ms).await? {
                        let p = Payment { status: moved.status, updated_at: now_ms, ..p };
                        if let Some(cb) = callback(&p) {
                            Self::insert_callback(&mut tx, &cb, now_ms).await?;
                        }
                        expired.push(p);
                    }
                }
                tx.commit().await?;
                Ok(expired)
            }

            async fn refunds_of(&self, payment_id: &str) -> StoreResult<Vec<(String, Option<String>, i64)>> {
                let rows = sqlx::query(
                    "SELECT id, external_id, amount_minor FROM refunds WHERE payment_id = $1 ORDER BY created_at, id",
                )
                .bind(payment_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("external_id")?, r.try_get("amount_minor")?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(Into::into)
            }
        }

        #[async_trait]
        impl LedgerPort for $store {
            async fn ensure_accounts(
                &self,
                accounts: &[(String, AccountKind, epay_domain::Currency, i64)],
                now_ms: i64,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for (id, kind, currency, opening_minor) in accounts {
                    let currency = currency.code();
                    let exists = Self::account_currency(&mut tx, id).await?.is_some();
                    Self::open_account(&mut tx, id, *kind, currency, now_ms).await?;
                    if !exists && *opening_minor > 0 {
                        // The opening balance is a real transfer, so `ledger check` can account
                        // for every tiyn on the card.
                        let funding = funding_account(currency);
                        Self::open_account(&mut tx, &funding, AccountKind::Funding, currency, now_ms).await?;
                        Self::insert_leg(&mut tx, &format!("open:{id}"), None, &funding, id, *opening_minor, LedgerTransferKind::Posted, None, now_ms)
                            .await?;
                        sqlx::query("UPDATE ledger_accounts SET debits_posted = debits_posted + $1 WHERE id = $2")
                            .bind(opening_minor)
                            .bind(&funding)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("UPDATE ledger_accounts SET credits_posted = credits_posted + $1 WHERE id = $2")
                            .bind(opening_minor)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn ledger_account(&self, id: &str) -> StoreResult<Option<LedgerAccount>> {
                let row = sqlx::query("SELECT * FROM ledger_accounts WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::account_from).transpose()?)
            }

            async fn ledger_transfers_of(&self, payment_id: &str) -> StoreResult<Vec<LedgerTransfer>> {
                let rows = sqlx::query("SELECT * FROM ledger_transfers WHERE payment_id = $1 ORDER BY created_at, id")
                    .bind(payment_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(Self::transfer_from).collect::<Result<_, _>>()?)
            }

            async fn check_ledger(&self) -> StoreResult<Vec<InvariantViolation>> {
                // One read transaction, so the accounts and transfers are a consistent snapshot.
                let mut tx = self.pool.begin().await?;
                let mut unknown = Vec::new();
                let accounts = sqlx::query("SELECT * FROM ledger_accounts").fetch_all(&mut *tx).await?;
                let accounts = Self::known_rows(&accounts, "account", Self::account_from, &mut unknown)?;
                let transfers = sqlx::query("SELECT * FROM ledger_transfers").fetch_all(&mut *tx).await?;
                let transfers = Self::known_rows(&transfers, "transfer", Self::transfer_from, &mut unknown)?;
                let over = sqlx::query(
                    "SELECT id, amount_minor, charged_minor, refunded_minor FROM payments
                     WHERE charged_minor > amount_minor OR refunded_minor > charged_minor
                        OR charged_minor < 0 OR refunded_minor < 0",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut violations = unknown;
                violations.extend(check_accounts(&accounts, &transfers));
                for row in over {
                    let id: String = row.try_get("id")?;
                    let amount: i64 = row.try_get("amount_minor")?;
                    let charged: i64 = row.try_get("charged_minor")?;
                    let refunded: i64 = row.try_get("refunded_minor")?;
                    violations.push(InvariantViolation {
                        subject: format!("payment {id}"),
                        problem: format!("authorized {amount}, charged {charged}, refunded {refunded}"),
                    });
                }
                Ok(violations)
            }
        }

        #[async_trait]
        impl TransfersPort for $store {
            async fn record_transfer(&self, write: TransferWrite, callback: CallbackBuilder<'_>) -> StoreResult<Payment> {
                let TransferWrite { token_digest, token_spend, settlement, three_ds, idempotency } = write;
                let now = settlement.payment.created_at;
                let mut tx = self.pool.begin().await?;
                let spent = sqlx::query("UPDATE tokens SET used_at = $1 WHERE token_digest = $2 AND used_at IS NULL")
                    .bind(now)
                    .bind(&token_digest)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if spent != 1 {
                    return Err(StoreError::TokenSpent);
                }
                let mut settlement = settlement;
                settlement.payment.attempt = Self::number_attempt(&mut tx, &settlement.payment).await?;
                let payment = Self::settle_transfer(&mut tx, TxStatus::New, settlement, now).await?;
                Self::insert_payment(&mut tx, &payment).await?;
                if token_spend == TokenSpend::UnlessDeclined && payment.status.is_declined() {
                    Self::keep_token(&mut tx, &token_digest).await?;
                }
                if let Some(session) = &three_ds {
                    Self::insert_three_ds(&mut tx, session).await?;
                }
                if let Some(cb) = callback(&payment) {
                    Self::insert_callback(&mut tx, &cb, now).await?;
                }
                Self::commit_idempotency(&mut tx, idempotency.as_ref(), &payment).await?;
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
                let mut tx = self.pool.begin().await?;
                Self::confirm_session(&mut tx, session_id, now_ms).await?;
                let payment = Self::settle_transfer(&mut tx, TxStatus::ThreeD, settlement, now_ms).await?;
                Self::end_challenge(tx, session_id, payment, now_ms, callback).await
            }
        }

        #[async_trait]
        impl ThreeDsPort for $store {
            async fn three_ds_session(&self, id: &str) -> StoreResult<Option<ThreeDsSession>> {
                let row = sqlx::query("SELECT * FROM three_ds_sessions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::session_from).transpose()?)
            }

            async fn three_ds_session_by_server_id(&self, server_trans_id: &str) -> StoreResult<Option<ThreeDsSession>> {
                let row = sqlx::query("SELECT * FROM three_ds_sessions WHERE server_trans_id = $1")
                    .bind(server_trans_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::session_from).transpose()?)
            }

            async fn answer_three_ds(
                &self,
                id: &str,
                state: ThreeDsState,
                reason_code: i32,
                now_ms: i64,
            ) -> StoreResult<bool> {
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
                let mut tx = self.pool.begin().await?;
                Self::confirm_session(&mut tx, &session_id, now_ms).await?;
                let insufficient = epay_domain::ReasonCode::INSUFFICIENT_FUNDS;
                let insufficient = (insufficient.code, insufficient.message.to_string());
                if Self::decide_payment(&mut tx, TxStatus::ThreeD, &mut payment, &effect, insufficient, now_ms).await? {
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
                Ok(rows.iter().map(Self::session_from).collect::<Result<_, _>>()?)
            }

            async fn three_ds_session_of(
                &self,
                merchant_id: &str,
                payment_id: &str,
            ) -> StoreResult<Option<ThreeDsSession>> {
                let row = sqlx::query(
                    "SELECT s.* FROM three_ds_sessions s JOIN payments p ON p.id = s.payment_id
                     WHERE p.merchant_id = $1 AND s.payment_id = $2 ORDER BY s.created_at DESC LIMIT 1",
                )
                .bind(merchant_id)
                .bind(payment_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.as_ref().map(Self::session_from).transpose()?)
            }
        }
    };
}

// SQLite runs one transaction at a time (one connection), so it needs no row locks; PostgreSQL
// locks the payment row for the operation, and expiry sweeps skip rows another node holds.
sql_store!(SqliteStore, sqlx::Sqlite, SqliteRow, "", "");
sql_store!(PgStore, sqlx::Postgres, PgRow, "FOR UPDATE", "FOR UPDATE OF p SKIP LOCKED");
