//! Recovery from connections the database closed: a restart, a failover, or an administrator's
//! `pg_terminate_backend`. Idle pooled connections are not pinged before every use (one more
//! round trip per statement), so a connection the server closed is only found out when a
//! statement fails on it. Three things keep that to at most one failed request per outage:
//!
//! - every such failure is noted (`note`), and an idle connection lent before the last noted
//!   failure is pinged before it is lent again (`worth_a_ping`), so the rest of the stale
//!   connections are thrown away instead of failing one request each (and the one that failed
//!   is closed: `sql/conns.rs`);
//! - a connection idle for longer than `PING_AFTER_IDLE` is pinged too, so a restart during a
//!   quiet period fails no request at all;
//! - the request that met the closed connection learns it (`watch`), so the HTTP layer answers
//!   it with a retryable 503 instead of a 500.
//!
//! A write refused because the session is read-only (after a switchover, a session left on the
//! old primary) counts as lost too: that connection is closed, and the idle ones are checked
//! before they are lent again. On PostgreSQL that check asks whether the session can write
//! (`Backend::WRITABLE`), so the sessions the switchover left behind are closed as well.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A connection idle longer than this is pinged before reuse. Busy connections (the hot path)
/// are idle for microseconds and are never pinged.
pub(crate) const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// When the last lost connection was seen, in milliseconds after `epoch()` (0: never).
static LAST_LOSS_MS: AtomicU64 = AtomicU64::new(0);

tokio::task_local! {
    /// Set when a store call of the current request met a lost connection.
    static LOST_IN_TASK: Cell<bool>;
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// True when `error` says the connection to the database is gone or of no use for writing (as
/// opposed to a refused statement): I/O errors, the server's "admin shutdown", "crash
/// shutdown", "cannot connect now" and connection-exception (class 08) codes, and a write
/// refused because the session is read-only ([`READ_ONLY`]).
pub fn is_connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03"))
                || is_read_only(error)
        }
        _ => false,
    }
}

/// True when `error` is a write refused because the session is read-only ([`READ_ONLY`]).
fn is_read_only(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some(READ_ONLY))
}

/// PostgreSQL's `read_only_sql_transaction`: a write sent to a session that cannot write, after
/// a switchover a session still on the server that was the primary (now a standby), or on a
/// server put into read-only mode. Only a new connection (which the database's URL routes to
/// the primary) can write.
const READ_ONLY: &str = "25006";

/// When a write was last refused as read-only, in milliseconds after `epoch()` (0: never).
static LAST_READ_ONLY_MS: AtomicU64 = AtomicU64::new(0);

/// Whether a write was refused as read-only after a connection opened at `opened_at` was: a
/// read-only session that old may be one a switchover left behind, and is replaced
/// (`sql/conns.rs`); a younger one shows the database itself is read-only now.
pub(crate) fn refused_read_only_since(opened_at: Instant) -> bool {
    let last = LAST_READ_ONLY_MS.load(Ordering::Relaxed);
    last != 0 && opened_at.saturating_duration_since(epoch()).as_millis() as u64 <= last
}

/// Records a lost connection, for the pool's next acquisitions and for the current request.
pub(crate) fn note(error: &sqlx::Error) {
    if !is_connection_lost(error) {
        return;
    }
    tracing::debug!(target: "epay_store::lost", error = %error, "lost database connection noted");
    let now_ms = epoch().elapsed().as_millis() as u64 + 1;
    LAST_LOSS_MS.fetch_max(now_ms, Ordering::Relaxed);
    if is_read_only(error) {
        LAST_READ_ONLY_MS.fetch_max(now_ms, Ordering::Relaxed);
    }
    let _ = LOST_IN_TASK.try_with(|lost| lost.set(true));
}

/// Whether an idle connection must be pinged before it is lent (`sql/conns.rs`): it has sat
/// idle a while, or a lost connection was seen since it was last lent (while it was in use or
/// idle, it may be just as dead, or the loss may have been its own).
pub(crate) fn worth_a_ping(idle_for: Duration, lent_at: Instant) -> bool {
    if idle_for > PING_AFTER_IDLE {
        return true;
    }
    let last_loss = LAST_LOSS_MS.load(Ordering::Relaxed);
    let lent_at_ms = lent_at.saturating_duration_since(epoch()).as_millis() as u64;
    last_loss != 0 && last_loss >= lent_at_ms
}

/// Runs `work` and says whether any store call in it met a lost connection.
pub async fn watch<F: Future>(work: F) -> (F::Output, bool) {
    LOST_IN_TASK
        .scope(Cell::new(false), async move {
            let output = work.await;
            (output, LOST_IN_TASK.with(Cell::get))
        })
        .await
}
