//! Units of work, and SQLite's group-commit writer.
//!
//! A port method that writes opens a [`Unit`] (`self.begin_unit()`), runs its statements on it
//! (`&mut *tx`, exactly as on a `sqlx::Transaction`) and ends with `tx.commit()`; a unit dropped
//! without `commit` leaves nothing behind.
//!
//! On PostgreSQL a unit is a plain transaction on one of the store's connections (`conns.rs`):
//! the server already shares one WAL flush between transactions that commit together
//! (`commit_delay` is left to the DBA). A detached unit (below) is one statement there, its own
//! transaction ([`Unit::into_one_statement`], `read_ahead.rs`).
//!
//! On SQLite every COMMIT is an fsync (`synchronous = FULL`) on the one write connection, so
//! concurrent units share one: the [`Writer`] keeps a *batch* transaction open (`BEGIN
//! IMMEDIATE`) and runs each unit inside it as `SAVEPOINT u … RELEASE u`. A released unit joins
//! the batch and waits for the batch's COMMIT: nobody is answered before their writes are
//! durable, and a failed COMMIT fails every unit of the batch.
//! The first unit of a batch sets no savepoint (nothing else is in the transaction yet, so
//! undoing it is a ROLLBACK of the batch): a unit holding the connection alone in its batch pays
//! no SAVEPOINT/RELEASE (a detached unit, below, always sends both, in its one round trip).
//! A unit that ends with deferred writes (`finish`, `pipeline.rs`) sends RELEASE in the same
//! multi-statement query as them: RELEASE runs only if every write before it did, and a write
//! whose row count must be one is checked by a statement of the query (`step_checks`), so a
//! failed write or count stops the query before RELEASE and still finds the savepoint there to
//! undo the unit.
//!
//! Who commits: one committer task per store. The first unit released into a batch (or a
//! detached unit handed over, below) wakes it; it
//! then queues for the write connection like any unit. The connection's mutex is FIFO, so every
//! unit queued before the committer joins the batch, and every unit queued after it waits for the
//! next one. Under load, units gather while the previous COMMIT's fsync runs; alone, a unit
//! commits at once. A batch also takes at most [`MAX_UNITS`]: past that, newcomers wait for its
//! COMMIT before they begin, so a steady stream cannot postpone it.
//!
//! Detached units: a use case decided before it touches the database (`read_ahead.rs`,
//! `operate_ahead.rs`), or one that is a single statement (`SqlStore::write_one`: an abuse
//! limit's count, a token spent on its own), has only writes left, and does not need to hold the
//! connection to send them. It hands them to
//! the committer ([`Writer::run_detached_writes`], [`Writer::run_detached`]), which runs every
//! detached unit waiting, one after another in the open batch, each `SAVEPOINT u; …its writes…;
//! RELEASE u`, then COMMITs: no lock handed to a unit's task and no task woken between one unit
//! and the next, which is what a unit holding the connection costs. A unit whose rows nobody
//! reads (a use case decided ahead) is run by the committer itself on the connection's SQLite
//! handle, borrowed once for all such units waiting when there are enough to pay for the borrow
//! ([`WORTH_A_BORROW`], `inline_writes.rs`): sqlx would send its query to the connection's worker
//! thread and wake the committer for each statement's result.
//! One whose last write's rows its caller reads (a single statement's RETURNING) goes through
//! sqlx in one round trip. A detached unit whose writes fail is told its error at once, and its
//! savepoint undoes it before the next unit runs. One that ran is told its batch's outcome with
//! the batch's other units, and the rows its last write returned.
//!
//! Cancellation (hyper drops a handler's future when the client goes away): any `.await` of a
//! unit may be its last. Before anything whose effect could be left half-known (opening the
//! batch, the unit's own statements, RELEASE), the writer marks its state *in doubt*; whoever
//! next holds the connection (a unit or the committer) first runs `ROLLBACK TO u; RELEASE u`
//! (which removes whatever a dropped unit wrote and fails harmlessly when there is no savepoint
//! `u`), then checks that the batch transaction is still open. A statement sqlx already sent
//! still runs to its end on the connection's worker thread before the next one, and of a query
//! of several statements (an [`Opening`], deferred writes) the worker runs whole statements up
//! to where the drop stopped it: "in doubt" is always a known set of whole statements, all
//! after the unit's savepoint (or all of a batch's first unit, undone by rolling the batch
//! back), never a statement half applied. A unit dropped while it
//! waits for the COMMIT was already released into the batch and commits with it, as a client
//! that hangs up after COMMIT would; so does a detached unit once handed to the committer.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::{Database, Executor};
use tokio::sync::{oneshot, watch, Mutex, Notify, OwnedMutexGuard};

use super::conns::{Conn, Conns, Tx};
use super::db_error::StoreDbError;
use super::inline_writes;
use super::pipeline::{Arg, Done, Pipeline, Step};
use super::Backend;
use crate::{StoreError, StoreResult};

/// What opens a unit that is not its batch's first (`RELEASE u` ends it).
const SAVEPOINT: &str = "SAVEPOINT u";

/// The most units one batch takes (a COMMIT's worth of work, bounded).
pub(crate) const MAX_UNITS: usize = 64;

/// The fewest detached units run on the connection's handle at once (`inline_writes.rs`);
/// fewer go through sqlx. A borrow costs a round trip to sqlx's worker thread and preparing each
/// statement again, which a few units do not win back (cryptogram flow, about three payments a
/// batch between its reservations: slower on the handle in interleaved pairs; saved-card, five
/// to seven a batch: faster).
#[cfg(not(test))]
const WORTH_A_BORROW: usize = 4;
/// The crate's own tests run every such unit on the handle, however few, so that the path they
/// test is the handle's (the black-box suite runs with the threshold above, and with both paths).
#[cfg(test)]
const WORTH_A_BORROW: usize = 1;

/// One unit of work: every statement of one port method's write. Derefs to the connection.
pub struct Unit<DB: Database> {
    inner: Inner<DB>,
    /// Writes queued to go to the database in one round trip (`pipeline.rs`).
    pending: Pipeline,
    /// SQLite: the unit's savepoint was released together with its last writes (`finish`).
    released: bool,
    /// PostgreSQL: a detached unit whose writes cannot go as one statement (two of them change
    /// one row, or one must run before the others are queued): [`Self::into_one_statement`]
    /// refuses it, and its use case goes the locked way.
    split: bool,
}

enum Inner<DB: Database> {
    /// PostgreSQL: its own transaction.
    Own(Tx<DB>),
    /// SQLite: a savepoint inside the writer's batch, holding the write connection.
    Batched(Held<DB>),
    /// Writes only, holding no connection: on SQLite the committer runs them for its task
    /// ([`Writer::run_detached`]); on PostgreSQL they are one statement of their own
    /// ([`Unit::into_one_statement`]).
    Detached,
}

impl<DB: Backend> Unit<DB> {
    /// A unit that is its own transaction (PostgreSQL).
    pub(crate) fn own(tx: Tx<DB>) -> Self {
        Unit::new(Inner::Own(tx))
    }

    fn new(inner: Inner<DB>) -> Self {
        Unit { inner, pending: Pipeline::default(), released: false, split: false }
    }

    /// A unit decided before it touches the database, whose writes are `steps` and those
    /// queued after them ([`Self::defer`]); [`Writer::run_detached`] runs it. It lends no
    /// connection: a statement sent through it is a bug, and panics.
    pub(crate) fn detached(steps: impl IntoIterator<Item = Step>) -> Self {
        let mut unit = Unit::new(Inner::Detached);
        for step in steps {
            unit.pending.push(step);
        }
        unit
    }

    /// The connection, for the unit's own sends (which go through the queue, so they keep its
    /// order); statements of a use case reach it through `Deref`.
    fn connection(&mut self) -> &mut DB::Connection {
        match &mut self.inner {
            Inner::Own(tx) => tx,
            Inner::Batched(held) => held.conn.as_mut().expect("a unit holds the write connection"),
            Inner::Detached => panic!("{DETACHED_LENDS_NOTHING}"),
        }
    }

    /// Queues a write that nothing in the unit reads back (see `pipeline.rs`): sent with the
    /// others at the next [`Self::flush`] (on PostgreSQL at once first if it changes a row a
    /// queued write changes).
    pub(crate) async fn defer(&mut self, step: Step) -> StoreResult<()> {
        if self.pending.conflicts::<DB>(&step) {
            if self.is_detached() {
                // Nothing to flush to: the unit cannot be one statement.
                self.split = true;
            } else {
                self.flush().await?;
            }
        }
        self.pending.push(step);
        Ok(())
    }

    /// Whether the unit only queues writes ([`Self::detached`]).
    pub(crate) fn is_detached(&self) -> bool {
        matches!(self.inner, Inner::Detached)
    }

    /// Whether the unit was found unable to go as one statement ([`Self::needs_a_statement_first`],
    /// or two of its writes change one row on PostgreSQL): its use case goes the locked way.
    pub(crate) fn is_split(&self) -> bool {
        self.split
    }

    /// Marks a detached unit as needing a statement of its own before its queued writes (an
    /// account PostgreSQL must open before a statement can book on it): it cannot be one
    /// statement.
    pub(crate) fn needs_a_statement_first(&mut self) {
        self.split = true;
    }

    /// PostgreSQL: a detached unit's writes, to be sent as one statement of their own
    /// ([`Pipeline::send_alone`]); `None` when they cannot be one ([`Self::split`]), or the
    /// unit is not detached.
    pub(crate) fn into_one_statement(self) -> Option<Pipeline> {
        match self.inner {
            Inner::Detached if !self.split => Some(self.pending),
            _ => None,
        }
    }

    /// Sends the queued writes, in one round trip, and checks what each changed.
    pub(crate) async fn flush(&mut self) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if matches!(self.inner, Inner::Detached) {
            return Err(detached_sent().into());
        }
        let mut pending = std::mem::take(&mut self.pending);
        pending.send::<DB>(self.connection()).await
    }

    /// Sends the queued writes and commits: what a use case ends with.
    pub(crate) async fn finish(mut self) -> StoreResult<()> {
        self.send_last().await?;
        Ok(self.commit().await?)
    }

    /// `finish`'s first half: sends the unit's last queued writes, [`Self::commit`] to follow.
    /// On SQLite, a unit with a savepoint releases it in the same round trip: RELEASE runs only
    /// if every write before it did and changed what it must (`pipeline.rs` checks row counts in
    /// the query), so a failed write still finds the savepoint there to undo the unit. An error
    /// here leaves nothing of the unit once it is dropped; an error of `commit` may come after
    /// the unit joined its batch.
    async fn send_last(&mut self) -> StoreResult<()> {
        let with_release = match &self.inner {
            Inner::Batched(held) => !held.bare && !self.pending.is_empty(),
            Inner::Own(_) | Inner::Detached => false,
        };
        if with_release {
            let mut pending = std::mem::take(&mut self.pending);
            // Still in doubt while it runs: if this future is dropped, the next holder of the
            // connection finds out whether RELEASE ran, as after `commit`'s own.
            pending.send_then::<DB>("RELEASE u", self.connection()).await?;
            self.released = true;
        }
        self.flush().await
    }

    /// Makes the unit's writes durable; returns once they are (on SQLite, once its batch's
    /// COMMIT returned).
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        if !self.pending.is_empty() {
            // A use case ends with `finish`, which maps the queued writes' errors; this keeps
            // `commit` from ever dropping a write.
            self.flush().await.map_err(|e| match e {
                StoreError::Database(e) => e,
                other => sqlx::Error::Protocol(other.to_string()),
            })?;
        }
        let mut guard = match self.inner {
            Inner::Own(tx) => return tx.commit().await,
            Inner::Batched(held) => held,
            Inner::Detached => return Err(detached_sent()),
        };
        if guard.bare {
            // The batch's first unit set no savepoint: nothing to release.
            guard.bare = false;
        } else if !self.released {
            // Still in doubt while RELEASE runs: if this future is dropped now, the next holder
            // of the connection finds out whether it ran.
            run(guard.connection(), "RELEASE u").await?;
        }
        guard.in_doubt = false;
        let Some(batch) = guard.batch.as_mut() else {
            // Unreachable: a unit runs inside a batch. Answer nothing rather than "durable".
            return Err(batch_failed("no batch transaction was open"));
        };
        batch.units += 1;
        let mut done = batch.done.subscribe();
        // Wakes the committer.
        drop(guard);
        let outcome = done.wait_for(Option::is_some).await;
        match outcome.as_deref() {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(message))) => Err(batch_failed(message)),
            // The batch ended without an outcome (the committer stopped): not durable as far as
            // we know.
            Ok(None) | Err(_) => Err(batch_failed("the writer stopped before the batch's COMMIT")),
        }
    }

    /// Discards the unit's writes.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.inner {
            Inner::Own(tx) => tx.rollback().await,
            // Dropping it does: the next holder rolls back to its savepoint.
            Inner::Batched(_) => Ok(()),
            // Nothing of it was sent.
            Inner::Detached => Ok(()),
        }
    }
}

impl<DB: Database> Deref for Unit<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match &self.inner {
            Inner::Own(tx) => tx,
            Inner::Batched(held) => held.conn.as_ref().expect("a unit holds the write connection"),
            Inner::Detached => panic!("{DETACHED_LENDS_NOTHING}"),
        }
    }
}

impl<DB: Backend> DerefMut for Unit<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.connection()
    }
}

/// Why a detached unit panics when asked for its connection: whatever it sent would run outside
/// its savepoint (SQLite) or its one statement (PostgreSQL), before the writes it queued.
const DETACHED_LENDS_NOTHING: &str = "a detached unit only queues writes, which are sent together";

/// A detached unit sent, flushed or committed like a unit that holds the connection.
fn detached_sent() -> sqlx::Error {
    sqlx::Error::Protocol(DETACHED_LENDS_NOTHING.into())
}

/// The group-commit writer of one SQLite store. Dropping it stops its committer.
pub(crate) struct Writer<DB: Database> {
    shared: Arc<Shared<DB>>,
}

struct Shared<DB: Database> {
    /// The write connection (`conns.rs`, at most one). The writer borrows it for a batch and
    /// gives it back after the COMMIT (no round trip), so single statements still run between
    /// batches.
    pool: Conns<DB>,
    /// The write connection and the open batch. tokio's mutex is FIFO, which the batching needs.
    state: Arc<Mutex<State<DB>>>,
    /// Wakes the committer: a unit was released into a batch, or dropped unfinished, or a
    /// detached unit was handed over.
    wake: Notify,
    /// COMMITs run, for tests and metrics.
    commits: AtomicU64,
    /// Units those COMMITs carried (metrics: units per COMMIT).
    units: AtomicU64,
    /// Detached units handed to the committer ([`Writer::run_detached`]), oldest first.
    detached: std::sync::Mutex<Vec<Detached<DB>>>,
    closed: AtomicBool,
}

/// A detached unit waiting for the committer.
struct Detached<DB: Database> {
    writes: Pipeline,
    /// Whether its caller reads the rows its last write returns: such a unit goes through
    /// sqlx, whose rows it answers with; the others run on the connection's handle
    /// (`inline_writes.rs`).
    rows_read: bool,
    /// Its outcome: its own error at once if its writes fail, or, once they ran, its batch's,
    /// with the rows its last write returned.
    reply: Reply<DB::Row>,
}

/// Where a detached unit's outcome goes: the rows its last write returned, once durable.
type Reply<R> = oneshot::Sender<StoreResult<Vec<R>>>;

/// The write connection's state, held by a unit (or by `begin`). Letting go of it wakes the
/// committer while the writer holds the connection: a released unit wants its COMMIT, and a
/// dropped one (an error, a cancelled request) must be cleaned up and its batch ended even if no
/// other unit comes, so that the write lock is not held on.
struct Held<DB: Database> {
    guard: OwnedMutexGuard<State<DB>>,
    shared: Arc<Shared<DB>>,
}

impl<DB: Database> Drop for Held<DB> {
    fn drop(&mut self) {
        if self.guard.conn.is_some() {
            self.shared.wake.notify_one();
        }
    }
}

impl<DB: Database> Deref for Held<DB> {
    type Target = State<DB>;

    fn deref(&self) -> &State<DB> {
        &self.guard
    }
}

impl<DB: Database> DerefMut for Held<DB> {
    fn deref_mut(&mut self) -> &mut State<DB> {
        &mut self.guard
    }
}

struct State<DB: Database> {
    conn: Option<Conn<DB>>,
    batch: Option<Batch<DB::Row>>,
    /// A statement whose outcome nobody saw may have run (see the module doc): resolve it first.
    in_doubt: bool,
    /// The unit holding the connection is the first of its batch and runs without a savepoint:
    /// until it is released, its writes are all the batch transaction holds, so undoing it is
    /// rolling the batch back. Saves a lone unit two round trips (SAVEPOINT and RELEASE).
    bare: bool,
}

/// The open batch transaction; `R` the database's row.
struct Batch<R> {
    /// Units released into it.
    units: usize,
    /// Its outcome, once COMMIT returned: `Err` carries the message of the failure.
    done: watch::Sender<Option<Result<(), String>>>,
    /// The detached units released into it (counted in `units` too), told its outcome, with
    /// the rows each one's last write returned.
    detached: Vec<(Reply<R>, Vec<R>)>,
}

impl<R> Batch<R> {
    fn new() -> Self {
        Batch { units: 0, done: watch::Sender::new(None), detached: Vec::new() }
    }

    fn finish(self, outcome: Result<(), String>) {
        for (reply, rows) in self.detached {
            let _ = reply.send(outcome.clone().map(|()| rows).map_err(|message| batch_failed(&message).into()));
        }
        self.done.send_replace(Some(outcome));
    }
}

impl<DB: Database> State<DB> {
    fn connection(&mut self) -> &mut Conn<DB> {
        self.conn.as_mut().expect("the writer holds its connection while a unit runs")
    }
}

impl<DB: Backend> Writer<DB> {
    /// Starts the writer on `pool` (the one write connection) and its committer task.
    pub(crate) fn start(pool: Conns<DB>) -> Self {
        let shared = Arc::new(Shared {
            pool,
            state: Arc::new(Mutex::new(State { conn: None, batch: None, in_doubt: false, bare: false })),
            wake: Notify::new(),
            commits: AtomicU64::new(0),
            units: AtomicU64::new(0),
            detached: std::sync::Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(committer(shared.clone()));
        Writer { shared }
    }

    /// COMMITs run so far (each may have carried many units).
    pub(crate) fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// Units committed so far, by those COMMITs.
    pub(crate) fn units(&self) -> u64 {
        self.shared.units.load(Ordering::Relaxed)
    }

    /// Runs a detached unit ([`Unit::detached`]): hands its writes to the committer, which runs
    /// them in the open batch (or the next) in a savepoint of their own, in one round trip, with no hand-off
    /// to this task in between (see the module doc). Answers once its batch's COMMIT returned,
    /// with the rows its last write returned (none unless it has a RETURNING clause); an error
    /// of its writes (which leave nothing, as a failing locked unit's) as soon as they ran.
    /// Once handed over it runs even if this future is dropped, as a unit already released
    /// into its batch commits.
    pub(crate) async fn run_detached(&self, unit: Unit<DB>) -> StoreResult<Vec<DB::Row>> {
        self.hand_over(unit, true).await
    }

    /// [`Self::run_detached`] for a unit whose rows nobody reads (a use case decided ahead):
    /// the committer runs it on the write connection's own handle (`inline_writes.rs`).
    pub(crate) async fn run_detached_writes(&self, unit: Unit<DB>) -> StoreResult<()> {
        self.hand_over(unit, false).await.map(drop)
    }

    async fn hand_over(&self, unit: Unit<DB>, rows_read: bool) -> StoreResult<Vec<DB::Row>> {
        let Unit { inner: Inner::Detached, pending: writes, .. } = unit else {
            return Err(sqlx::Error::Protocol("only a detached unit is handed to the committer".into()).into());
        };
        let (reply, outcome) = oneshot::channel();
        self.shared.queue().push(Detached { writes, rows_read, reply });
        self.shared.wake.notify_one();
        outcome.await.unwrap_or_else(|_| Err(batch_failed("the writer stopped before the batch's COMMIT").into()))
    }

    /// Opens a unit: waits for the write connection, opens a batch if none is, and sets the
    /// unit's savepoint.
    pub(crate) async fn begin(&self) -> Result<Unit<DB>, sqlx::Error> {
        self.begin_opening().await?.plain().await
    }

    /// Takes the write connection for a unit and decides what must run before the unit's first
    /// statement (the batch's BEGIN, or the unit's savepoint), without running it yet: the
    /// [`Opening`] sends it together with the unit's first statements.
    pub(crate) async fn begin_opening(&self) -> Result<Opening<DB>, sqlx::Error> {
        let shared = &self.shared;
        loop {
            let mut guard = Held { guard: shared.state.clone().lock_owned().await, shared: shared.clone() };
            if guard.batch.as_ref().is_some_and(|b| b.units >= MAX_UNITS) {
                // Full: wait for its COMMIT (the committer is already queued), then queue again.
                let mut done = guard.batch.as_ref().map(|b| b.done.subscribe());
                drop(guard);
                if let Some(done) = done.as_mut() {
                    let _ = done.wait_for(Option::is_some).await;
                }
                continue;
            }
            shared.settle(&mut guard).await?;
            // In doubt from here until RELEASE returned: whatever is sent next (BEGIN, SAVEPOINT,
            // the unit's statements) may be cut off by a dropped future, and the next holder of
            // the connection must find out.
            guard.in_doubt = true;
            let owed = if guard.batch.is_none() {
                // The unit opens the batch and is its first: no savepoint (see `bare`).
                guard.batch = Some(Batch::new());
                guard.bare = true;
                Some(DB::BEGIN)
            } else if guard.batch.as_ref().is_some_and(|b| b.units == 0) {
                // A batch is open but nothing is in it yet: no savepoint either.
                guard.bare = true;
                None
            } else {
                Some(SAVEPOINT)
            };
            return Ok(Opening { unit: Unit::new(Inner::Batched(guard)), owed });
        }
    }
}

/// A unit that has sent nothing yet. On SQLite it owes the statement that opens it (the batch's
/// BEGIN, or its savepoint; nothing when it is the first unit of a batch already open);
/// [`Opening::open`] sends that together with the unit's first statements in one round trip,
/// [`Opening::plain`] alone. On PostgreSQL the unit's transaction is already open and nothing is
/// owed. The unit is reachable only through these two, so no
/// statement can run before what it owes.
pub struct Opening<DB: Database> {
    unit: Unit<DB>,
    owed: Option<&'static str>,
}

impl<DB: Backend> Opening<DB> {
    /// A PostgreSQL unit, its transaction open.
    pub(crate) fn opened(unit: Unit<DB>) -> Self {
        Opening { unit, owed: None }
    }

    /// Sends what the unit owes, alone: the unit, ready for any statement.
    pub(crate) async fn plain(mut self) -> Result<Unit<DB>, sqlx::Error> {
        if let Some(owed) = self.owed {
            let Inner::Batched(held) = &mut self.unit.inner else { unreachable!("only a batched unit owes") };
            run(held.connection(), owed).await?;
        }
        Ok(self.unit)
    }

    /// Runs `sql` (one statement, or on SQLite `;`-separated statements, `args` bound by their
    /// `$n`) as the unit's first, after what the unit owes, in one round trip: the unit and what
    /// each of `sql`'s statements did. On an error the unit is dropped, and with it whatever
    /// part of this ran (the next holder of the connection undoes it).
    pub(crate) async fn open(self, sql: &str, args: &[Arg]) -> Result<(Unit<DB>, Vec<Done<DB>>), sqlx::Error> {
        let Opening { mut unit, owed } = self;
        let sql = match owed {
            Some(owed) => Cow::Owned(format!("{owed};\n{sql}")),
            None => Cow::Borrowed(sql),
        };
        let query = Step::bind(args, sqlx::query::<DB>(&sql));
        let mut done = super::pipeline::statements::<DB>(unit.connection(), query).await.map_err(|(_, e)| e)?;
        if owed.is_some() && !done.is_empty() {
            // What the owed statement did: nothing the caller asked for.
            done.remove(0);
        }
        Ok((unit, done))
    }
}

impl<DB: Database> Drop for Writer<DB> {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        self.shared.wake.notify_one();
    }
}

impl<DB: Backend> Shared<DB> {
    /// The detached units waiting (a lock held for a push or a take only).
    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Detached<DB>>> {
        self.detached.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs detached units in the open batch (opening one if none is): those whose rows nobody
    /// reads on the connection's handle, together ([`Self::run_on_handle`]), then the others
    /// through sqlx ([`Self::run_through_sqlx`]), with `settle` before each turn. A unit
    /// that ran joins the batch and is told the batch's outcome when it ends; one whose writes
    /// failed is told its error and leaves nothing.
    async fn run_detached(&self, st: &mut State<DB>, units: Vec<Detached<DB>>) {
        // Those run on the handle first, all in one borrow, then the others: units handed over
        // together are concurrent requests, none waiting on another (a request hands over its
        // next unit only once the last one's batch committed), so their order within a batch
        // is free. Each kind keeps its own order.
        let (mut on_handle, mut through_sqlx): (Vec<_>, Vec<_>) = units.into_iter().partition(|u| !u.rows_read);
        if on_handle.len() < WORTH_A_BORROW {
            // Too few to pay for the borrow (its round trip, and preparing each statement again:
            // the borrowed connection's statements end with it): through sqlx, which keeps them.
            through_sqlx.splice(0..0, on_handle.drain(..));
        }
        while !on_handle.is_empty() {
            if let Err(e) = self.settle(st).await {
                // No usable connection: the unit would fail the locked way too.
                let unit = on_handle.remove(0);
                let _ = unit.reply.send(Err(e.into()));
                continue;
            }
            match self.run_on_handle(st, on_handle).await {
                Ok(left) => on_handle = left,
                Err(no_handle) => {
                    through_sqlx.splice(0..0, no_handle);
                    on_handle = Vec::new();
                }
            }
        }
        for unit in through_sqlx {
            match self.settle(st).await {
                Ok(()) => self.run_through_sqlx(st, unit).await,
                Err(e) => {
                    let _ = unit.reply.send(Err(e.into()));
                }
            }
        }
    }

    /// Runs `units` on the write connection's own handle, from this task (`inline_writes.rs`),
    /// in the open batch or one it opens. Each unit that ran is released into the batch or told
    /// its error; the units that did not run (after one whose rollback failed, or all of them
    /// while another process held the write lock and the batch was opened through sqlx) are
    /// returned, to run on the handle next. A backend without a handle (never the writer's)
    /// returns them all as `Err`, to go through sqlx.
    async fn run_on_handle(
        &self,
        st: &mut State<DB>,
        mut units: Vec<Detached<DB>>,
    ) -> Result<Vec<Detached<DB>>, Vec<Detached<DB>>> {
        let begin = st.batch.is_none().then_some(DB::BEGIN);
        let mut outcome = None;
        let mut on_handle = |conn: &rusqlite::Connection| {
            outcome = Some(inline_writes::run_units(conn, begin, units.iter_mut().map(|u| &mut u.writes)));
        };
        // In doubt until the units answered, as for a unit of its own.
        st.in_doubt = true;
        let handled = DB::on_handle(&mut **st.connection(), &mut on_handle).await;
        let outcome = match (handled, outcome) {
            (Ok(true), Some(outcome)) => outcome,
            (Ok(_), _) => {
                // No handle (never the writer's backend): nothing ran.
                st.in_doubt = false;
                return Err(units);
            }
            (Err(e), _) => {
                // The handle could not be borrowed (its worker thread is gone): nothing ran.
                let message = e.to_string();
                st.connection().observe::<()>(&Err(e));
                for unit in units {
                    let _ = unit.reply.send(Err(sqlx::Error::Protocol(message.clone()).into()));
                }
                return Ok(Vec::new());
            }
        };
        if outcome.busy {
            // Another process holds the file's write lock: open the batch through sqlx, whose
            // thread waits for it (up to the busy timeout), and run the units on the handle next.
            st.in_doubt = false;
            st.batch = Some(Batch::new());
            if let Err(e) = run(st.connection(), DB::BEGIN).await {
                st.in_doubt = true;
                let mut units = units.into_iter();
                if let Some(first) = units.next() {
                    let _ = first.reply.send(Err(e.into()));
                }
                return Ok(units.collect());
            }
            return Ok(units);
        }
        if begin.is_some() {
            // Opened (or, if BEGIN failed, left for `settle` to find out).
            st.batch = Some(Batch::new());
        }
        st.in_doubt = !outcome.settled;
        let mut units = units.into_iter();
        let batch = st.batch.as_mut().expect("opened above");
        for ran in outcome.ran {
            let Some(unit) = units.next() else { break };
            match ran {
                inline_writes::Ran::Released => {
                    batch.units += 1;
                    batch.detached.push((unit.reply, Vec::new()));
                }
                inline_writes::Ran::Failed(e) => {
                    let _ = unit.reply.send(Err(e));
                }
            }
        }
        Ok(units.collect())
    }

    /// Runs one detached unit through sqlx, in one round trip: `SAVEPOINT u`, its writes,
    /// `RELEASE u` (with the batch's BEGIN in front when it opens the batch). A unit whose writes
    /// fail stopped before its RELEASE: it is told its error, and the next `settle` rolls back to
    /// its savepoint. A unit that ran joins the batch, with the rows its last write returned.
    async fn run_through_sqlx(&self, st: &mut State<DB>, unit: Detached<DB>) {
        let mut writes = Pipeline::default();
        if st.batch.is_none() {
            st.batch = Some(Batch::new());
            writes.push(Step::new(DB::BEGIN, Vec::new()));
        }
        writes.push(Step::new(SAVEPOINT, Vec::new()));
        writes.append(unit.writes);
        // In doubt until RELEASE answered, as for a unit of its own: a failure stops the
        // query before RELEASE, and `settle` undoes whatever part of the unit ran.
        st.in_doubt = true;
        match writes.send_then::<DB>("RELEASE u", st.connection()).await {
            Ok(rows) => {
                st.in_doubt = false;
                let batch = st.batch.as_mut().expect("opened above");
                batch.units += 1;
                batch.detached.push((unit.reply, rows));
            }
            Err(e) => {
                let _ = unit.reply.send(Err(e));
            }
        }
    }

    /// Makes the connection ready for the next unit or COMMIT: takes the connection if the
    /// writer does not hold it, and resolves a doubt left by a dropped unit.
    async fn settle(&self, st: &mut State<DB>) -> Result<(), sqlx::Error> {
        if st.conn.is_none() {
            st.conn = Some(self.pool.acquire().await?);
        }
        if !st.in_doubt {
            return Ok(());
        }
        if st.bare {
            // A dropped unit that was its batch's first, without a savepoint: its writes are the
            // whole batch transaction, and no released unit waits on it. Roll it back (fails
            // harmlessly if an error already ended it); the check below sees it closed.
            st.bare = false;
            let _ = run(st.connection(), "ROLLBACK").await;
            st.batch = None;
        }
        // Undo a dropped (or failed detached) unit, if its savepoint is there. Fails with "no
        // such savepoint" when the unit was released, never set, or its error ended the whole
        // transaction. Any other failure leaves the unit's writes in the batch: the doubt stays,
        // and whoever called fails (`end_batch` fails the whole batch and rolls it back).
        match run(st.connection(), "ROLLBACK TO u").await {
            Ok(()) => run(st.connection(), "RELEASE u").await?,
            Err(e) if e.to_string().contains("no such savepoint") => {}
            Err(e) => return Err(e),
        }
        // Is the batch transaction still open? Opening one answers: it fails inside one.
        match run(st.connection(), DB::BEGIN).await {
            Err(e) if e.to_string().contains("within a transaction") => {
                if st.batch.is_none() {
                    // A COMMIT that never finished; its units were already failed.
                    run(st.connection(), "ROLLBACK").await?;
                }
            }
            Err(e) => return Err(e),
            Ok(_) => match st.batch.take() {
                // It had ended (an error like SQLITE_FULL rolls back the whole transaction):
                // whatever its units wrote is gone. The transaction just opened serves as a
                // fresh batch.
                Some(lost) => {
                    if lost.units > 0 {
                        lost.finish(Err("the batch transaction was rolled back by an error".into()));
                    }
                    st.batch = Some(Batch::new());
                }
                None => run(st.connection(), "ROLLBACK").await?,
            },
        }
        st.in_doubt = false;
        Ok(())
    }

    /// Ends the open batch: COMMIT, then tell its units. Gives the connection back.
    async fn end_batch(&self, st: &mut State<DB>) {
        if st.conn.is_none() && !st.in_doubt {
            return;
        }
        let settled = self.settle(st).await;
        // Taken before COMMIT: if this future is dropped (runtime shutdown), the units see the
        // batch end without an outcome rather than waiting for ever.
        let Some(batch) = st.batch.take() else {
            if settled.is_err() && st.in_doubt {
                // Not known to be outside a transaction: closed rather than given back, so no
                // single statement runs inside a transaction nobody will commit.
                if let Some(conn) = st.conn.as_mut() {
                    conn.close_on_drop();
                }
                st.in_doubt = false;
            }
            st.conn = None;
            return;
        };
        st.in_doubt = true;
        let committed = match settled {
            Ok(()) => run(st.connection(), "COMMIT").await,
            Err(e) => Err(e),
        };
        if committed.is_ok() {
            self.commits.fetch_add(1, Ordering::Relaxed);
            self.units.fetch_add(batch.units as u64, Ordering::Relaxed);
            st.in_doubt = false;
        } else if run(st.connection(), "ROLLBACK").await.is_ok() {
            st.in_doubt = false;
        }
        batch.finish(committed.map_err(|e| e.to_string()));
        if let Some(mut conn) = st.conn.take() {
            if st.in_doubt {
                // Neither COMMIT nor ROLLBACK worked: this connection's state is unknown.
                conn.close_on_drop();
                st.in_doubt = false;
            }
        }
    }
}

/// The committer: on each wake-up, queues for the connection behind the units already waiting,
/// runs the detached units handed to it (at most [`MAX_UNITS`] a batch), then commits whatever
/// batch they all formed. Detached units handed over while it commits are run at once after.
async fn committer<DB: Backend>(shared: Arc<Shared<DB>>) {
    loop {
        if shared.queue().is_empty() {
            shared.wake.notified().await;
        }
        let mut guard = shared.state.clone().lock_owned().await;
        // Up to the batch's room: units the batch holds already (locked ones) count.
        let room = MAX_UNITS.saturating_sub(guard.batch.as_ref().map_or(0, |b| b.units));
        let detached: Vec<Detached<DB>> = {
            let mut queue = shared.queue();
            let taken = queue.len().min(room);
            queue.drain(..taken).collect()
        };
        if !detached.is_empty() {
            shared.run_detached(&mut guard, detached).await;
        }
        shared.end_batch(&mut guard).await;
        // Stopped once nothing is left: a unit handed over before the writer was dropped runs.
        if shared.closed.load(Ordering::Relaxed) && guard.batch.is_none() && shared.queue().is_empty() {
            return;
        }
    }
}

async fn run<DB: Backend>(conn: &mut Conn<DB>, sql: &'static str) -> Result<(), sqlx::Error> {
    let result = Executor::execute(&mut **conn, sql).await.map(drop);
    // A connection the database closed is not given back (SQLite: its worker thread died).
    conn.observe(&result);
    result
}

/// The error every unit of a batch whose COMMIT failed gets.
fn batch_failed(message: &str) -> sqlx::Error {
    StoreDbError::own(format!("group commit failed, nothing was written: {message}"))
}

#[cfg(test)]
mod tests;
