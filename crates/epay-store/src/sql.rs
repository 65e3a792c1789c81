//! The SQL adapter: one body of SQL for SQLite and PostgreSQL. Both accept `$1`-style
//! placeholders, and the schema uses types both understand (TEXT, BIGINT, INTEGER, BOOLEAN), so
//! the same statements run on either. What differs lives in the two [`Backend`] impls
//! (`sqlite.rs`, `postgres.rs`): connecting, migrations, and the row-lock clauses.
//!
//! This file connects and holds the backend plumbing. Every port is one generic impl over the
//! backend (`SqlStore<DB>`, one file each); the steps the payment, transfer and 3-D Secure
//! writes share inside their transaction are in `booking.rs` (ledger postings) and `writes.rs`
//! (the rest), and what ties a row to the domain's state machine is in `decisions.rs`.

mod booking;
mod cabinet;
mod callbacks;
pub(crate) mod config_cache;
mod config_watch;
mod conns;
mod daily_totals;
mod database;
mod db_error;
mod decisions;
mod inline_reads;
mod inline_writes;
mod invoices;
mod ledger;
mod merchants;
mod migrations;
mod operate_ahead;
pub(crate) mod outbox;
mod payments;
mod pipeline;
mod postgres;
mod read_ahead;
pub(crate) mod rows;
mod sqlite;
mod subscriptions;
#[cfg(test)]
mod test_store;
mod three_ds;
mod tokens;
mod transfers;
mod vault;
mod writer;
mod writes;

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Postgres, Sqlite, Type};

use crate::{Store, StoreError, StoreResult};
use conns::Conns;
pub use writer::Unit;
use writer::{Opening, Writer};

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

/// The store on one database: its connections (`conns.rs`) and the SQL of every port.
pub struct SqlStore<DB: Database> {
    /// Writes: every unit of work (`begin_unit`) and every single-statement write. SQLite: the
    /// one write connection; PostgreSQL: all its connections.
    pool: Conns<DB>,
    /// This node's copy of merchants and terminals (`config_cache.rs`).
    config: Arc<config_cache::ConfigCache>,
    /// Reads outside a transaction. SQLite: read-only connections on the same file, which WAL
    /// lets read beside the writer (they see every COMMIT that has returned, so a request that
    /// wrote and was answered is read back by the next); PostgreSQL (and an in-memory SQLite
    /// database, which only its one connection sees): the same connections as `pool`.
    reads: Conns<DB>,
    /// SQLite files: the hot path's reads, run on the calling thread (`inline_reads.rs`)
    /// rather than on `reads`' connection threads. `None` on PostgreSQL and for an in-memory
    /// SQLite database.
    inline: Option<Arc<inline_reads::InlineReads>>,
    /// SQLite: the group-commit writer that runs the units on the write connection (see
    /// `writer.rs`). PostgreSQL: none, a unit is a pooled transaction.
    writer: Option<Writer<DB>>,
    /// Use cases decided ahead so far (`read_ahead.rs`), for `/metrics` and tests.
    ahead: read_ahead::AheadCounts,
}

impl<DB: Backend> SqlStore<DB> {
    /// Opens a unit of work: the transaction of one port method's write, ended by
    /// `tx.commit()`; dropped without it, nothing it wrote remains.
    pub(crate) async fn begin_unit(&self) -> Result<Unit<DB>, sqlx::Error> {
        match &self.writer {
            Some(writer) => writer.begin().await,
            None => Ok(Unit::own(self.pool.begin_with(DB::BEGIN).await?)),
        }
    }

    /// Opens a unit of work whose first statements go to the database together with what opens
    /// it (`writer.rs`, [`Opening`]): on SQLite the unit's savepoint or its batch's BEGIN, so a
    /// use case's opening read costs no round trip of its own.
    pub(crate) async fn begin_opening(&self) -> Result<Opening<DB>, sqlx::Error> {
        match &self.writer {
            Some(writer) => writer.begin_opening().await,
            None => Ok(Opening::opened(Unit::own(self.pool.begin_with(DB::BEGIN).await?))),
        }
    }

    /// Runs one statement that writes (`args` bound by their `$n`) and answers the rows it
    /// returns. On SQLite it is a detached unit (`writer.rs`): the committer runs it in the open
    /// batch (or the next, if none is open), in a savepoint of its own and one round trip with
    /// its RELEASE, and it shares the batch's durable COMMIT. Holding the write connection for it
    /// instead would hand the connection's lock to this task and back, a wake-up each, while the
    /// batch waits; run outside the writer, it would pay a COMMIT (an fsync) of its own. Once
    /// handed to the committer it runs even if this future is dropped (a client that hangs up).
    /// On PostgreSQL it is the statement alone, its own transaction in one round trip. Returns
    /// once the write is durable.
    pub(crate) async fn write_one(
        &self,
        sql: impl Into<Cow<'static, str>>,
        args: Vec<pipeline::Arg>,
    ) -> StoreResult<Vec<DB::Row>> {
        let step = pipeline::Step::new(sql, args);
        match &self.writer {
            Some(writer) => writer.run_detached(Unit::detached([step])).await,
            None => Ok(step.fetch_all(&self.pool).await?),
        }
    }

    /// How many COMMITs the group-commit writer ran (SQLite; `None` on PostgreSQL, where each
    /// unit commits itself). Fewer than the units committed when they shared COMMITs.
    pub fn group_commits(&self) -> Option<u64> {
        self.writer.as_ref().map(Writer::commits)
    }
}

pub type SqliteStore = SqlStore<Sqlite>;
pub type PgStore = SqlStore<Postgres>;

/// What differs between the two databases; everything else is the same SQL. Implemented by
/// `sqlx::Sqlite` (`sqlite.rs`) and `sqlx::Postgres` (`postgres.rs`).
///
/// Its supertraits are also everything the ports' generic SQL needs of a backend, stated once
/// here so that each port's impl asks only `DB: Backend`: that `&mut Connection` runs statements,
/// that arguments bind, that columns are found by name, and that the column types the SQL uses
/// ([`Value`]) encode and decode. Rust implies a trait's supertraits, and bounds on their
/// associated types, wherever `DB: Backend` holds, but not a bound on another type such as
/// `String: Value<DB>`. So each such bound is written on [`Named`]'s associated type, which is
/// pinned to the type itself (`Named<String, Is = String, Is: Value<Self>>`): the compiler
/// implies it as a bound on `String`. The `impl Backend` blocks prove every one of them, so a
/// backend that lacked one would not compile.
pub trait Backend:
    Database<QueryResult: RowsAffected>
    + for<'q> Database<Arguments<'q>: IntoArguments<'q, Self>>
    + for<'c> Named<
        &'c mut <Self as Database>::Connection,
        Is = &'c mut <Self as Database>::Connection,
        Is: Executor<'c, Database = Self>,
    > + config_watch::ConfigNotifications
    + for<'q> Named<&'q str, Is = &'q str, Is: ColumnIndex<<Self as Database>::Row> + Encode<'q, Self> + Type<Self>>
    + for<'q> Named<Option<&'q str>, Is = Option<&'q str>, Is: Encode<'q, Self> + Type<Self>>
    + Named<String, Is = String, Is: Value<Self>>
    + Named<i64, Is = i64, Is: Value<Self>>
    + Named<i32, Is = i32, Is: Value<Self>>
    + Named<bool, Is = bool, Is: Value<Self>>
    + Named<Option<String>, Is = Option<String>, Is: Value<Self>>
    + Named<Option<i64>, Is = Option<i64>, Is: Value<Self>>
    + Named<Option<i32>, Is = Option<i32>, Is: Value<Self>>
{
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
    /// Opens a read-only transaction that sees one snapshot for all its statements (the ledger
    /// check). PostgreSQL: REPEATABLE READ, as READ COMMITTED takes a snapshot per statement;
    /// SQLite: a deferred transaction on a read connection, which WAL keeps at one snapshot.
    const BEGIN_SNAPSHOT: &'static str;
    /// How a unit's final writes travel together in one round trip (`pipeline.rs`).
    const ONE_TRIP: OneTrip;

    /// The check that replaces a plain ping before an idle connection is lent (`conns.rs`): a
    /// query answering one boolean column `writable`, false when the session cannot write (a
    /// switchover left it on a server that is now a standby). `None`: a plain ping.
    const WRITABLE: Option<&'static str>;

    /// The embedded migrations of this database's dialect.
    fn migrator() -> &'static Migrator;

    /// Runs the migrations not yet applied, on one of the store's connections.
    fn run_migrations(conn: &mut Self::Connection) -> impl Future<Output = Result<(), MigrateError>> + Send + '_;

    /// SQLite: runs `f` on the connection's own handle, on this thread, while sqlx's worker
    /// thread for it waits (`inline_writes.rs`), and answers `true`. PostgreSQL: runs nothing
    /// and answers `false`.
    fn on_handle<'c>(
        conn: &'c mut Self::Connection,
        f: &'c mut (dyn FnMut(&rusqlite::Connection) + Send),
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send + 'c;
}

/// How several statements of a unit go to the database in one round trip (`pipeline.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OneTrip {
    /// PostgreSQL: one statement whose WITH holds the writes (data-modifying CTEs). Its
    /// sub-statements all see the database as it was before it.
    WritableCte,
    /// SQLite (no data-modifying CTEs): `;`-separated statements in one query, which sqlx's
    /// SQLite driver prepares and runs in turn on the connection's thread, each seeing the ones
    /// before it. PostgreSQL refuses this with bound arguments.
    Statements,
}

/// How many rows a statement changed (each driver has it, but as its own inherent method).
pub trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

/// `T` itself, named through a backend: `<DB as Named<T>>::Is` is `T` for every `DB`. Only a
/// carrier for [`Backend`]'s bounds on column and executor types (see there).
pub trait Named<T: ?Sized> {
    type Is: ?Sized;
}

impl<DB: ?Sized, T: ?Sized> Named<T> for DB {
    type Is = T;
}

/// A Rust type stored in a column: written (`Encode`), read (`Decode`) and typed (`Type`) alike
/// on the backend `DB`.
pub trait Value<DB: Database>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> {}

impl<DB: Database, T> Value<DB> for T where T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> {}

/// The store is every port, on either backend.
impl<DB: Backend> Store for SqlStore<DB> {}
