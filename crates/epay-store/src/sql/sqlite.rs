//! SQLite: the embedded default. One write connection, so every transaction is serial and
//! needs no row locks; its units of work share COMMITs (`writer.rs`). Reads outside a
//! transaction run on a few read-only connections beside it (WAL), the hot path's on the
//! calling thread (`inline_reads.rs`).

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteQueryResult, SqliteSynchronous};
use sqlx::{ConnectOptions, Executor, Sqlite};

use super::conns::{Conns, Settings};
use super::inline_reads::InlineReads;
use super::{migrations, Backend, OneTrip, RowsAffected, SqlStore, Writer};
use crate::{StoreError, StoreResult};

static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| migrations::migrator(migrations::SQLITE));

impl Backend for Sqlite {
    const BACKEND: &'static str = "sqlite";
    // One connection: no other transaction can hold a row this one reads.
    const SKIP_LOCKED: &'static str = "";
    const SKIP_LOCKED_PAYMENTS: &'static str = "";
    const FOR_UPDATE: &'static str = "";
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const BEGIN_SNAPSHOT: &'static str = "BEGIN";
    const ONE_TRIP: OneTrip = OneTrip::Statements;
    // A file the gateway opened for writing stays writable; its connections are never pinged.
    const WRITABLE: Option<&'static str> = None;

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    async fn run_migrations(conn: &mut Self::Connection) -> Result<(), MigrateError> {
        // A migration may copy a whole table into a temporary one (0014): on disk, not in the
        // memory the write connection keeps its temporary store in (`connect`).
        conn.execute("PRAGMA temp_store = FILE").await?;
        // `run_direct`, not `run`: sqlx's own way around `run`'s "Acquire is not general
        // enough" on a borrowed connection.
        let migrated = MIGRATOR.run_direct(&mut *conn).await;
        conn.execute("PRAGMA temp_store = MEMORY").await?;
        migrated
    }

    async fn on_handle<'c>(
        conn: &'c mut Self::Connection,
        f: &'c mut (dyn FnMut(&rusqlite::Connection) + Send),
    ) -> Result<bool, sqlx::Error> {
        let mut locked = conn.lock_handle().await?;
        let handle = locked.as_raw_handle().as_ptr();
        // SAFETY: `locked` holds the connection's lock until the end of this function, so sqlx's
        // worker thread does not touch the handle meanwhile, and the handle stays open; the
        // rusqlite connection made on it is dropped before (it finalizes the statements it
        // prepared, and leaves the handle open: `from_handle` does not own it). Both crates link
        // the one copy of SQLite (libsqlite3-sys, Cargo.toml), so the handle's type is theirs.
        let borrowed = unsafe { rusqlite::Connection::from_handle(handle) }
            .map_err(|e| sqlx::Error::Protocol(format!("borrowing the write connection's handle: {e}")))?;
        f(&borrowed);
        drop(borrowed);
        drop(locked);
        Ok(true)
    }
}

impl RowsAffected for SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        SqliteQueryResult::rows_affected(self)
    }
}

impl SqlStore<Sqlite> {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before we answer; a payment the client saw succeed
            // survives power loss.
            .synchronous(SqliteSynchronous::Full)
            // Each unit is a savepoint in its batch (`writer.rs`): the pages it changes are
            // copied to a statement journal first, which SQLite spills to a temporary file past
            // 64 KiB, a payment's unit can reach, and keeps until the batch's COMMIT. In memory
            // it is freed at the unit's RELEASE. Durability is the WAL's, unchanged. (Temporary
            // tables and sorts of this connection stay in memory too: the migrations, which may
            // copy a whole table into a temporary one, run with `temp_store = FILE`.)
            .pragma("temp_store", "memory")
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // One connection: SQLite has one writer anyway, and a single connection makes every
        // transaction serial, so read-then-write sequences cannot interleave.
        // No ping, neither when a connection is lent nor when it is given back (`conns.rs`): on
        // SQLite a ping is one more hand-off to the connection's worker thread, and thread
        // hand-offs are the largest cost in `epay bench`'s profile; a local file cannot hang up.
        let pool = Conns::open(options, SQLITE.with_max(1)).await?;
        let (reads, inline) = if is_in_memory(url) {
            // Only its one connection sees an in-memory database.
            (pool.clone(), None)
        } else {
            // Read-only: a bug that wrote here would fail loudly instead of racing the writer.
            // The file exists now (the write pool created it, in WAL mode).
            let read_options =
                SqliteConnectOptions::from_str(url)?.read_only(true).foreign_keys(true).busy_timeout(BUSY_TIMEOUT);
            // Inline reads open the file by its name alone: not beside connections that reach
            // it through another VFS, or that treat it as immutable.
            let inline = match has_option(&read_options, &["vfs", "immutable"]) {
                true => None,
                false => {
                    Some(Arc::new(InlineReads::open(read_options.get_filename()).map_err(StoreError::SqliteOpen)?))
                }
            };
            (Conns::open(read_options, SQLITE.with_max(READERS)).await?, inline)
        };
        let writer = Some(Writer::start(pool.clone()));
        Ok(SqlStore { pool, reads, inline, writer, config: Default::default(), ahead: Default::default() })
    }
}

/// How SQLite's connections are held: never pinged; a wait as long as sqlx's pool allowed.
const SQLITE: Settings =
    Settings { max: 1, acquire_timeout: Duration::from_secs(30), ping_when_worth: false, max_lifetime: None };

/// How long a statement waits for a lock another connection (or process) holds.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Read-only connections beside the writer: each has its own sqlx worker thread, and the
/// machine has few cores; enough that reads do not queue behind the writer's COMMIT.
const READERS: u32 = 3;

/// Whether the connection options set any of `names` (`sqlite://file?vfs=unix-dotfile`), as
/// sqlx read them from the URL (its keys decoded).
fn has_option(options: &SqliteConnectOptions, names: &[&str]) -> bool {
    options.to_url_lossy().query_pairs().any(|(key, _)| names.contains(&key.as_ref()))
}

/// `sqlite::memory:` or `…?mode=memory`: a database only its own connection sees.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}
