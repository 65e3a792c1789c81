//! The SQL adapter: one body of SQL for SQLite and PostgreSQL. Both accept `$1`-style
//! placeholders, and the schema uses types both understand (TEXT, BIGINT, INTEGER, BOOLEAN), so
//! the same statements run on either. What differs lives in the two [`Backend`] impls
//! (`sqlite.rs`, `postgres.rs`): connecting, migrations, and the row-lock clauses.
//!
//! Every port is one generic impl over the backend (`SqlStore<DB>`, one file each); the steps
//! the payment, transfer and 3-D Secure writes share inside their transaction are in
//! `booking.rs` (ledger postings) and `writes.rs` (the rest).

mod booking;
mod cabinet;
mod callbacks;
mod database;
mod ledger;
mod merchants;
mod migrations;
mod payments;
mod postgres;
pub(crate) mod rows;
mod sqlite;
mod three_ds;
mod tokens;
mod transfers;
mod vault;
mod writes;

use std::future::Future;
use std::sync::Arc;

use epay_domain::posting::{Denomination, Role};
use epay_domain::transition::{self, Decision};
use epay_domain::{PaymentState, TxStatus};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Database, Decode, Encode, Pool, Postgres, Sqlite, Type};

use crate::model::*;
use crate::{Store, StoreError, StoreResult};

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
    /// The same for a join whose `payments` table is `p`: locks (and skips) only payment rows.
    const SKIP_LOCKED_PAYMENTS: &'static str;
    /// Ends a `SELECT` whose rows the transaction will change or rely on: PostgreSQL locks them
    /// until commit, so a concurrent write waits and then reads what this one wrote; SQLite's
    /// one connection already serializes every transaction.
    const FOR_UPDATE: &'static str;
    /// The statement that opens a transaction. SQLite: `BEGIN IMMEDIATE`, taking the write lock
    /// at once, so a transaction that reads and then writes never has to upgrade its lock. In
    /// WAL mode such an upgrade fails at once with "database is locked" (the busy timeout does
    /// not apply) when another process committed since the read, which two gateways starting on
    /// one file at the same time do. PostgreSQL: a plain `BEGIN`.
    const BEGIN: &'static str;

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
