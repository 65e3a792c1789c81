//! The store's connections to its database: at most a fixed number, opened when first needed,
//! lent to one user at a time and taken back without a round trip.
//!
//! Why not `sqlx::Pool`: sqlx 0.8 pings every connection it takes back (`return_to_pool`), and
//! that cannot be turned off. On PostgreSQL a ping is a round trip to the server; on SQLite a
//! message to the connection's worker thread and one back. A saved-card payment took back a
//! connection five to seven times, so it paid as many pings for nothing on the hot path.
//!
//! What the ping gave, kept here another way:
//! - **A connection the database closed** (a restart, `pg_terminate_backend`) is not lent again:
//!   a statement run through [`Conns`] that fails with a lost connection
//!   ([`lost::is_connection_lost`]) marks it broken, and a broken one is closed when given
//!   back. A connection whose user met an error we did not see (a unit's own statements run on
//!   the connection directly) is pinged before it is lent again whenever a lost connection was
//!   noted since it was lent (`lost::worth_a_ping`), as is one idle longer than
//!   `lost::PING_AFTER_IDLE`. That ping happens only on PostgreSQL: an SQLite file cannot hang up.
//! - **A user dropped mid-way** (hyper drops a handler when its client hangs up): a statement
//!   already sent still ends on its own (PostgreSQL: sqlx reads its pending answers before the
//!   connection's next statement; SQLite: the worker thread finishes it). A connection given
//!   back inside a transaction (a unit dropped or failed before COMMIT) is *dirty*: a task rolls
//!   it back at once, so its row locks do not wait for the connection's next user, and only
//!   then makes it idle; it stays lent (its permit held) meanwhile, so nobody can use it dirty.
//!   sqlx's transaction depth says whether a transaction is open, except in one case: a
//!   PostgreSQL BEGIN sent whose answer was not read yet (sqlx counts the transaction only once
//!   the answer came), so a connection given back during `begin_with` counts as dirty too.
//!   Committed units, and statements outside a transaction, are never dirty: the hot path gives
//!   connections back with no work at all.
//!
//! Users wait for a connection first come, first served (tokio's semaphore is fair), at most
//! the acquire timeout, then get `sqlx::Error::PoolTimedOut`, as from the pool. A new connection
//! the database refuses for now (starting up, no slot free) is tried again within that time, as
//! the pool did. Idle connections are lent most recently used first: under light load the same
//! few stay busy and warm, and only the rest sit idle long enough to be pinged. Unlike the pool,
//! idle connections are not closed after a while (at most `max` stay open); as with the pool, a
//! connection older than `max_lifetime` is closed rather than lent again. On PostgreSQL the
//! check before lending also asks whether the session can still write (`Backend::WRITABLE`): a
//! switchover can leave sessions connected to a server that is no longer the primary, which a
//! plain ping would not tell.
//!
//! `sqlx::Pool` is still used where sqlx needs one, off the hot path: the PostgreSQL
//! configuration listener (`config_watch.rs`, `PgListener` takes a pool).

use std::borrow::Cow;
use std::fmt;
use std::future::poll_fn;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_core::Stream;
use sqlx::{ConnectOptions, Connection, Database, Describe, Either, Execute, Executor, Row, TransactionManager};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Backend;
use crate::lost;

/// How a store's connections to one database are held.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// The most connections open at once.
    pub max: u32,
    /// How long a user waits for a connection before `PoolTimedOut`.
    pub acquire_timeout: Duration,
    /// Ping a connection before lending it when it may have been closed (`lost::worth_a_ping`).
    pub ping_when_worth: bool,
    /// A connection open longer than this is closed when next given back or found idle, so a
    /// long-lived gateway follows the database's changes (a switchover that left sessions on a
    /// server that is no longer the primary, a pooler or load balancer that moved, a backend
    /// that grew). `None`: kept for as long as it works (SQLite's file connections).
    pub max_lifetime: Option<Duration>,
}

impl Settings {
    pub(crate) const fn with_max(self, max: u32) -> Self {
        Settings { max, ..self }
    }
}

/// The connections of one database. Cheap to clone: clones share the connections.
pub struct Conns<DB: Database> {
    shared: Arc<Shared<DB>>,
}

impl<DB: Database> Clone for Conns<DB> {
    fn clone(&self) -> Self {
        Conns { shared: self.shared.clone() }
    }
}

impl<DB: Database> fmt::Debug for Conns<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conns")
            .field("settings", &self.shared.settings)
            .field("open", &self.size())
            .field("idle", &self.num_idle())
            .finish()
    }
}

struct Shared<DB: Database> {
    options: <DB::Connection as Connection>::Options,
    /// Rolls back a dirty connection (`Conn::roll_back`), given as a function because `Drop`
    /// cannot ask `DB: Backend` of the connection it drops.
    tidy: fn(Conn<DB>) -> BoxFuture<'static, ()>,
    settings: Settings,
    /// One permit per connection that may be lent; fair, so waiters are served in order.
    permits: Arc<Semaphore>,
    /// Connections nobody holds, the most recently given back last.
    idle: Mutex<Vec<Idle<DB>>>,
    /// Connections open (idle or lent).
    open: AtomicU32,
    /// Times a connection was lent, and times one was pinged first (tests, round-trip counts).
    lent: AtomicU64,
    pinged: AtomicU64,
}

struct Idle<DB: Database> {
    raw: DB::Connection,
    age: Age,
    /// When it was last lent: a lost connection noted since then may have been this one.
    lent_at: Instant,
    given_back_at: Instant,
}

impl<DB: Backend> Conns<DB> {
    /// Opens the first connection at once, so a database that cannot be reached (or an SQLite
    /// file that cannot be created) fails here rather than on the first request.
    pub(crate) async fn open(
        options: <DB::Connection as Connection>::Options,
        settings: Settings,
    ) -> Result<Self, sqlx::Error> {
        let conns = Conns {
            shared: Arc::new(Shared {
                options,
                tidy: tidy_task::<DB>,
                settings,
                permits: Arc::new(Semaphore::new(settings.max as usize)),
                idle: Mutex::new(Vec::new()),
                open: AtomicU32::new(0),
                lent: AtomicU64::new(0),
                pinged: AtomicU64::new(0),
            }),
        };
        drop(conns.acquire().await?);
        Ok(conns)
    }

    /// Lends a connection: an idle one (checked first when it may be dead or dirty), or a new
    /// one while fewer than `max` are open. Waits at most the acquire timeout in all.
    pub(crate) async fn acquire(&self) -> Result<Conn<DB>, sqlx::Error> {
        let shared = &self.shared;
        let deadline = tokio::time::Instant::now() + shared.settings.acquire_timeout;
        let mut permit = tokio::time::timeout_at(deadline, shared.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        shared.lent.fetch_add(1, Ordering::Relaxed);
        loop {
            let idle = shared.idle.lock().expect("idle list").pop();
            let Some(idle) = idle else { break };
            if idle.age.is_over() {
                // Older than its lifetime: closed unused; its permit serves the next try.
                shared.retire(idle.raw);
                continue;
            }
            let idle_for = idle.given_back_at.elapsed();
            let ping = shared.settings.ping_when_worth && lost::worth_a_ping(idle_for, idle.lent_at);
            let mut conn = Conn::lend(idle.raw, idle.age, shared.clone(), permit);
            // A ping over a connection whose peer vanished without a word could wait for TCP
            // to give up (minutes): it gets what is left of the acquire timeout, as sqlx's
            // `before_acquire` did.
            let ready = tokio::time::timeout_at(deadline, conn.make_ready(ping))
                .await
                .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut));
            match ready {
                Ok(()) => {
                    // One event per loan (`EPAY_LOG=epay_store::conns=trace`): how the round
                    // trips saved per flow were counted (docs/performance.md).
                    tracing::trace!(target: "epay_store::conns", ping, idle_ms = idle_for.as_millis() as u64, "connection lent");
                    return Ok(conn);
                }
                Err(e) => {
                    // Closed by the database: close it and try the next idle one, or open a new
                    // one.
                    lost::note(&e);
                    permit = conn.close();
                }
            }
        }
        let raw = connect(&shared.options, deadline).await?;
        shared.open.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(target: "epay_store::conns", opened = true, "connection lent");
        Ok(Conn::lend(raw, Age::new(shared.settings.max_lifetime), shared.clone(), permit))
    }

    /// Lends a connection for one statement, in doubt until [`Conn::answered`]: given back
    /// before that (its user dropped mid-statement), it is tidied before anyone reuses it.
    async fn lend_for_statement(&self) -> Result<Conn<DB>, sqlx::Error> {
        let mut conn = self.acquire().await?;
        conn.in_doubt = true;
        Ok(conn)
    }

    /// Opens a transaction with `statement` (e.g. `BEGIN IMMEDIATE`) on a lent connection.
    pub(crate) async fn begin_with(&self, statement: &'static str) -> Result<Tx<DB>, sqlx::Error> {
        // In doubt until BEGIN's answer is read: see the module doc.
        let mut conn = self.lend_for_statement().await?;
        let begun = DB::TransactionManager::begin(&mut *conn, Some(Cow::Borrowed(statement))).await;
        // Only a BEGIN that answered is known: after an error (which may be a reply a dropped
        // user left owed on the connection, read here first) the connection stays in doubt and
        // is tidied (read out and rolled back) or closed when it is given back.
        conn.in_doubt = begun.is_err();
        conn.observe(&begun);
        begun.map(|()| Tx { conn })
    }
}

impl<DB: Database> Conns<DB> {
    /// What every new connection is opened with (the PostgreSQL listener opens its own).
    pub(crate) fn connect_options(&self) -> &<DB::Connection as Connection>::Options {
        &self.shared.options
    }

    /// Connections open, idle or lent.
    pub(crate) fn size(&self) -> u32 {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// Connections open and not lent.
    pub(crate) fn num_idle(&self) -> usize {
        self.shared.idle.lock().expect("idle list").len()
    }

    /// The most connections open at once.
    pub(crate) fn max(&self) -> u32 {
        self.shared.settings.max
    }

    /// Times a connection was lent so far.
    #[cfg(test)]
    pub(crate) fn lent(&self) -> u64 {
        self.shared.lent.load(Ordering::Relaxed)
    }

    /// Times a connection was pinged before it was lent.
    #[cfg(test)]
    pub(crate) fn pinged(&self) -> u64 {
        self.shared.pinged.load(Ordering::Relaxed)
    }
}

/// When a connection was opened, and when it is to be retired (`Settings::max_lifetime`).
#[derive(Clone, Copy, Debug)]
struct Age {
    opened_at: Instant,
    retire_at: Option<Instant>,
}

impl Age {
    /// A connection opened now. Its lifetime is 90–100% of `max`, spread by the clock's
    /// nanoseconds, so connections opened together (at start) are not all replaced at once.
    fn new(max: Option<Duration>) -> Self {
        let opened_at = Instant::now();
        let spread = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos() % 1000);
        let retire_at = max.map(|max| opened_at + max - max / 10_000 * spread);
        Age { opened_at, retire_at }
    }

    fn is_over(&self) -> bool {
        self.retire_at.is_some_and(|at| Instant::now() >= at)
    }
}

impl<DB: Database> Shared<DB> {
    /// Closes a connection retired for its age: politely (PostgreSQL's Terminate) on a task, as
    /// the pool did, or by dropping it when there is no runtime.
    fn retire(&self, raw: DB::Connection) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = raw.close().await;
                });
            }
            Err(_) => drop(raw),
        }
    }
}

/// Opens a connection, trying again until `deadline` while the database is starting up or has
/// no connection slot free, as sqlx's pool did (`PoolTimedOut` at the deadline).
async fn connect<O: ConnectOptions<Connection: Sized>>(
    options: &O,
    deadline: tokio::time::Instant,
) -> Result<O::Connection, sqlx::Error> {
    let mut pause = Duration::from_millis(10);
    loop {
        match tokio::time::timeout_at(deadline, options.connect()).await {
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
            Ok(Ok(raw)) => return Ok(raw),
            Ok(Err(sqlx::Error::Io(e))) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Ok(Err(sqlx::Error::Database(e))) if e.is_transient_in_connect_phase() => {}
            Ok(Err(e)) => return Err(e),
        }
        if tokio::time::Instant::now() + pause >= deadline {
            return Err(sqlx::Error::PoolTimedOut);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// A lent connection; dropping it gives it back (or closes it, if broken). Derefs to the
/// driver's connection.
pub struct Conn<DB: Database> {
    /// `None` only once closed or given back.
    raw: Option<DB::Connection>,
    age: Age,
    lent_at: Instant,
    /// The database closed it: close it rather than give it back.
    broken: bool,
    /// A statement or a BEGIN was sent and its answer not read yet: if the user is dropped now
    /// (hyper drops a handler when the client hangs up), the driver may still owe replies, an
    /// error among them, or a transaction may be open. Such a connection is tidied (its
    /// replies read out, any transaction rolled back) before it is idle again, or closed, so
    /// no later user gets a stranger's error or an open transaction. What sqlx's pool did with
    /// a ping on every give-back, paid here only by the rare connection given up mid-way.
    in_doubt: bool,
    /// Lent to the task that rolls it back: if that fails or is dropped, close it.
    tidying: bool,
    shared: Arc<Shared<DB>>,
    /// Released after `drop` put the connection back, so the next waiter finds it idle.
    permit: Option<OwnedSemaphorePermit>,
}

impl<DB: Database> Conn<DB> {
    fn lend(raw: DB::Connection, age: Age, shared: Arc<Shared<DB>>, permit: OwnedSemaphorePermit) -> Self {
        Conn {
            raw: Some(raw),
            age,
            lent_at: Instant::now(),
            broken: false,
            in_doubt: false,
            tidying: false,
            shared,
            permit: Some(permit),
        }
    }

    /// Marks the connection broken when `result` says the database closed it.
    pub(crate) fn observe<T>(&mut self, result: &Result<T, sqlx::Error>) {
        if let Err(e) = result {
            if lost::is_connection_lost(e) {
                self.broken = true;
            }
        }
    }

    /// The statement lent for ([`Conns::lend_for_statement`]) answered with `result`.
    pub(crate) fn answered<T>(&mut self, result: &Result<T, sqlx::Error>) {
        self.in_doubt = false;
        self.observe(result);
    }

    /// Closes the connection when it is given back: its state is unknown.
    pub(crate) fn close_on_drop(&mut self) {
        self.broken = true;
    }

    /// Closes the connection now and hands back its permit, for another connection.
    fn close(mut self) -> OwnedSemaphorePermit {
        if self.raw.take().is_some() {
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
        }
        self.permit.take().expect("a lent connection holds its permit")
    }
}

impl<DB: Backend> Conn<DB> {
    /// Checks an idle connection before lending it: pinged if `ping` (see `lost`).
    async fn make_ready(&mut self, ping: bool) -> Result<(), sqlx::Error> {
        if !ping {
            return Ok(());
        }
        self.shared.pinged.fetch_add(1, Ordering::Relaxed);
        let Some(writable) = DB::WRITABLE else { return self.ping().await };
        let row = sqlx::query(writable).fetch_one(&mut **self).await?;
        if row.try_get::<bool, _>("writable")? || !lost::refused_read_only_since(self.age.opened_at) {
            // Writable; or read-only but opened after the last write refused as read-only: then
            // new connections are read-only too (the database itself is), and replacing this
            // one would only churn. Writes fail (503) until the database can write.
            Ok(())
        } else {
            // A session from before the refusal, perhaps left on the old primary: counted as
            // lost, closed, and the other idle connections checked in turn.
            Err(sqlx::Error::Protocol("the session is read-only: it cannot write".into()))
        }
    }

    /// The task a dirty connection goes to (see the module doc): rolled back, then idle; closed
    /// if that fails.
    async fn tidy(mut self) {
        if self.roll_back().await.is_err() {
            self.close_on_drop();
        }
    }

    /// Ends whatever transaction a dropped user left open.
    async fn roll_back(&mut self) -> Result<(), sqlx::Error> {
        if DB::TransactionManager::get_transaction_depth(&**self) == 0 {
            // A BEGIN given up before its answer: wait out what is pending, after which sqlx
            // counts the transaction if it opened (SQLite's thread rolls back by itself a BEGIN
            // nobody waited for).
            self.ping().await?;
        }
        if DB::TransactionManager::get_transaction_depth(&**self) > 0 {
            DB::TransactionManager::rollback(&mut **self).await?;
        } else if self.in_doubt {
            // PostgreSQL's BEGIN opened a transaction sqlx never counted. Refused (SQLite) or
            // only warned about (PostgreSQL) when there is none: either is fine.
            if let Err(e) = Executor::execute(&mut **self, "ROLLBACK").await {
                if lost::is_connection_lost(&e) {
                    return Err(e);
                }
            }
        }
        self.in_doubt = false;
        Ok(())
    }
}

/// `Conn::tidy` as a task (`Shared::tidy`).
fn tidy_task<DB: Backend>(conn: Conn<DB>) -> BoxFuture<'static, ()> {
    Box::pin(conn.tidy())
}

impl<DB: Database> Drop for Conn<DB> {
    fn drop(&mut self) {
        let Some(raw) = self.raw.take() else { return };
        let dirty = self.in_doubt || DB::TransactionManager::get_transaction_depth(&raw) > 0;
        if !dirty && self.age.is_over() {
            self.shared.retire(raw);
            return;
        }
        if self.broken || (dirty && self.tidying) {
            // Dropping the driver's connection closes it (the server rolls back what was open).
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        if dirty {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                // No runtime to roll it back on: close it instead.
                self.shared.open.fetch_sub(1, Ordering::Relaxed);
                return;
            };
            let tidy = Conn {
                raw: Some(raw),
                age: self.age,
                lent_at: self.lent_at,
                broken: false,
                in_doubt: self.in_doubt,
                tidying: true,
                shared: self.shared.clone(),
                permit: self.permit.take(),
            };
            runtime.spawn((self.shared.tidy)(tidy));
            return;
        }
        let idle = Idle { raw, age: self.age, lent_at: self.lent_at, given_back_at: Instant::now() };
        self.shared.idle.lock().expect("idle list").push(idle);
        // `permit` is released after this, with the other fields.
    }
}

impl<DB: Database> Deref for Conn<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        self.raw.as_ref().expect("a lent connection is open")
    }
}

impl<DB: Database> DerefMut for Conn<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.raw.as_mut().expect("a lent connection is open")
    }
}

/// A transaction on a lent connection, ended by `commit` or `rollback`; dropped without either,
/// it is rolled back before the connection's next statement. Derefs to the connection.
pub struct Tx<DB: Database> {
    conn: Conn<DB>,
}

impl<DB: Database> Tx<DB> {
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let committed = DB::TransactionManager::commit(&mut *self.conn).await;
        self.conn.observe(&committed);
        committed
    }

    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let rolled_back = DB::TransactionManager::rollback(&mut *self.conn).await;
        self.conn.observe(&rolled_back);
        rolled_back
    }
}

impl<DB: Database> Deref for Tx<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        &self.conn
    }
}

impl<DB: Database> DerefMut for Tx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }
}

/// `sqlx::query(…).fetch_one(&self.reads)`: each statement borrows a connection, runs, and gives
/// it back, as on `&Pool`.
impl<'c, DB: Backend> Executor<'c> for &'c Conns<DB> {
    type Database = DB;

    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<DB::QueryResult, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async move {
            let mut conn = self.lend_for_statement().await?;
            let result = Executor::execute(&mut *conn, query).await;
            conn.answered(&result);
            result
        })
    }

    fn fetch_all<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Vec<DB::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async move {
            let mut conn = self.lend_for_statement().await?;
            let result = Executor::fetch_all(&mut *conn, query).await;
            conn.answered(&result);
            result
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async move {
            let mut conn = self.lend_for_statement().await?;
            let result = Executor::fetch_optional(&mut *conn, query).await;
            conn.answered(&result);
            result
        })
    }

    /// Reads every result before yielding the first: the connection cannot be both owned by the
    /// stream and borrowed by the driver's stream over it. Every statement here reads bounded
    /// results (`fetch_all` and `execute`, the common ways, do not come here).
    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(Buffered::Reading(Box::pin(async move {
            let mut conn = match self.lend_for_statement().await {
                Ok(conn) => conn,
                Err(e) => return vec![Err(e)],
            };
            let mut results = Vec::new();
            let mut stream = Executor::fetch_many(&mut *conn, query);
            while let Some(result) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
                let failed = result.is_err();
                results.push(result);
                if failed {
                    break;
                }
            }
            drop(stream);
            conn.in_doubt = false;
            if let Some(Err(e)) = results.last() {
                if lost::is_connection_lost(e) {
                    conn.close_on_drop();
                }
            }
            results
        })))
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        Box::pin(async move {
            let mut conn = self.lend_for_statement().await?;
            let result = Executor::prepare_with(&mut *conn, sql, parameters).await;
            conn.answered(&result);
            result
        })
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, sqlx::Error>>
    where
        'c: 'e,
    {
        Box::pin(async move {
            let mut conn = self.lend_for_statement().await?;
            let result = Executor::describe(&mut *conn, sql).await;
            conn.answered(&result);
            result
        })
    }
}

/// The stream `fetch_many` returns: the results, once all were read.
enum Buffered<'e, T> {
    Reading(BoxFuture<'e, Vec<T>>),
    /// Boxed, so the stream is `Unpin` whatever a row is.
    Yielding(Box<std::vec::IntoIter<T>>),
}

impl<T> Stream for Buffered<'_, T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        loop {
            match &mut *self {
                Buffered::Reading(read) => match read.as_mut().poll(cx) {
                    Poll::Ready(results) => *self = Buffered::Yielding(Box::new(results.into_iter())),
                    Poll::Pending => return Poll::Pending,
                },
                Buffered::Yielding(results) => return Poll::Ready(results.next()),
            }
        }
    }
}

#[cfg(test)]
mod tests;
