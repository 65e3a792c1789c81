//! Deferred writes: the writes at the end of a use case, sent to the database in ONE round trip.
//!
//! Once a payment (a charge, a refund, a transfer) is decided, what is left is only writes whose
//! outcome nobody reads back: the ledger transfers, the account and shard sums, the payment row
//! and its history, the callback, the Idempotency-Key's answer. A unit queues them
//! ([`Unit::defer`](super::Unit::defer)) and [`Unit::flush`](super::Unit::flush) sends them
//! together, as the backend allows ([`OneTrip`]):
//!
//! - **PostgreSQL** spends its CPU per statement (parse/bind/execute, a loopback round trip, a
//!   wake-up), not per row: one statement of data-modifying CTEs,
//!
//!   ```sql
//!   WITH w0 AS (INSERT INTO ledger_transfers … RETURNING 1),
//!        w1 AS (UPDATE ledger_accounts … RETURNING 1), …
//!   SELECT (SELECT count(*) FROM w0) AS n0, (SELECT count(*) FROM w1) AS n1, …
//!   ```
//!
//! - **SQLite** runs in-process, but sqlx gives each connection a thread of its own, and every
//!   statement is a message to that thread and one back: thread hand-offs, not SQLite, are the
//!   cost. The steps go as `;`-separated statements of one query: sqlx's SQLite driver prepares
//!   and runs them in turn on the connection's thread and streams back each one's row count
//!   ([`statements`]). Every step keeps its own `$n`, shifted past the steps before it: the
//!   driver binds a `$n` from the query's one argument list by its number. A step whose row
//!   count must be one is followed by a statement that fails when it was not (`step_checks`,
//!   migration 0025), so the query stops there as at a failing statement.
//!
//! Still in the use case's transaction, so it commits or rolls back with everything else. (One
//! exception: a PostgreSQL unit decided ahead, `read_ahead.rs`, has no transaction but its one
//! statement, [`Pipeline::send_alone`], whose row counts are therefore checked inside it.)
//! What guards money still decides inside it: each step's row count comes back (a compare-and-set
//! that changed no row fails the unit with the step's error, like an insert of a ledger transfer
//! between accounts of two currencies), and a unique violation (another attempt that took the
//! invoice) fails the unit, named by the step it belongs to. On SQLite the failing statement is
//! the last that ran (sqlx stops there): the steps before it stay in the unit's transaction until
//! the unit, failed as a whole, is rolled back.
//!
//! Two rules keep the queue equal to the steps run one after another:
//! - PostgreSQL: the sub-statements of one statement all see the database as it was before it,
//!   and two of them changing one row leave only one change (PostgreSQL does not say which). So a
//!   step that changes an existing row names it ([`Step::row`]), and a second step on the same
//!   row first flushes the queue (a detached unit, which has nothing to flush to, is then not
//!   sent as one statement, and its use case goes the locked way). SQLite's statements run one after another, each seeing the
//!   ones before it, so there the rule costs a round trip for nothing and is not applied.
//! - Both: a statement outside the queue that reads what a queued step writes, or references its
//!   row by a foreign key, flushes first (`tx.flush()`); the use cases here read nothing after
//!   they queue.

use std::borrow::Cow;
use std::future::poll_fn;
use std::pin::Pin;

use futures_core::Stream;
use sqlx::{Database, Either, Executor, Row};

use super::conns::Conns;
use super::{Backend, OneTrip, RowsAffected};
use crate::{StoreError, StoreResult};

/// One bound value of a step.
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Small(Option<i32>),
    Flag(bool),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<i32> for Arg {
    fn from(v: i32) -> Self {
        Arg::Small(Some(v))
    }
}
impl From<Option<i32>> for Arg {
    fn from(v: Option<i32>) -> Self {
        Arg::Small(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Flag(v)
    }
}

/// What a unique violation on a step's table means to its caller.
type UniqueMeaning = fn(&sqlx::Error) -> StoreError;

/// One write: an INSERT, UPDATE or DELETE with `$1`-style placeholders. Nothing reads what a
/// step returns, except the last step's rows of a detached unit (SQLite only,
/// [`Pipeline::send_then`]), which that unit answers with; a step queued on PostgreSQL has no
/// RETURNING clause (its statement of CTEs adds its own).
pub(crate) struct Step {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
    /// The existing row this step changes (`table:key`), if it changes one: two steps on one row
    /// never share a statement.
    row: Option<String>,
    /// The step must change exactly one row, or the unit fails with this error.
    unless_one: Option<StoreError>,
    /// What a unique violation on this step's table means (`None`: a database error).
    on_unique: Option<(&'static str, UniqueMeaning)>,
}

impl Step {
    pub(crate) fn new(sql: impl Into<Cow<'static, str>>, args: Vec<Arg>) -> Self {
        let sql = sql.into();
        // sqlx-sqlite binds NULL to a `$n` past the arguments given, where PostgreSQL would
        // refuse the statement: catch a numbering mistake on both backends in debug builds.
        debug_assert_eq!(highest_placeholder(&sql), args.len(), "placeholders of {sql}");
        Step { sql, args, row: None, unless_one: None, on_unique: None }
    }

    /// Names the existing row the step changes (see the module doc).
    pub(crate) fn row(mut self, row: String) -> Self {
        self.row = Some(row);
        self
    }

    /// Fails the unit with `error` unless the step changes exactly one row.
    pub(crate) fn unless_one(mut self, error: StoreError) -> Self {
        self.unless_one = Some(error);
        self
    }

    /// Maps a unique violation on `table` (the step's own) to the caller's meaning.
    pub(crate) fn on_unique(mut self, table: &'static str, map: UniqueMeaning) -> Self {
        self.on_unique = Some((table, map));
        self
    }

    pub(crate) fn bind<'q, DB: Backend>(
        args: &'q [Arg],
        mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>> {
        for arg in args {
            query = match arg {
                Arg::Text(v) => query.bind(v.as_deref()),
                Arg::Int(v) => query.bind(*v),
                Arg::Small(v) => query.bind(*v),
                Arg::Flag(v) => query.bind(*v),
            };
        }
        query
    }

    /// Its SQL, `$n` placeholders numbered from 1.
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    /// Its arguments, `$1` first.
    pub(crate) fn args(&self) -> &[Arg] {
        &self.args
    }

    /// Runs the step as a statement of its own on `pool` and answers the rows it returns (no
    /// row count checked: for a step that has none to check).
    pub(crate) async fn fetch_all<DB: Backend>(&self, pool: &Conns<DB>) -> Result<Vec<DB::Row>, sqlx::Error> {
        Self::bind(&self.args, sqlx::query::<DB>(&self.sql)).fetch_all(pool).await
    }

    /// Runs the step as a statement of its own.
    pub(crate) async fn run<DB: Backend>(self, conn: &mut DB::Connection) -> StoreResult<()> {
        let done = Self::bind(&self.args, sqlx::query::<DB>(&self.sql)).execute(&mut *conn).await;
        let rows = match done {
            Ok(done) => super::RowsAffected::rows_affected(&done),
            Err(e) => return Err(self.failed(e)),
        };
        self.check(rows)
    }

    fn check(mut self, rows: u64) -> StoreResult<()> {
        self.check_changed(rows)
    }

    /// Fails with the step's error unless it changed exactly one row, when it must.
    pub(crate) fn check_changed(&mut self, rows: u64) -> StoreResult<()> {
        match self.unless_one.take_if(|_| rows != 1) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The step's meaning of `e`, if `e` is a unique violation on its table.
    fn meaning(&self, e: &sqlx::Error) -> Option<StoreError> {
        let (table, map) = self.on_unique?;
        unique_violation_on(e, table).then(|| map(e))
    }

    pub(crate) fn failed(&self, e: sqlx::Error) -> StoreError {
        self.meaning(&e).unwrap_or_else(|| e.into())
    }
}

/// A unique violation on `table`: PostgreSQL names the table; SQLite names its columns
/// (`table.column`) in the message.
pub(crate) fn unique_violation_on(e: &sqlx::Error, table: &str) -> bool {
    let sqlx::Error::Database(db) = e else { return false };
    db.is_unique_violation() && (db.table() == Some(table) || db.message().contains(&format!(" {table}.")))
}

/// A unit's queued steps.
#[derive(Default)]
pub(crate) struct Pipeline {
    steps: Vec<Step>,
}

impl Pipeline {
    /// Whether `step` must wait for what is queued to be sent first: on PostgreSQL, it changes a
    /// row a queued step changes (see the module doc).
    pub(crate) fn conflicts<DB: Backend>(&self, step: &Step) -> bool {
        DB::ONE_TRIP == OneTrip::WritableCte
            && step.row.is_some()
            && self.steps.iter().any(|queued| queued.row == step.row)
    }

    pub(crate) fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Queues `other`'s steps after these.
    pub(crate) fn append(&mut self, mut other: Pipeline) {
        self.steps.append(&mut other.steps);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The queued steps, in order (`inline_writes.rs` runs them itself).
    pub(crate) fn steps_mut(&mut self) -> &mut [Step] {
        &mut self.steps
    }

    /// Sends every queued step: one alone as itself, more in one round trip.
    pub(crate) async fn send<DB: Backend>(&mut self, conn: &mut DB::Connection) -> StoreResult<()> {
        let mut steps = std::mem::take(&mut self.steps);
        if steps.len() <= 1 {
            return match steps.pop() {
                Some(step) => step.run::<DB>(conn).await,
                None => Ok(()),
            };
        }
        match DB::ONE_TRIP {
            OneTrip::WritableCte => send_as_ctes::<DB>(steps, conn, Counts::Answered).await,
            OneTrip::Statements => send_as_statements::<DB>(steps, None, conn).await.map(drop),
        }
    }

    /// SQLite: sends the queued steps and then `tail` (a statement without arguments), all in
    /// one round trip; `tail` runs only if every step did, and changed what it must (a step's
    /// row count is checked in the query, [`send_as_statements`]). Answers the rows the last
    /// step returned (none unless it has a RETURNING clause).
    pub(crate) async fn send_then<DB: Backend>(
        &mut self,
        tail: &'static str,
        conn: &mut DB::Connection,
    ) -> StoreResult<Vec<DB::Row>> {
        debug_assert!(DB::ONE_TRIP == OneTrip::Statements);
        let steps = std::mem::take(&mut self.steps);
        send_as_statements::<DB>(steps, Some(tail), conn).await
    }

    /// PostgreSQL: sends every queued step as ONE statement on a connection of `pool`, outside
    /// any transaction, so the statement is its own: durable once it answers (a unit decided
    /// ahead, `read_ahead.rs`). Each step's row count that must be one is checked inside the
    /// statement (migration 0027), so a count that is not one, like a failing step, leaves
    /// nothing of any step. The steps must not conflict ([`Self::conflicts`]): two that change
    /// one row would leave one change.
    pub(crate) async fn send_alone<DB: Backend>(&mut self, pool: &Conns<DB>) -> StoreResult<()> {
        debug_assert!(DB::ONE_TRIP == OneTrip::WritableCte);
        let steps = std::mem::take(&mut self.steps);
        if steps.is_empty() {
            return Ok(());
        }
        send_as_ctes::<DB>(steps, pool, Counts::InStatement).await
    }
}

/// Where a PostgreSQL statement of writes has its row counts checked ([`send_as_ctes`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counts {
    /// Once its answer is back: the statement runs in the unit's transaction, which a failed
    /// check rolls back.
    Answered,
    /// Inside the statement (`epay_step_changed_one`, migration 0027): the statement is its own
    /// transaction, committed when its answer comes back, so a count that is not one must end
    /// it before then.
    InStatement,
}

/// The message of the error `epay_step_changed_one` raises (migration 0027), up to the step's
/// index.
const STEP_CHANGED_OTHER_THAN_ONE: &str = "step_changes_one_row: step ";

/// PostgreSQL: the steps as one statement of data-modifying CTEs, each step's row count a column,
/// sent on `conn`. PostgreSQL runs every data-modifying CTE to its end whether the query reads it
/// or not; it runs them here in the order the answer's columns name them (each a subquery of the
/// select list, evaluated left to right), which is the queue's order, so the row locks the steps
/// take are taken in the order the use case queued them (cards first, `booking.rs`). That order
/// is how PostgreSQL executes such a query, not a documented promise: a deadlock it would cause is
/// detected, fails the statement whole, and a unit decided ahead then goes the locked way.
async fn send_as_ctes<'c, DB: Backend>(
    steps: Vec<Step>,
    conn: impl Executor<'c, Database = DB>,
    counts: Counts,
) -> StoreResult<()> {
    let mut sql = String::from("WITH ");
    let mut offset = 0;
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            sql.push_str(",\n");
        }
        sql.push_str(&format!("w{i} AS ("));
        renumber(&step.sql, offset, &mut sql);
        sql.push_str(" RETURNING 1)");
        offset += step.args.len();
    }
    sql.push_str("\nSELECT ");
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        if counts == Counts::InStatement && step.unless_one.is_some() {
            sql.push_str(&format!("epay_step_changed_one({i}, (SELECT count(*) FROM w{i})) AS n{i}"));
        } else {
            sql.push_str(&format!("(SELECT count(*) FROM w{i}) AS n{i}"));
        }
    }
    let mut query = sqlx::query::<DB>(&sql);
    for step in &steps {
        query = Step::bind(&step.args, query);
    }
    let row = match query.fetch_one(conn).await {
        Ok(row) => row,
        Err(e) => {
            if let Some(i) = step_changed_other_than_one(&e) {
                // The step's own error, as when its count is checked after the answer.
                if let Some(error) = steps.into_iter().nth(i).and_then(|step| step.unless_one) {
                    return Err(error);
                }
                return Err(e.into());
            }
            let meaning = steps.iter().find_map(|step| step.meaning(&e));
            return Err(meaning.unwrap_or_else(|| e.into()));
        }
    };
    if counts == Counts::InStatement {
        // Checked inside the statement, which has committed by now: a check here could only
        // report as undone what is durable.
        return Ok(());
    }
    let mut counts = Vec::with_capacity(steps.len());
    for i in 0..steps.len() {
        let name = format!("n{i}");
        counts.push(row.try_get::<i64, _>(name.as_str())?);
    }
    for (step, rows) in steps.into_iter().zip(counts) {
        step.check(rows as u64)?;
    }
    Ok(())
}

/// The index of the step whose count `epay_step_changed_one` refused, if `e` is that refusal.
fn step_changed_other_than_one(e: &sqlx::Error) -> Option<usize> {
    let sqlx::Error::Database(db) = e else { return None };
    let rest = db.message().strip_prefix(STEP_CHANGED_OTHER_THAN_ONE)?;
    rest.split(' ').next()?.parse().ok()
}

/// SQLite: checks, as the statement right after a step, that the step changed exactly one row
/// (`changes()` is the count of the statement that completed last): when it did not, a row the
/// CHECK of `step_checks` refuses (migration 0025), which stops the query there.
const CHANGED_ONE_ROW: &str = "INSERT INTO step_checks (changed) SELECT changes() WHERE changes() <> 1";

/// The refusal of a row count's check ([`CHANGED_ONE_ROW`]); any other failure of the check's
/// statement is an error of its own.
fn is_check_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.message().contains("step_changes_one_row"))
}

/// SQLite: the steps (and `tail`) as `;`-separated statements of one query. A step whose row
/// count must be one is followed by its check ([`CHANGED_ONE_ROW`]), so a count that is not one
/// stops the query like a failing statement: nothing after it runs, `tail` (a unit's RELEASE)
/// included, and the unit can still be undone. Answers the rows the last step returned.
async fn send_as_statements<DB: Backend>(
    steps: Vec<Step>,
    tail: Option<&'static str>,
    conn: &mut DB::Connection,
) -> StoreResult<Vec<DB::Row>> {
    let mut sql = String::new();
    let mut offset = 0;
    // For each statement of the query: the step it is (`false`) or checks (`true`).
    let mut statements_of = Vec::with_capacity(steps.len() + 1);
    for (i, step) in steps.iter().enumerate() {
        renumber(&step.sql, offset, &mut sql);
        sql.push_str(";\n");
        statements_of.push((i, false));
        if step.unless_one.is_some() {
            sql.push_str(CHANGED_ONE_ROW);
            sql.push_str(";\n");
            statements_of.push((i, true));
        }
        offset += step.args.len();
    }
    sql.push_str(tail.unwrap_or_default());
    let mut query = sqlx::query::<DB>(&sql);
    for step in &steps {
        query = Step::bind(&step.args, query);
    }
    let mut done = match statements::<DB>(conn, query).await {
        Ok(done) => done,
        // The statement that failed is a step's own, its check's, or the tail's: the meaning
        // is that step's (its unique violation, or the error its count stands for).
        Err((failed, e)) => {
            return Err(match statements_of.get(failed) {
                Some(&(i, true)) if is_check_violation(&e) => {
                    steps.into_iter().nth(i).and_then(|step| step.unless_one).unwrap_or_else(|| e.into())
                }
                Some(&(i, false)) => steps[i].meaning(&e).unwrap_or_else(|| e.into()),
                Some(&(_, true)) | None => e.into(),
            })
        }
    };
    let sent = statements_of.len() + usize::from(tail.is_some());
    if done.len() != sent {
        // sqlx answers one result per statement that ran; fewer would be a step not run.
        return Err(unanswered(sent, done.len()).into());
    }
    // Every count was checked in the query (a count not one stopped it above).
    let last_step = statements_of.iter().rposition(|&(_, check)| !check);
    Ok(last_step.map(|at| std::mem::take(&mut done[at].rows)).unwrap_or_default())
}

/// A multi-statement query answered for fewer statements than it sent: a statement did not run.
/// Never expected (sqlx answers one result per statement); the unit fails rather than guess.
pub(crate) fn unanswered(sent: usize, answered: usize) -> sqlx::Error {
    sqlx::Error::Protocol(format!("{answered} statements answered for {sent} sent"))
}

/// What one statement of a multi-statement query did.
pub(crate) struct Done<DB: Database> {
    pub rows_affected: u64,
    pub rows: Vec<DB::Row>,
}

/// Runs `query`, `;`-separated statements, in one round trip ([`OneTrip::Statements`], SQLite):
/// what each statement did, in order. On an error, also the index of the statement that failed:
/// those before it ran, none after it did.
pub(crate) async fn statements<'q, DB: Backend>(
    conn: &mut DB::Connection,
    query: sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
) -> Result<Vec<Done<DB>>, (usize, sqlx::Error)> {
    let mut stream = Executor::fetch_many(&mut *conn, query);
    let mut done = Vec::new();
    let mut rows = Vec::new();
    while let Some(item) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        match item {
            // A statement's rows come first, then its count.
            Ok(Either::Right(row)) => rows.push(row),
            Ok(Either::Left(result)) => {
                done.push(Done { rows_affected: RowsAffected::rows_affected(&result), rows: std::mem::take(&mut rows) })
            }
            Err(e) => return Err((done.len(), e)),
        }
    }
    Ok(done)
}

/// Appends `sql` to `out` with each placeholder `$n` written as `$(n + offset)`. The step SQL of
/// this crate has no `$` but in placeholders. Copies the text between placeholders whole: every
/// batch sent through sqlx renumbers each of its steps (it was 7% of the gateway's instructions
/// in a flow 1 profile when it went a character at a time).
pub(crate) fn renumber(sql: &str, offset: usize, out: &mut String) {
    use std::fmt::Write;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => {
                let _ = write!(out, "{}", n + offset);
            }
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

/// The highest `$n` placeholder in a statement (0 when it has none).
fn highest_placeholder(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut highest = 0;
    for (i, _) in sql.match_indices('$') {
        let digits: String = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).map(|b| *b as char).collect();
        highest = highest.max(digits.parse().unwrap_or(0));
    }
    highest
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn placeholders_are_shifted_by_the_steps_before() {
        let mut out = String::new();
        renumber("INSERT INTO t (a, b) VALUES ($1, $12) WHERE c = $2", 10, &mut out);
        assert_eq!(out, "INSERT INTO t (a, b) VALUES ($11, $22) WHERE c = $12");
        // Appended to what `out` holds; a placeholder at the very end, a `$` with no digits, and
        // text after the last placeholder are kept.
        renumber(";\nUPDATE u SET x = $ + 1 WHERE y = $3", 4, &mut out);
        assert!(out.ends_with(";\nUPDATE u SET x = $ + 1 WHERE y = $7"), "{out}");
        // Leading zeros are read as the number; digits too many for a number are kept as sent.
        let mut odd = String::new();
        renumber("$01, $99999999999999999999999", 2, &mut odd);
        assert_eq!(odd, "$3, $99999999999999999999999");
        let mut tail = String::new();
        renumber("SELECT 'é' || $1 || 'ü'", 0, &mut tail);
        assert_eq!(tail, "SELECT 'é' || $1 || 'ü'");
    }
}
