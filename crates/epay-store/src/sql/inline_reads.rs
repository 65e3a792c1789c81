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

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use epay_domain::Secret;
use rusqlite::types::Type;
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
fn bind(statement: &mut Statement<'_>, args: &[Arg]) -> rusqlite::Result<()> {
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
    Ok(SavedCard {
        id: r.get("id")?,
        merchant_id: r.get("merchant_id")?,
        account_id: r.get("account_id")?,
        pan_fingerprint: r.get("pan_fingerprint")?,
        pan_ciphertext: r.get("pan_ciphertext")?,
        card_mask: r.get("card_mask")?,
        card_brand: r.get("card_brand")?,
        expiry_mmyy: r.get("expiry_mmyy")?,
        payer_name: r.get("payer_name")?,
        transaction_id: r.get("transaction_id")?,
        terminal_pos_id: r.get("terminal_pos_id")?,
        reference: r.get("reference")?,
        int_reference: r.get("int_reference")?,
        card_token: r.get("card_token")?,
        active: r.get("active")?,
        payable: r.get("payable")?,
        created_at: r.get("created_at")?,
    })
}

/// A `payments` row (every column, by name, as `Payment`'s `FromRow` reads it; a status or kind
/// that is not one of its enum's words is an error, never a guess, as there).
pub(crate) fn payment(r: &Row<'_>) -> rusqlite::Result<Payment> {
    Ok(Payment {
        id: r.get("id")?,
        merchant_id: r.get("merchant_id")?,
        terminal_id: r.get("terminal_id")?,
        invoice_id: r.get("invoice_id")?,
        invoice_id_alt: r.get("invoice_id_alt")?,
        kind: word(r, "kind")?,
        status: word(r, "status")?,
        amount_minor: r.get("amount_minor")?,
        charged_minor: r.get("charged_minor")?,
        refunded_minor: r.get("refunded_minor")?,
        fee_minor: r.get("fee_minor")?,
        currency: r.get("currency")?,
        description: r.get("description")?,
        account_id: r.get("account_id")?,
        email: r.get("email")?,
        phone: r.get("phone")?,
        payer_name: r.get("payer_name")?,
        language: r.get("language")?,
        post_link: r.get("post_link")?,
        failure_post_link: r.get("failure_post_link")?,
        back_link: r.get("back_link")?,
        failure_back_link: r.get("failure_back_link")?,
        secret_hash: r.get::<_, Option<String>>("secret_hash")?.map(Secret::from),
        data: r.get("data")?,
        card_id: r.get("card_id")?,
        card_mask: r.get("card_mask")?,
        card_brand: r.get("card_brand")?,
        card_account: r.get("card_account")?,
        issuer: r.get("issuer")?,
        reference: r.get("reference")?,
        int_reference: r.get("int_reference")?,
        approval_code: r.get("approval_code")?,
        reason_code: r.get("reason_code")?,
        reason: r.get("reason")?,
        secure: r.get("secure")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        sender_transfer_type: r.get("sender_transfer_type")?,
        receiver_transfer_type: r.get("receiver_transfer_type")?,
        receiver_card_id: r.get("receiver_card_id")?,
        receiver_card_mask: r.get("receiver_card_mask")?,
        receiver_card_brand: r.get("receiver_card_brand")?,
        receiver_account: r.get("receiver_account")?,
        card_currency: r.get("card_currency")?,
        fx_rate_micros: r.get("fx_rate_micros")?,
        card_amount_minor: r.get("card_amount_minor")?,
        attempt: r.get("attempt")?,
    })
}

/// A text column holding one of a domain enum's words (`rows.rs`'s `Word`).
fn word<T>(r: &Row<'_>, column: &str) -> rusqlite::Result<T>
where
    T: FromStr<Err = epay_domain::Unknown>,
{
    let text: String = r.get(column)?;
    text.parse().map_err(|unknown| {
        let index = r.as_ref().column_index(column).unwrap_or_default();
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(unknown))
    })
}

#[cfg(test)]
mod tests;
