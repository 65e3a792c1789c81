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
use epay_domain::{LedgerTransferKind, PaymentKind, Secret, ThreeDsState, TransferKind, TxStatus};
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

/// One amount of a payment in both of its currencies: the payment's and the card's (the same
/// number when they are the same currency).
#[derive(Debug, Clone, Copy, Default)]
struct Amounts {
    payment: i64,
    card: i64,
}

impl Amounts {
    /// `amount` of `p`'s currency, as the part of a series that already moved `before`: converted
    /// at the payment's recorded rate so the parts add up to the whole (`FxRate::convert_part`).
    fn of(p: &Payment, before: i64, amount: i64) -> Self {
        Amounts { payment: amount, card: p.fx_rate().convert_part(before, amount) }
    }

    /// The amount in `currency`, which must be the payment's or its card's: any other currency
    /// would mix currencies in one posting.
    fn in_currency(self, p: &Payment, currency: &str) -> Option<i64> {
        if currency == p.currency {
            Some(self.payment)
        } else if currency == p.card_currency {
            Some(self.card)
        } else {
            None
        }
    }
}

/// How a movement changes the balances (TigerBeetle's transfer kinds).
#[derive(Debug, Clone, Copy)]
enum Flow {
    Posted,
    Pending,
    /// Posts the movement's amount of the hold `<pending>` that held `held`, releasing the rest.
    PostPending {
        held: Amounts,
    },
    /// Releases the whole hold.
    VoidPending {
        held: Amounts,
    },
}

impl Flow {
    fn kind(self) -> LedgerTransferKind {
        match self {
            Flow::Posted => LedgerTransferKind::Posted,
            Flow::Pending => LedgerTransferKind::Pending,
            Flow::PostPending { .. } => LedgerTransferKind::PostPending,
            Flow::VoidPending { .. } => LedgerTransferKind::VoidPending,
        }
    }

    /// Changes to (debits_pending, debits_posted) of the debit account, which are also those to
    /// (credits_pending, credits_posted) of the credit account, for `amount` of a hold `held`.
    fn deltas(self, amount: i64, held: i64) -> (i64, i64) {
        match self {
            Flow::Posted => (0, amount),
            Flow::Pending => (amount, 0),
            Flow::PostPending { .. } => (-held, amount),
            Flow::VoidPending { .. } => (-held, 0),
        }
    }

    fn held(self) -> Amounts {
        match self {
            Flow::PostPending { held } | Flow::VoidPending { held } => held,
            Flow::Posted | Flow::Pending => Amounts::default(),
        }
    }
}

/// Money of one payment moved from one account to another. Between accounts of one currency it
/// is one ledger transfer `<id>`; when one side is the card in its own currency it is two,
/// through the pair's conversion accounts (`AccountKind::Fx`), so each currency balances alone:
/// `<id>` debit → `fx:<pair>:<debit's currency>`, then `<id>:fx` `fx:<pair>:<credit's currency>`
/// → credit. A post or void names the hold `<pending>` (and `<pending>:fx`).
struct Movement<'a> {
    id: String,
    payment: &'a Payment,
    debit: &'a str,
    credit: &'a str,
    amount: Amounts,
    flow: Flow,
    pending: Option<String>,
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

            /// Locks a card's account row if it has `amount` available (compare-and-set: two
            /// concurrent payments can never take it below zero). False when it has too little.
            async fn has_available(
                tx: &mut sqlx::Transaction<'static, $db>,
                account: &str,
                amount: i64,
            ) -> Result<bool, sqlx::Error> {
                let locked = sqlx::query(
                    "UPDATE ledger_accounts SET debits_posted = debits_posted
                     WHERE id = $1 AND credits_posted - debits_posted - debits_pending >= $2",
                )
                .bind(account)
                .bind(amount)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                Ok(locked == 1)
            }

            /// Books a movement (see [`Movement`]): its transfers, then the four sums of every
            /// account it touches, card rows first and then by id, one order for every
            /// transaction so concurrent ones on PostgreSQL cannot deadlock.
            async fn move_money(
                tx: &mut sqlx::Transaction<'static, $db>,
                m: Movement<'_>,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                let p = m.payment;
                let debit_currency = Self::account_currency(tx, m.debit).await?.ok_or_else(|| mixed_currencies(&m.id))?;
                let credit_currency =
                    Self::account_currency(tx, m.credit).await?.ok_or_else(|| mixed_currencies(&m.id))?;
                let mut legs: Vec<(String, String, String, String)> = Vec::new();
                if debit_currency == credit_currency {
                    legs.push((m.id.clone(), m.debit.to_string(), m.credit.to_string(), debit_currency));
                } else {
                    let fx_debit = fx_account(&p.currency, &p.card_currency, &debit_currency);
                    let fx_credit = fx_account(&p.currency, &p.card_currency, &credit_currency);
                    Self::open_account(tx, &fx_debit, AccountKind::Fx, &debit_currency, now).await?;
                    Self::open_account(tx, &fx_credit, AccountKind::Fx, &credit_currency, now).await?;
                    legs.push((m.id.clone(), m.debit.to_string(), fx_debit, debit_currency));
                    legs.push((format!("{}:fx", m.id), fx_credit, m.credit.to_string(), credit_currency));
                }
                let mut deltas: Vec<(String, [i64; 4])> = Vec::new();
                let mut add = |account: &str, delta: [i64; 4]| match deltas.iter_mut().find(|(a, _)| a == account) {
                    Some((_, sums)) => sums.iter_mut().zip(delta).for_each(|(s, d)| *s += d),
                    None => deltas.push((account.to_string(), delta)),
                };
                for (i, (id, debit, credit, currency)) in legs.iter().enumerate() {
                    let amount = m.amount.in_currency(p, currency).ok_or_else(|| mixed_currencies(id))?;
                    let held = m.flow.held().in_currency(p, currency).ok_or_else(|| mixed_currencies(id))?;
                    let pending_id = m.pending.as_ref().map(|h| if i == 0 { h.clone() } else { format!("{h}:fx") });
                    Self::insert_leg(tx, id, Some(p.id.as_str()), debit, credit, amount, m.flow.kind(), pending_id.as_deref(), now)
                        .await?;
                    let (pending, posted) = m.flow.deltas(amount, held);
                    add(debit, [pending, posted, 0, 0]);
                    add(credit, [0, 0, pending, posted]);
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
                Ok(())
            }

            /// Moves a payment's money card → merchant (a hold or at once) by compare-and-set on
            /// the card's balance, so concurrent payments can never take a card below zero.
            /// False when the card has too little money (nothing moved).
            async fn apply_debit(
                tx: &mut sqlx::Transaction<'static, $db>,
                payment: &Payment,
                effect: &PaymentEffect,
                now: i64,
            ) -> Result<bool, sqlx::Error> {
                let PaymentEffect::Debit { card_account, merchant_account, kind } = effect else {
                    return Ok(true);
                };
                let amount = Amounts::of(payment, 0, payment.amount_minor);
                if !Self::has_available(tx, card_account, amount.card).await? {
                    return Ok(false);
                }
                Self::open_account(tx, merchant_account, AccountKind::Merchant, &payment.currency, now).await?;
                let flow = match kind {
                    DebitKind::Posted => Flow::Posted,
                    DebitKind::Pending => Flow::Pending,
                };
                let movement = Movement {
                    id: format!("{}:auth", payment.id),
                    payment,
                    debit: card_account,
                    credit: merchant_account,
                    amount,
                    flow,
                    pending: None,
                };
                Self::move_money(tx, movement, now).await?;
                Ok(true)
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

            /// Moves a transfer's money (limits checked, amount and fee together or not at all)
            /// and saves its cards; a limit or balance that does not allow it turns the payment
            /// into a REJECT with that reason.
            async fn settle_transfer(
                tx: &mut sqlx::Transaction<'static, $db>,
                settlement: TransferSettlement,
                now: i64,
            ) -> Result<Payment, sqlx::Error> {
                let TransferSettlement {
                    mut payment,
                    money,
                    save_sender,
                    save_receiver,
                    insufficient_funds,
                    receiver_limit,
                    terminal_limit,
                } = settlement;
                let mut decline: Option<(i32, String)> = None;
                if let Some(m) = &money {
                    // The amount and the fee in each currency: the fee is converted as the part of
                    // amount + fee after the amount, so a card pays exactly convert(amount + fee).
                    let amount = Amounts::of(&payment, 0, payment.amount_minor);
                    let fee = Amounts::of(&payment, payment.amount_minor, m.fee_minor);
                    let amount_and_fee = Amounts { payment: amount.payment + fee.payment, card: amount.card + fee.card };
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
                        let total: i64 = row.try_get("total")?;
                        if total + payment.amount_minor > limit {
                            decline = Some(terminal_limit.clone());
                        }
                    }
                    if m.to_account.starts_with("merchant:") {
                        Self::open_account(tx, &m.to_account, AccountKind::Merchant, &payment.currency, now).await?;
                    }
                    if m.from_account.starts_with("merchant:") {
                        Self::open_account(tx, &m.from_account, AccountKind::Merchant, &payment.currency, now).await?;
                    }
                    let to_currency =
                        Self::account_currency(tx, &m.to_account).await?.ok_or_else(|| mixed_currencies(&payment.id))?;
                    let from_currency =
                        Self::account_currency(tx, &m.from_account).await?.ok_or_else(|| mixed_currencies(&payment.id))?;
                    if let (None, Some(limit)) = (&decline, m.receiver_daily_limit_minor) {
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
                        let total: i64 = row.try_get("total")?;
                        let incoming = amount.in_currency(&payment, &to_currency).ok_or_else(|| mixed_currencies(&payment.id))?;
                        if total + incoming > limit {
                            decline = Some(receiver_limit.clone());
                        }
                    }
                    if decline.is_none() {
                        // One compare-and-set for amount and fee together: both move or neither.
                        let needed = amount_and_fee.in_currency(&payment, &from_currency).ok_or_else(|| mixed_currencies(&payment.id))?;
                        if !Self::has_available(tx, &m.from_account, needed).await? {
                            decline = Some(insufficient_funds.clone());
                        }
                    }
                    if decline.is_none() {
                        let amount_move = Movement {
                            id: format!("{}:transfer", payment.id),
                            payment: &payment,
                            debit: &m.from_account,
                            credit: &m.to_account,
                            amount,
                            flow: Flow::Posted,
                            pending: None,
                        };
                        Self::move_money(tx, amount_move, now).await?;
                        if m.fee_minor > 0 {
                            Self::open_account(tx, &m.fee_account, AccountKind::Merchant, &payment.currency, now).await?;
                            let fee_move = Movement {
                                id: format!("{}:fee", payment.id),
                                payment: &payment,
                                debit: &m.from_account,
                                credit: &m.fee_account,
                                amount: fee,
                                flow: Flow::Posted,
                                pending: None,
                            };
                            Self::move_money(tx, fee_move, now).await?;
                        }
                    }
                }
                if let Some((code, reason)) = decline {
                    payment.status = TxStatus::Reject;
                    payment.reason_code = code;
                    payment.reason = reason;
                    payment.charged_minor = 0;
                    payment.fee_minor = 0;
                    payment.approval_code = String::new();
                    payment.reference = String::new();
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

            /// Posts `amount` of a payment's hold and releases the rest (TigerBeetle post_pending),
            /// in each currency at the payment's recorded rate.
            async fn post_hold(
                tx: &mut sqlx::Transaction<'static, $db>,
                p: &Payment,
                amount: i64,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                Self::resolve_hold(tx, p, "charge", Amounts::of(p, 0, amount), true, now).await
            }

            /// Voids a payment's hold (TigerBeetle void_pending): the card gets its money back.
            async fn void_hold(tx: &mut sqlx::Transaction<'static, $db>, p: &Payment, now: i64) -> Result<(), sqlx::Error> {
                Self::resolve_hold(tx, p, "void", Amounts::default(), false, now).await
            }

            /// Posts (`post`) or voids the hold `<payment>:auth`, as `<payment>:<suffix>`.
            async fn resolve_hold(
                tx: &mut sqlx::Transaction<'static, $db>,
                p: &Payment,
                suffix: &str,
                amount: Amounts,
                post: bool,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                let card = p.card_account.clone().unwrap_or_default();
                let merchant = merchant_account(&p.terminal_id, &p.currency);
                let held = Amounts::of(p, 0, p.amount_minor);
                let flow = if post { Flow::PostPending { held } } else { Flow::VoidPending { held } };
                let movement = Movement {
                    id: format!("{}:{suffix}", p.id),
                    payment: p,
                    debit: &card,
                    credit: &merchant,
                    amount,
                    flow,
                    pending: Some(format!("{}:auth", p.id)),
                };
                Self::move_money(tx, movement, now).await
            }

            /// Releases a payment's hold by `op` (a cancel or an expiry): by compare-and-set from
            /// the status `op` needs (AUTH) to the one it leaves (CANCEL or CANCEL_OLD), then the
            /// hold is voided. False if the payment was no longer AUTH (another request or node got
            /// there first).
            async fn release_auth(
                tx: &mut sqlx::Transaction<'static, $db>,
                p: &Payment,
                op: epay_domain::Operation,
                now: i64,
            ) -> Result<bool, sqlx::Error> {
                let status = op.status_after(false);
                let moved = sqlx::query(
                    "UPDATE payments SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
                )
                .bind(status.as_str())
                .bind(now)
                .bind(&p.id)
                .bind(op.from_status().as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if moved != 1 {
                    return Ok(false);
                }
                Self::void_hold(tx, p, now).await?;
                Self::record_event(tx, &p.id, op.as_str(), status, p.amount_minor, 0, now).await?;
                Ok(true)
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
                // ePay's minimum refund, judged on what is left as this transaction sees it: the
                // row the refund updates (locked on PostgreSQL; SQLite runs one transaction at a
                // time), so no concurrent refund can change it between the check and the refund.
                if let Operation::Refund { amount_minor: Some(amount), .. } = &req.operation {
                    if !epay_domain::refund_meets_minimum(*amount, p.charged_minor - p.refunded_minor) {
                        return Err(StoreError::Refused(Refusal::BelowMinimumRefund { amount_minor: *amount }));
                    }
                }
                // The state machine (epay_domain::Operation) says to which payments each operation
                // applies, from which status it runs and what it leaves; every UPDATE below is a
                // compare-and-set on that status.
                let op = req.operation.kind();
                if !op.applies_to(p.kind) {
                    return Err(StoreError::Refused(Refusal::NotAPayment { kind: p.kind }));
                }
                let wrong_status = || StoreError::Refused(Refusal::WrongStatus { status: p.status });
                match &req.operation {
                    Operation::Charge { amount_minor } => {
                        if !op.allowed_from(p.status) {
                            return Err(wrong_status());
                        }
                        let amount = amount_minor.unwrap_or(p.amount_minor);
                        if amount > p.amount_minor {
                            return Err(StoreError::Refused(Refusal::OverAmount { left_minor: p.amount_minor }));
                        }
                        let moved = sqlx::query(
                            "UPDATE payments SET status = $4, charged_minor = $1, updated_at = $2
                             WHERE id = $3 AND status = $5",
                        )
                        .bind(amount)
                        .bind(now)
                        .bind(&p.id)
                        .bind(op.status_after(false).as_str())
                        .bind(op.from_status().as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if moved != 1 {
                            return Err(wrong_status());
                        }
                        Self::post_hold(&mut tx, &p, amount, now).await?;
                        Self::record_event(&mut tx, &p.id, op.as_str(), op.status_after(false), amount, 0, now).await?;
                    }
                    Operation::Cancel => {
                        if !op.allowed_from(p.status) || !Self::release_auth(&mut tx, &p, op, now).await? {
                            return Err(wrong_status());
                        }
                    }
                    Operation::Refund { amount_minor, external_id } => {
                        if let Some(external) = external_id {
                            let earlier = sqlx::query(
                                "SELECT amount_minor FROM refunds WHERE payment_id = $1 AND external_id = $2",
                            )
                            .bind(&p.id)
                            .bind(external)
                            .fetch_optional(&mut *tx)
                            .await?;
                            if let Some(earlier) = earlier {
                                let earlier: i64 = earlier.try_get("amount_minor")?;
                                if amount_minor.is_some_and(|a| a != earlier) {
                                    return Err(StoreError::Refused(Refusal::ExternalIdReused { amount_minor: earlier }));
                                }
                                Self::commit_idempotency(&mut tx, req.idempotency.as_ref(), &p).await?;
                                tx.commit().await?;
                                return Ok(Some(OperationOutcome { payment: p, replayed: true }));
                            }
                        }
                        if !op.allowed_from(p.status) {
                            return Err(wrong_status());
                        }
                        let left = p.charged_minor - p.refunded_minor;
                        let amount = amount_minor.unwrap_or(left);
                        if amount > left || amount <= 0 {
                            return Err(StoreError::Refused(Refusal::OverAmount { left_minor: left }));
                        }
                        // Compare-and-set: the refund only happens if it still fits at this instant.
                        let moved = sqlx::query(
                            "UPDATE payments SET refunded_minor = refunded_minor + $1,
                                 status = CASE WHEN refunded_minor + $1 = charged_minor THEN $4 ELSE status END,
                                 updated_at = $2
                             WHERE id = $3 AND status = $5 AND refunded_minor + $1 <= charged_minor",
                        )
                        .bind(amount)
                        .bind(now)
                        .bind(&p.id)
                        .bind(op.status_after(true).as_str())
                        .bind(op.from_status().as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if moved != 1 {
                            return Err(StoreError::Refused(Refusal::OverAmount { left_minor: left }));
                        }
                        // Refunded-so-far only grows, so it makes each refund id of a payment unique.
                        let refund_id = format!("{}:refund:{}", p.id, p.refunded_minor);
                        let inserted = sqlx::query(
                            "INSERT INTO refunds (id, payment_id, external_id, amount_minor, created_at)
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(&refund_id)
                        .bind(&p.id)
                        .bind(external_id)
                        .bind(amount)
                        .bind(now)
                        .execute(&mut *tx)
                        .await;
                        match inserted {
                            Ok(_) => {}
                            Err(e) if is_unique_violation(&e) => return Ok(None),
                            Err(e) => return Err(e.into()),
                        }
                        // The card gets back, in its currency, this part of the refunded total
                        // at the rate recorded when it paid.
                        let card = p.card_account.clone().unwrap_or_default();
                        let merchant = merchant_account(&p.terminal_id, &p.currency);
                        let movement = Movement {
                            id: refund_id.clone(),
                            payment: &p,
                            debit: &merchant,
                            credit: &card,
                            amount: Amounts::of(&p, p.refunded_minor, amount),
                            flow: Flow::Posted,
                            pending: None,
                        };
                        Self::move_money(&mut tx, movement, now).await?;
                        let status = op.status_after(p.refunded_minor + amount == p.charged_minor);
                        Self::record_event(&mut tx, &p.id, op.as_str(), status, amount, 0, now).await?;
                    }
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

                if !Self::apply_debit(&mut tx, &payment, &effect, now).await? {
                    let (status, code, reason) = on_insufficient_funds;
                    payment.status = status;
                    payment.reason_code = code;
                    payment.reason = reason;
                    payment.charged_minor = 0;
                    payment.approval_code = String::new();
                }

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
                    if Self::release_auth(&mut tx, &p, expire, now_ms).await? {
                        let p = Payment { status: expire.status_after(false), updated_at: now_ms, ..p };
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
                let payment = Self::settle_transfer(&mut tx, settlement, now).await?;
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
                let mut payment = Self::settle_transfer(&mut tx, settlement, now_ms).await?;
                check_move(TxStatus::ThreeD, payment.status)?;
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
                    Self::keep_session_token(&mut tx, &session_id).await?;
                }
                if let Some(cb) = callback(&payment) {
                    Self::insert_callback(&mut tx, &cb, now_ms).await?;
                }
                tx.commit().await?;
                Ok(payment)
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
                if !Self::apply_debit(&mut tx, &payment, &effect, now_ms).await? {
                    payment.status = TxStatus::Reject;
                    payment.reason_code = 484;
                    payment.reason = "Insufficient funds".into();
                    payment.charged_minor = 0;
                    payment.approval_code = String::new();
                    payment.reference = String::new();
                }
                if let (0, Some(card)) = (payment.reason_code, &save_card) {
                    payment.card_id = Self::save_card(&mut tx, card).await?;
                }
                check_move(TxStatus::ThreeD, payment.status)?;
                let moved = sqlx::query(
                    "UPDATE payments SET status = $1, charged_minor = $2, reason_code = $3, reason = $4,
                         approval_code = $5, reference = $6, card_id = $7, secure = $8, issuer = $9,
                         card_account = $10, updated_at = $11
                     WHERE id = $12 AND status = $13",
                )
                .bind(payment.status.as_str())
                .bind(payment.charged_minor)
                .bind(payment.reason_code)
                .bind(&payment.reason)
                .bind(&payment.approval_code)
                .bind(&payment.reference)
                .bind(&payment.card_id)
                .bind(payment.secure)
                .bind(&payment.issuer)
                .bind(&payment.card_account)
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
                    Self::keep_session_token(&mut tx, &session_id).await?;
                }
                if let Some(cb) = callback(&payment) {
                    Self::insert_callback(&mut tx, &cb, now_ms).await?;
                }
                tx.commit().await?;
                Ok(payment)
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
