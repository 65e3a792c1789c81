//! SQLite: the hot path's reads, run on the thread of the request that asks for them.
//!
//! sqlx runs every SQLite connection on a thread of its own: a statement is a message to that
//! thread and its rows a message back, so each read wakes two threads and switches between
//! them. In `epay bench`'s profile of a saved-card payment (docs/performance.md) the kernel's
//! thread switching was the largest single cost, well ahead of SQLite's own work, and a payment
//! made three such reads before it wrote anything: whether its token was spent, the saved card,
//! and the read ahead (`read_ahead.rs`), besides the token request's read of its guessing
//! counters (`abuse_windows`); a status request makes one (the payment by invoice), and a
//! charge or refund two (its payment by id, and its read ahead, `operate_ahead.rs`).
//! Here those reads run on plain SQLite connections
//! (rusqlite, over the same bundled SQLite sqlx links) on the calling thread: a read of a
//! page-cached WAL database is a few microseconds of work, less than the two thread switches it
//! used to cost.
//!
//! What makes that safe to do on an async runtime's thread: the connections are read-only and
//! the database is in WAL mode, so a read never waits for the writer or its COMMIT; every read
//! here is a lookup by primary key or unique index. The wait SQLite could still make is its busy
//! handler, which only another process can trigger (one recovering the WAL index after a crash,
//! or holding the file exclusively). These connections have no busy timeout: such a read answers
//! "busy" at once, and the store asks its sqlx read connections instead, which wait on their own
//! threads ([`Inline::Busy`]; a read ahead that is busy leaves the payment to the locked way).
//! The runtime's thread never sits in the busy handler. (SQLite's own retry while a WAL writer
//! is mid-way through resetting the index can sleep briefly; it has no setting, and sqlx's
//! threads met it as well.)
//!
//! Each read sees every COMMIT that returned before it started (an autocommit statement on a
//! WAL reader), as the sqlx read-only connections did: a request that wrote and was answered is
//! read back by the next. Only SQLite files get these; an in-memory database is seen by its one
//! connection only, and PostgreSQL reads through its pool.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use epay_domain::Secret;
use rusqlite::types::{FromSql, Type};
use rusqlite::{Connection, OpenFlags, Row, Statement};

use super::pipeline::Arg;
use super::{Backend, SqlStore};
use crate::model::{Payment, SavedCard};
use crate::StoreResult;

/// Idle connections kept for the next read, at least: one is opened when none is idle, so as
/// many are open as threads read at once (the runtime's workers, one per core). Twice the cores
/// are kept where that is more, so a read never pays for opening a connection once warm.
const KEPT_IDLE: usize = 8;

/// Statements each connection keeps prepared (the hot reads are a handful).
const PREPARED_KEPT: usize = 32;

/// Read-only connections to one SQLite file, lent to one thread at a time.
pub(crate) struct InlineReads {
    path: PathBuf,
    /// How many idle connections are kept ([`KEPT_IDLE`], or twice the cores).
    kept_idle: usize,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for InlineReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReads").field("path", &self.path).finish_non_exhaustive()
    }
}

/// What an inline read gave: its answer, or `Busy` when another process held the file and the
/// caller should read through its sqlx connections instead.
#[derive(Debug)]
pub(crate) enum Inline<T> {
    Read(T),
    Busy,
}

impl InlineReads {
    /// Opens the first connection and reads the schema's version on it, so a file that cannot
    /// be read fails at start.
    pub(crate) fn open(path: &Path) -> rusqlite::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let reads =
            InlineReads { path: path.to_path_buf(), kept_idle: KEPT_IDLE.max(2 * cores), idle: Mutex::new(Vec::new()) };
        let first = reads.connect()?;
        first.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))?;
        reads.idle.lock().expect("idle connections").push(first);
        Ok(reads)
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        // Read-only, as the sqlx read connections are: a bug that wrote here fails loudly. No
        // mutex of SQLite's own: one thread uses a connection at a time (`read`). No busy
        // timeout (see the module doc): a read another process blocks answers `SQLITE_BUSY` at
        // once.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(Duration::ZERO)?;
        conn.set_prepared_statement_cache_capacity(PREPARED_KEPT);
        Ok(conn)
    }

    /// Runs `read` on an idle connection (or a new one), on this thread; `Busy` when another
    /// process kept it from reading. A connection whose read failed is closed, not kept: a
    /// file error may have left it in any state.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<Inline<T>> {
        let idle = self.idle.lock().expect("idle connections").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => match self.connect() {
                Ok(conn) => conn,
                Err(e) if is_busy(&e) => return Ok(Inline::Busy),
                Err(e) => return Err(e),
            },
        };
        let result = read(&conn);
        // Every statement ran to its end and was reset (`query_on`), so none holds a read
        // transaction, and an old snapshot, into the connection's next read.
        debug_assert!(conn.is_autocommit() && !conn.is_busy(), "an inline read left a statement open");
        let answer = match result {
            Ok(answer) => Inline::Read(answer),
            // Kept: a refused read leaves the connection as it was.
            Err(e) if is_busy(&e) => Inline::Busy,
            // Closed: another error may have left it in any state.
            Err(e) => return Err(e),
        };
        let mut idle = self.idle.lock().expect("idle connections");
        if idle.len() < self.kept_idle {
            idle.push(conn);
        }
        Ok(answer)
    }

    /// Every row `sql` answers with `args`, each made by `row`, on this thread.
    pub(crate) fn query<T>(
        &self,
        sql: &str,
        args: &[Arg],
        row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Inline<Vec<T>>> {
        self.read(|conn| query_on(conn, sql, args, row))
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// Every row `sql` answers with `args`, each made by `row`, read inline (on this thread);
    /// `None` when this store has no inline reads (PostgreSQL, an in-memory database) or another
    /// process kept them busy: the caller then reads through `self.reads`.
    pub(super) fn read_inline<T>(
        &self,
        sql: &str,
        args: &[Arg],
        row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Option<Vec<T>>> {
        let Some(inline) = &self.inline else { return Ok(None) };
        match inline.query(sql, args, row)? {
            Inline::Read(rows) => Ok(Some(rows)),
            Inline::Busy => Ok(None),
        }
    }
}

/// Whether SQLite refused for now because another connection holds a lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Every row `sql` answers on `conn` with `args` bound to its `$1`, `$2`, …, each made by `row`.
/// The statement comes from the connection's cache. The store's SQL names its parameters as
/// PostgreSQL does, which SQLite takes as names, numbered in the order they first appear rather
/// than by their digits: each is bound by its name.
pub(crate) fn query_on<T>(
    conn: &Connection,
    sql: &str,
    args: &[Arg],
    mut row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    bind(&mut statement, args)?;
    let mut answered = statement.raw_query();
    let mut out = Vec::new();
    while let Some(r) = answered.next()? {
        out.push(row(r)?);
    }
    Ok(out)
}

/// Binds each of the statement's parameters, `$1`, `$2`, … by its name, to that argument. A
/// parameter with no argument (or one not named `$n`) is an error, never a NULL (sqlx would
/// leave it NULL); an argument no parameter names is left out (one list of arguments serves
/// several statements).
pub(crate) fn bind(statement: &mut Statement<'_>, args: &[Arg]) -> rusqlite::Result<()> {
    for index in 1..=statement.parameter_count() {
        let named = statement.parameter_name(index);
        let number = named.and_then(|name| name.strip_prefix('$')?.parse::<usize>().ok());
        let Some(arg) = number.and_then(|n| n.checked_sub(1)).and_then(|n| args.get(n)) else {
            return Err(rusqlite::Error::InvalidParameterName(named.unwrap_or("?").to_string()));
        };
        match arg {
            Arg::Text(v) => statement.raw_bind_parameter(index, v.as_deref())?,
            Arg::Int(v) => statement.raw_bind_parameter(index, v)?,
            Arg::Small(v) => statement.raw_bind_parameter(index, v)?,
            Arg::Flag(v) => statement.raw_bind_parameter(index, v)?,
        }
    }
    Ok(())
}

/// A `saved_cards` row (every column, by name, as `SavedCard`'s `FromRow` reads it).
pub(crate) fn saved_card(r: &Row<'_>) -> rusqlite::Result<SavedCard> {
    let c = ByName::of(r);
    Ok(SavedCard {
        id: c.get("id")?,
        merchant_id: c.get("merchant_id")?,
        account_id: c.get("account_id")?,
        pan_fingerprint: c.get("pan_fingerprint")?,
        pan_ciphertext: c.get("pan_ciphertext")?,
        card_mask: c.get("card_mask")?,
        card_brand: c.get("card_brand")?,
        expiry_mmyy: c.get("expiry_mmyy")?,
        payer_name: c.get("payer_name")?,
        transaction_id: c.get("transaction_id")?,
        terminal_pos_id: c.get("terminal_pos_id")?,
        reference: c.get("reference")?,
        int_reference: c.get("int_reference")?,
        card_token: c.get("card_token")?,
        active: c.get("active")?,
        payable: c.get("payable")?,
        created_at: c.get("created_at")?,
    })
}

/// A `payments` row (every column, by name, as `Payment`'s `FromRow` reads it; a status or kind
/// that is not one of its enum's words is an error, never a guess, as there).
pub(crate) fn payment(r: &Row<'_>) -> rusqlite::Result<Payment> {
    let c = ByName::of(r);
    Ok(Payment {
        id: c.get("id")?,
        merchant_id: c.get("merchant_id")?,
        terminal_id: c.get("terminal_id")?,
        invoice_id: c.get("invoice_id")?,
        invoice_id_alt: c.get("invoice_id_alt")?,
        kind: c.word("kind")?,
        status: c.word("status")?,
        amount_minor: c.get("amount_minor")?,
        charged_minor: c.get("charged_minor")?,
        refunded_minor: c.get("refunded_minor")?,
        fee_minor: c.get("fee_minor")?,
        currency: c.get("currency")?,
        description: c.get("description")?,
        account_id: c.get("account_id")?,
        email: c.get("email")?,
        phone: c.get("phone")?,
        payer_name: c.get("payer_name")?,
        language: c.get("language")?,
        post_link: c.get("post_link")?,
        failure_post_link: c.get("failure_post_link")?,
        back_link: c.get("back_link")?,
        failure_back_link: c.get("failure_back_link")?,
        secret_hash: c.get::<Option<String>>("secret_hash")?.map(Secret::from),
        data: c.get("data")?,
        card_id: c.get("card_id")?,
        card_mask: c.get("card_mask")?,
        card_brand: c.get("card_brand")?,
        card_account: c.get("card_account")?,
        issuer: c.get("issuer")?,
        reference: c.get("reference")?,
        int_reference: c.get("int_reference")?,
        approval_code: c.get("approval_code")?,
        reason_code: c.get("reason_code")?,
        reason: c.get("reason")?,
        secure: c.get("secure")?,
        created_at: c.get("created_at")?,
        updated_at: c.get("updated_at")?,
        sender_transfer_type: c.get("sender_transfer_type")?,
        receiver_transfer_type: c.get("receiver_transfer_type")?,
        receiver_card_id: c.get("receiver_card_id")?,
        receiver_card_mask: c.get("receiver_card_mask")?,
        receiver_card_brand: c.get("receiver_card_brand")?,
        receiver_account: c.get("receiver_account")?,
        card_currency: c.get("card_currency")?,
        fx_rate_micros: c.get("fx_rate_micros")?,
        card_amount_minor: c.get("card_amount_minor")?,
        attempt: c.get("attempt")?,
    })
}

/// A row's columns read by name, each name asked of SQLite once. rusqlite's `Row::get("name")`
/// finds a column by asking SQLite for each column's name in turn until one matches, so a
/// `payments` row of 47 columns read by name asked about a thousand times, and
/// `sqlite3_column_name` was the top symbol of the status flow's profile (docs/performance.md).
/// Here the names are read once, and each lookup starts after the column found last: the fields
/// are read in about the table's order, so most lookups match at once.
struct ByName<'r> {
    row: &'r Row<'r>,
    names: Vec<&'r str>,
    next: Cell<usize>,
}

impl<'r> ByName<'r> {
    fn of(row: &'r Row<'r>) -> Self {
        ByName { row, names: row.as_ref().column_names(), next: Cell::new(0) }
    }

    /// The index of the column named exactly `name`.
    fn index(&self, name: &str) -> rusqlite::Result<usize> {
        let count = self.names.len();
        let start = self.next.get();
        let found = (0..count).map(|k| (start + k) % count).find(|&i| self.names[i] == name);
        match found {
            Some(i) => {
                self.next.set(i + 1);
                Ok(i)
            }
            None => Err(rusqlite::Error::InvalidColumnName(name.to_string())),
        }
    }

    fn get<T: FromSql>(&self, name: &str) -> rusqlite::Result<T> {
        self.row.get(self.index(name)?)
    }

    /// A text column holding one of a domain enum's words (`rows.rs`'s `Word`): a word that is
    /// not one of them is an error, never a guess.
    fn word<T>(&self, column: &str) -> rusqlite::Result<T>
    where
        T: FromStr<Err = epay_domain::Unknown>,
    {
        let index = self.index(column)?;
        let text: String = self.row.get(index)?;
        text.parse().map_err(|unknown| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(unknown)))
    }
}

#[cfg(test)]
mod tests;
