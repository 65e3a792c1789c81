//! Deferred writes: the writes at the end of a use case, sent to PostgreSQL as ONE statement.
//!
//! PostgreSQL spends its CPU per statement (parse/bind/execute, a loopback round trip, a
//! wake-up), not per row. Once a payment (a charge, a refund, a transfer) is decided, what is
//! left is only writes whose outcome nobody reads back: the ledger transfers, the account and
//! shard sums, the payment row and its history, the callback, the Idempotency-Key's answer.
//! A unit queues them ([`Unit::defer`](super::Unit::defer)) and [`Unit::flush`] sends them as one
//! statement of data-modifying CTEs:
//!
//! ```sql
//! WITH w0 AS (INSERT INTO ledger_transfers … RETURNING 1),
//!      w1 AS (UPDATE ledger_accounts … RETURNING 1), …
//! SELECT (SELECT count(*) FROM w0) AS n0, (SELECT count(*) FROM w1) AS n1, …
//! ```
//!
//! Still in the use case's transaction, so it commits or rolls back with everything else.
//! What guards money still decides inside it: each step's row count comes back (a compare-and-set
//! that changed no row fails the unit with the step's error, like an insert of a ledger transfer
//! between accounts of two currencies), and a unique violation (another attempt that took the
//! invoice) fails the statement, named by the step it belongs to.
//!
//! Two rules keep one statement equal to the steps run one after another:
//! - The sub-statements of one statement all see the database as it was before it, and two of
//!   them changing one row leave only one change (PostgreSQL does not say which). So a step that
//!   changes an existing row names it ([`Step::row`]), and a second step on the same row first
//!   flushes the queue.
//! - A statement that reads what a queued step writes, or references its row by a foreign key,
//!   flushes first (`tx.flush()`); the use cases here read nothing after they queue.
//!
//! SQLite has no data-modifying CTEs: there a step runs at once, as before, and the queue is
//! always empty.

use sqlx::Row;

use super::Backend;
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

/// One write: an INSERT, UPDATE or DELETE with `$1`-style placeholders and no RETURNING.
pub(crate) struct Step {
    sql: &'static str,
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
    pub(crate) fn new(sql: &'static str, args: Vec<Arg>) -> Self {
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

    fn bind<'q, DB: Backend>(
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

    /// Runs the step as a statement of its own.
    pub(crate) async fn run<DB: Backend>(self, conn: &mut DB::Connection) -> StoreResult<()> {
        let done = Self::bind(&self.args, sqlx::query::<DB>(self.sql)).execute(&mut *conn).await;
        let rows = match done {
            Ok(done) => super::RowsAffected::rows_affected(&done),
            Err(e) => return Err(self.failed(e)),
        };
        self.check(rows)
    }

    fn check(self, rows: u64) -> StoreResult<()> {
        match self.unless_one {
            Some(error) if rows != 1 => Err(error),
            _ => Ok(()),
        }
    }

    /// The step's meaning of `e`, if `e` is a unique violation on its table.
    fn meaning(&self, e: &sqlx::Error) -> Option<StoreError> {
        let (table, map) = self.on_unique?;
        unique_violation_on(e, table).then(|| map(e))
    }

    fn failed(&self, e: sqlx::Error) -> StoreError {
        self.meaning(&e).unwrap_or_else(|| e.into())
    }
}

/// A unique violation on `table`: PostgreSQL names the table; SQLite names its columns
/// (`table.column`) in the message.
pub(crate) fn unique_violation_on(e: &sqlx::Error, table: &str) -> bool {
    let sqlx::Error::Database(db) = e else { return false };
    db.is_unique_violation() && (db.table() == Some(table) || db.message().contains(&format!(" {table}.")))
}

/// A unit's queued steps (always empty on SQLite).
#[derive(Default)]
pub(crate) struct Pipeline {
    steps: Vec<Step>,
}

impl Pipeline {
    /// Whether `step` must wait for what is queued to be sent first (it changes a row a queued
    /// step changes).
    pub(crate) fn conflicts(&self, step: &Step) -> bool {
        step.row.is_some() && self.steps.iter().any(|queued| queued.row == step.row)
    }

    pub(crate) fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Sends every queued step: one alone as itself, more as one statement of CTEs.
    pub(crate) async fn send<DB: Backend>(&mut self, conn: &mut DB::Connection) -> StoreResult<()> {
        let mut steps = std::mem::take(&mut self.steps);
        if steps.len() <= 1 {
            return match steps.pop() {
                Some(step) => step.run::<DB>(conn).await,
                None => Ok(()),
            };
        }
        let mut sql = String::from("WITH ");
        let mut offset = 0;
        for (i, step) in steps.iter().enumerate() {
            if i > 0 {
                sql.push_str(",\n");
            }
            sql.push_str(&format!("w{i} AS ("));
            renumber(step.sql, offset, &mut sql);
            sql.push_str(" RETURNING 1)");
            offset += step.args.len();
        }
        sql.push_str("\nSELECT ");
        for i in 0..steps.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(SELECT count(*) FROM w{i}) AS n{i}"));
        }
        let mut query = sqlx::query::<DB>(&sql);
        for step in &steps {
            query = Step::bind(&step.args, query);
        }
        let row = match query.fetch_one(&mut *conn).await {
            Ok(row) => row,
            Err(e) => {
                let meaning = steps.iter().find_map(|step| step.meaning(&e));
                return Err(meaning.unwrap_or_else(|| e.into()));
            }
        };
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
}

/// Appends `sql` to `out` with each placeholder `$n` written as `$(n + offset)`. The step SQL of
/// this crate has no `$` but in placeholders.
fn renumber(sql: &str, offset: usize, out: &mut String) {
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut n = String::new();
        while let Some(&(_, d)) = chars.peek() {
            if !d.is_ascii_digit() {
                break;
            }
            n.push(d);
            chars.next();
        }
        match n.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn placeholders_are_shifted_by_the_steps_before() {
        let mut out = String::new();
        renumber("INSERT INTO t (a, b) VALUES ($1, $12) WHERE c = $2", 10, &mut out);
        assert_eq!(out, "INSERT INTO t (a, b) VALUES ($11, $22) WHERE c = $12");
    }
}
