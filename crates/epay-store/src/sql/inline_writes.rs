//! SQLite: the committer's detached units run on the write connection's own handle, on the
//! committer's thread.
//!
//! sqlx gives the write connection a worker thread of its own, and every query is a message to
//! that thread with each statement's result streamed back: the committer's task is woken for
//! each result, and on a busy machine each wake-up waits for a runtime thread. Measured inside
//! the committer (docs/performance.md, session 15), a payment's unit held the write connection
//! about 330 µs of wall-clock time that way, most of it hand-offs, where SQLite's own work is a
//! fraction of that; the units of a batch run one after another, so that time bounds the
//! batches a second.
//!
//! Here the committer borrows the connection's handle once for all the detached units waiting
//! (`lock_handle`: sqlx's worker waits on the connection's lock meanwhile) and runs them itself,
//! statement after statement, with no thread in between: `SAVEPOINT u`, the unit's writes, each
//! row count checked here, `RELEASE u`. A unit whose write fails is rolled back to its savepoint
//! at once, and the next one runs. The batch's COMMIT still goes through sqlx. The statements
//! are those sqlx would have run, bound the same way (`inline_reads::bind`), on the same
//! connection and in the same transaction; only the thread differs.

use rusqlite::ffi;

use super::db_error::StoreDbError;
use super::inline_reads::bind;
use super::pipeline::{Pipeline, Step};
use super::sqlite::BUSY_TIMEOUT;
use crate::{StoreError, StoreResult};

/// The outcome of one unit run on the handle.
pub(crate) enum Ran {
    /// Released into the batch.
    Released,
    /// Its writes failed, and rolling back to its savepoint undid them: the unit's error.
    Failed(StoreError),
}

/// What [`run_units`] did: each unit's outcome, in order, for as many as ran; and whether the
/// connection is in a known state after them (`false`: the batch could not be opened, or a
/// failed unit could not be rolled back to its savepoint; the units after it did not run).
pub(crate) struct RunOnHandle {
    pub ran: Vec<Ran>,
    pub settled: bool,
    /// The batch was not opened because another process holds the file's write lock: nothing
    /// ran, and the caller opens it through sqlx, whose thread may wait for the lock.
    pub busy: bool,
}

/// Statements the borrowed connection keeps prepared for the length of one borrow (rusqlite's
/// default is 16): a batch's units of several kinds, each of about ten statements, prepare each
/// statement once.
const PREPARED_PER_BORROW: usize = 64;

/// Runs `units` in turn on `conn` (the write connection's handle, borrowed by the committer),
/// opening the batch with `begin` first when given. A unit whose writes fail is rolled back to
/// its savepoint at once; if that fails too (an error that ended the whole transaction), it
/// stops there, unsettled, for the caller's `settle` to resolve.
pub(crate) fn run_units<'p>(
    conn: &rusqlite::Connection,
    begin: Option<&str>,
    units: impl IntoIterator<Item = &'p mut Pipeline>,
) -> RunOnHandle {
    conn.set_prepared_statement_cache_capacity(PREPARED_PER_BORROW);
    let mut ran = Vec::new();
    if let Some(begin) = begin {
        match open_without_waiting(conn, begin) {
            Ok(()) => {}
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                return RunOnHandle { ran, settled: true, busy: true };
            }
            Err(e) => {
                ran.push(Ran::Failed(database_error(e).into()));
                return RunOnHandle { ran, settled: false, busy: false };
            }
        }
    }
    for writes in units {
        match run_unit(conn, writes) {
            Ok(()) => ran.push(Ran::Released),
            Err(error) => {
                let undone = conn.execute_batch("ROLLBACK TO u; RELEASE u").is_ok();
                ran.push(Ran::Failed(error));
                if !undone {
                    return RunOnHandle { ran, settled: false, busy: false };
                }
            }
        }
    }
    RunOnHandle { ran, settled: true, busy: false }
}

/// Opens the batch without waiting for another process's write lock: this runs on a thread of
/// the async runtime, which must not sleep for the connection's busy timeout (sqlx's own thread
/// may). The handle's busy timeout is set back to the store's, whatever the outcome. Inside the
/// batch's transaction (`BEGIN IMMEDIATE`: the write lock held) nothing else waits for a lock.
fn open_without_waiting(conn: &rusqlite::Connection, begin: &str) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let opened = conn.execute_batch(begin);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    opened
}

/// One unit: its savepoint, its writes in order, each step's row count checked when it must be
/// one, and its RELEASE.
fn run_unit(conn: &rusqlite::Connection, writes: &mut Pipeline) -> StoreResult<()> {
    conn.execute_batch("SAVEPOINT u").map_err(|e| StoreError::from(database_error(e)))?;
    for step in writes.steps_mut() {
        run_step(conn, step)?;
    }
    conn.execute_batch("RELEASE u").map_err(|e| StoreError::from(database_error(e)))
}

/// One write, with the meaning its step gives a failure ([`Step::failed`]) and its row count
/// checked when it must change exactly one row.
fn run_step(conn: &rusqlite::Connection, step: &mut Step) -> StoreResult<()> {
    let run = || -> rusqlite::Result<()> {
        let mut statement = conn.prepare_cached(step.sql())?;
        bind(&mut statement, step.args())?;
        // A step may return rows (RETURNING): stepped through, not read.
        let mut rows = statement.raw_query();
        while rows.next()?.is_some() {}
        Ok(())
    };
    if let Err(e) = run() {
        return Err(step.failed(database_error(e)));
    }
    step.check_changed(conn.changes())
}

/// A rusqlite error as the sqlx error the same statement would have failed with through sqlx:
/// its message and extended code, and so its kind (a unique violation is told apart by it), so
/// every caller's reading of the error (`pipeline::unique_violation_on`, `read_ahead`'s funds
/// rule) is the same on both paths.
fn database_error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let message = message.unwrap_or_else(|| failure.to_string());
            StoreDbError::sqlite(failure.extended_code, message)
        }
        // A binding that does not fit its statement, a value out of range: SQLite's generic error,
        // never one that reads as a lost connection (`lost.rs`).
        other => StoreDbError::sqlite(ffi::SQLITE_ERROR, other.to_string()),
    }
}
