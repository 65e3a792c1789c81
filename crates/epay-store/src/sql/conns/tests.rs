//! The connection holder on real SQLite and PostgreSQL: waiters served in order, the maximum
//! and the timeout, a connection the database closed replaced, and a user dropped mid-way that
//! leaves nothing behind for the next one. `EPAY_TEST_BACKENDS` (e.g. `sqlite`) narrows the
//! backends, as in the black-box suite.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Connection, Executor, Postgres, Row, Sqlite};

use super::{Conns, Settings};
use crate::sql::Backend;

fn wanted(backend: &str) -> bool {
    std::env::var("EPAY_TEST_BACKENDS").map_or(true, |w| w.contains(backend))
}

fn settings(max: u32, ping_when_worth: bool) -> Settings {
    Settings { max, acquire_timeout: Duration::from_millis(300), ping_when_worth, max_lifetime: None }
}

async fn sqlite(max: u32) -> Conns<Sqlite> {
    let options = SqliteConnectOptions::from_str(&super::super::test_store::sqlite_test_url("conns"))
        .unwrap()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    let conns = Conns::open(options, settings(max, false)).await.unwrap();
    conns.execute("CREATE TABLE things (id TEXT PRIMARY KEY)").await.unwrap();
    conns
}

fn pg_admin_url() -> String {
    std::env::var("EPAY_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn pg(max: u32) -> Conns<Postgres> {
    pg_with(settings(max, true)).await
}

async fn pg_with(settings: Settings) -> Conns<Postgres> {
    let url = super::super::test_store::pg_test_database("conns").await;
    let options = PgConnectOptions::from_str(&url).unwrap();
    let conns = Conns::open(options, settings).await.unwrap();
    conns.execute("CREATE TABLE things (id TEXT PRIMARY KEY)").await.unwrap();
    conns
}

/// Polls `work` once (it sends what it can and waits for the answer), then drops it: a client
/// that hangs up mid-statement.
async fn poll_once_then_drop<F: Future>(work: F) {
    let mut work = pin!(work);
    poll_fn(|cx| {
        let _ = work.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
}

async fn count_things<DB: Backend>(conns: &Conns<DB>) -> i64 {
    sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM things").fetch_one(conns).await.unwrap().get("n")
}

/// Whether the connection `conns` lends next is inside a transaction someone else began:
/// PostgreSQL refuses SAVEPOINT outside a transaction block; SQLite refuses BEGIN inside a
/// transaction.
trait OpenTransaction: Backend {
    fn in_open_transaction(conns: &Conns<Self>) -> impl Future<Output = bool>;
}

impl OpenTransaction for Postgres {
    async fn in_open_transaction(conns: &Conns<Self>) -> bool {
        let mut conn = conns.acquire().await.unwrap();
        match conn.execute("SAVEPOINT probe").await {
            Ok(_) => true,
            Err(e) => {
                assert!(e.to_string().contains("transaction blocks"), "{e}");
                false
            }
        }
    }
}

impl OpenTransaction for Sqlite {
    async fn in_open_transaction(conns: &Conns<Self>) -> bool {
        let mut conn = conns.acquire().await.unwrap();
        match conn.execute("BEGIN").await {
            Ok(_) => {
                conn.execute("ROLLBACK").await.unwrap();
                false
            }
            Err(e) => {
                assert!(e.to_string().contains("within a transaction"), "{e}");
                true
            }
        }
    }
}

/// Waiters get the connection in the order they asked for it.
async fn waiters_are_served_in_order<DB: Backend>(conns: Conns<DB>) {
    let held = conns.acquire().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..4 {
        let (conns, order) = (conns.clone(), order.clone());
        waiters.push(tokio::spawn(async move {
            let conn = conns.acquire().await.unwrap();
            order.lock().unwrap().push(i);
            // Held a moment, so the next waiter cannot overtake by luck.
            tokio::time::sleep(Duration::from_millis(5)).await;
            drop(conn);
        }));
        // Each waiter queues before the next one starts.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(held);
    for waiter in waiters {
        waiter.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(conns.size(), 1, "one connection served them all");
}

/// At most `max` connections; one more user waits, then times out as the pool did.
async fn at_most_max_then_timeout<DB: Backend>(conns: Conns<DB>) {
    let first = conns.acquire().await.unwrap();
    let second = conns.acquire().await.unwrap();
    assert_eq!((conns.size(), conns.num_idle(), conns.max()), (2, 0, 2));
    let started = Instant::now();
    let third = conns.acquire().await;
    assert!(matches!(third, Err(sqlx::Error::PoolTimedOut)), "{:?}", third.err());
    assert!(started.elapsed() >= Duration::from_millis(290), "waited the acquire timeout");
    // A statement on the holder times out the same way.
    let statement = sqlx::query("SELECT 1").execute(&conns).await;
    assert!(matches!(statement, Err(sqlx::Error::PoolTimedOut)), "{:?}", statement.err());
    drop(first);
    assert_eq!((conns.size(), conns.num_idle()), (2, 1));
    sqlx::query("SELECT 1").execute(&conns).await.unwrap();
    drop(second);
    assert_eq!((conns.size(), conns.num_idle()), (2, 2));
}

/// A transaction dropped with a write done and another statement in flight: the next user finds
/// no transaction open and nothing of the dropped one.
async fn dropped_mid_statement_leaves_nothing<DB: OpenTransaction>(conns: Conns<DB>) {
    let mut tx = conns.begin_with(DB::BEGIN).await.unwrap();
    sqlx::query("INSERT INTO things (id) VALUES ('a')").execute(&mut *tx).await.unwrap();
    poll_once_then_drop(sqlx::query("INSERT INTO things (id) VALUES ('b')").execute(&mut *tx)).await;
    drop(tx);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!DB::in_open_transaction(&conns).await, "the dropped transaction is still open");
    assert_eq!(count_things(&conns).await, 0, "the dropped transaction's writes remain");
    assert_eq!(conns.size(), 1, "the connection was reused, not replaced");
    // And the connection still works for transactions.
    let mut tx = conns.begin_with(DB::BEGIN).await.unwrap();
    sqlx::query("INSERT INTO things (id) VALUES ('c')").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count_things(&conns).await, 1);
}

/// `begin_with` dropped right after sending BEGIN: sqlx does not count that transaction yet, so
/// without the holder's own mark the next user's statements would run inside it.
async fn dropped_mid_begin_leaves_nothing<DB: OpenTransaction>(conns: Conns<DB>) {
    for _ in 0..5 {
        poll_once_then_drop(conns.begin_with(DB::BEGIN)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!DB::in_open_transaction(&conns).await, "BEGIN of the dropped user is still open");
        sqlx::query("INSERT INTO things (id) VALUES ($1)")
            .bind(uuid::Uuid::new_v4().to_string())
            .execute(&conns)
            .await
            .unwrap();
    }
    assert_eq!(count_things(&conns).await, 5, "every write outside a transaction committed");
}

/// A single statement that will fail (a duplicate key), dropped before its answer is read: the
/// next user must neither receive that stranger's error nor find a transaction open after
/// beginning its own. Without the holder's mark, the connection would go back idle still owing
/// the error, which the next BEGIN would read as its own failure (a transaction sqlx does not
/// count, left open on the server).
async fn dropped_failing_statement_owes_the_next_user_nothing<DB: OpenTransaction>(conns: Conns<DB>) {
    sqlx::query("INSERT INTO things (id) VALUES ('dup')").execute(&conns).await.unwrap();
    for _ in 0..5 {
        poll_once_then_drop(sqlx::query("INSERT INTO things (id) VALUES ('dup')").execute(&conns)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut tx = conns.begin_with(DB::BEGIN).await.expect("the next user's BEGIN got someone else's error");
        sqlx::query("INSERT INTO things (id) VALUES ($1)")
            .bind(uuid::Uuid::new_v4().to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(!DB::in_open_transaction(&conns).await, "a transaction is left open");
    }
    assert_eq!(count_things(&conns).await, 6, "every committed write is there");
}

#[tokio::test]
async fn sqlite_dropped_failing_statement_owes_the_next_user_nothing() {
    if wanted("sqlite") {
        dropped_failing_statement_owes_the_next_user_nothing(sqlite(1).await).await;
    }
}

#[tokio::test]
async fn postgres_dropped_failing_statement_owes_the_next_user_nothing() {
    if wanted("postgres") {
        dropped_failing_statement_owes_the_next_user_nothing(pg(1).await).await;
    }
}

#[tokio::test]
async fn sqlite_waiters_are_served_in_order() {
    if wanted("sqlite") {
        waiters_are_served_in_order(sqlite(1).await).await;
    }
}

#[tokio::test]
async fn postgres_waiters_are_served_in_order() {
    if wanted("postgres") {
        waiters_are_served_in_order(pg(1).await).await;
    }
}

#[tokio::test]
async fn sqlite_at_most_max_then_timeout() {
    if wanted("sqlite") {
        at_most_max_then_timeout(sqlite(2).await).await;
    }
}

#[tokio::test]
async fn postgres_at_most_max_then_timeout() {
    if wanted("postgres") {
        at_most_max_then_timeout(pg(2).await).await;
    }
}

#[tokio::test]
async fn sqlite_dropped_mid_statement_leaves_nothing() {
    if wanted("sqlite") {
        dropped_mid_statement_leaves_nothing(sqlite(1).await).await;
    }
}

#[tokio::test]
async fn postgres_dropped_mid_statement_leaves_nothing() {
    if wanted("postgres") {
        dropped_mid_statement_leaves_nothing(pg(1).await).await;
    }
}

#[tokio::test]
async fn sqlite_dropped_mid_begin_leaves_nothing() {
    if wanted("sqlite") {
        dropped_mid_begin_leaves_nothing(sqlite(1).await).await;
    }
}

#[tokio::test]
async fn postgres_dropped_mid_begin_leaves_nothing() {
    if wanted("postgres") {
        dropped_mid_begin_leaves_nothing(pg(1).await).await;
    }
}

/// Terminates the server process behind the connection `conns` lends next, and returns its pid.
async fn terminate_next_backend(conns: &Conns<Postgres>) -> i32 {
    let pid = backend_pid(conns).await;
    terminate(pid).await;
    pid
}

/// Held by each test that notes a lost connection (or a write refused as read-only) or counts
/// the pings that such notes cause: the notes are the process's (`lost.rs`), so two of these
/// tests at once would see each other's, and ping or close connections the other did not expect.
static LOSSES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Terminates the server processes `pids` together, and waits until they are gone.
async fn terminate_all(pids: &[i32]) {
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM unnest($1::int4[]) AS pid")
        .bind(pids)
        .execute(&mut admin)
        .await
        .unwrap();
    for _ in 0..100 {
        let alive: i64 = sqlx::query("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE pid = ANY($1::int4[])")
            .bind(pids)
            .fetch_one(&mut admin)
            .await
            .unwrap()
            .get("n");
        if alive == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Terminates the server process `pid`, and waits until it is gone.
async fn terminate(pid: i32) {
    terminate_all(&[pid]).await;
}

async fn backend_pid(conns: &Conns<Postgres>) -> i32 {
    sqlx::query("SELECT pg_backend_pid() AS pid").fetch_one(conns).await.unwrap().get("pid")
}

/// A statement that meets a connection the server closed fails (once), and the connection is
/// closed instead of given back: the next statement gets a new one, without any ping.
#[tokio::test]
async fn postgres_closed_connection_is_replaced() {
    if !wanted("postgres") {
        return;
    }
    let _alone = LOSSES.lock().await;
    // Never pinged: only the failed statement can tell the connection is dead.
    let mut conns = pg(1).await;
    Arc::get_mut(&mut conns.shared).unwrap().settings.ping_when_worth = false;
    let dead = terminate_next_backend(&conns).await;
    let failed = sqlx::query("SELECT 1").execute(&conns).await;
    assert!(crate::lost::is_connection_lost(failed.as_ref().unwrap_err()), "{failed:?}");
    assert_eq!(conns.size(), 0, "the dead connection was closed");
    let fresh = backend_pid(&conns).await;
    assert_ne!(fresh, dead);
    assert_eq!(backend_pid(&conns).await, fresh, "the new connection is kept");
    assert_eq!(conns.pinged(), 0);
}

/// A transaction's own statement meets the closed connection (the holder does not see that
/// error): the dropped transaction's connection is rolled back by a task, which finds it closed
/// and closes it; the next user gets a new connection.
#[tokio::test]
async fn postgres_connection_lost_inside_a_transaction_is_replaced() {
    if !wanted("postgres") {
        return;
    }
    let _alone = LOSSES.lock().await;
    let conns = pg(1).await;
    let mut tx = conns.begin_with("BEGIN").await.unwrap();
    let dead: i32 = sqlx::query("SELECT pg_backend_pid() AS pid").fetch_one(&mut *tx).await.unwrap().get("pid");
    terminate(dead).await;
    let failed = sqlx::query("SELECT 1").execute(&mut *tx).await;
    let error = failed.unwrap_err();
    assert!(crate::lost::is_connection_lost(&error), "{error}");
    drop(tx);
    let fresh = backend_pid(&conns).await;
    assert_ne!(fresh, dead);
    assert_eq!(conns.size(), 1);
}

/// The database closes every connection; the first statement finds its own closed, and once
/// that loss is noted (as `StoreError::from` does), the other idle connections are pinged and
/// replaced before they are lent: no second statement fails.
#[tokio::test]
async fn postgres_idle_connections_are_pinged_after_a_loss() {
    if !wanted("postgres") {
        return;
    }
    let _alone = LOSSES.lock().await;
    let conns = pg(3).await;
    let held: Vec<_> = futures_join3(&conns).await;
    let pids: Vec<i32> = {
        let mut pids = Vec::new();
        for mut conn in held {
            let pid: i32 =
                sqlx::query("SELECT pg_backend_pid() AS pid").fetch_one(&mut *conn).await.unwrap().get("pid");
            pids.push(pid);
        }
        pids
    };
    assert_eq!((conns.size(), conns.num_idle()), (3, 3));
    // All three at once: idle past `PING_AFTER_IDLE` (a second), a connection would be pinged
    // before it is lent whatever was noted, and the loss below would not be met.
    terminate_all(&pids).await;
    let error = sqlx::query("SELECT 1").execute(&conns).await.unwrap_err();
    assert!(crate::lost::is_connection_lost(&error), "{error}");
    crate::lost::note(&error);
    let pinged = conns.pinged();
    for _ in 0..3 {
        let pid = backend_pid(&conns).await;
        assert!(!pids.contains(&pid), "a closed connection was lent again");
    }
    assert!(conns.pinged() >= pinged + 2, "the two other idle connections were pinged");
    assert_eq!(conns.size(), 1, "the closed ones were closed, one new one serves");
}

/// Three connections lent at once, so three are open.
async fn futures_join3(conns: &Conns<Postgres>) -> Vec<super::Conn<Postgres>> {
    vec![conns.acquire().await.unwrap(), conns.acquire().await.unwrap(), conns.acquire().await.unwrap()]
}

/// Busy connections are not pinged, neither when lent nor when given back.
#[tokio::test]
async fn postgres_busy_connections_are_not_pinged() {
    if !wanted("postgres") {
        return;
    }
    let _alone = LOSSES.lock().await;
    let conns = pg(2).await;
    let (lent, pinged) = (conns.lent(), conns.pinged());
    for _ in 0..20 {
        backend_pid(&conns).await;
        let tx = conns.begin_with("BEGIN").await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(conns.lent() - lent, 40);
    // A loss noted by a concurrent test may cost a ping; a ping per use would be 40.
    assert!(conns.pinged() - pinged <= 2, "{} pings", conns.pinged() - pinged);
}

/// Sessions still connected to a server that can no longer write (a primary demoted without a
/// restart, a server set read-only) answer pings, but every write fails (SQLSTATE 25006). The
/// write that meets one fails (once), counts as a lost connection (a retryable 503) and closes
/// it; the other idle sessions opened before that refusal are checked before they are lent and
/// closed too, so the next write gets a new connection (which the database's URL routes to the
/// primary) and succeeds.
#[tokio::test]
async fn postgres_read_only_sessions_are_replaced() {
    if !wanted("postgres") {
        return;
    }
    let _alone = LOSSES.lock().await;
    let conns = pg(2).await;
    let (mut a, mut b) = (conns.acquire().await.unwrap(), conns.acquire().await.unwrap());
    let mut left_behind = Vec::new();
    for conn in [&mut a, &mut b] {
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").await.unwrap();
        let pid: i32 = sqlx::query("SELECT pg_backend_pid() AS pid").fetch_one(&mut **conn).await.unwrap().get("pid");
        left_behind.push(pid);
    }
    // The write meets one of them (on the held connection, so no other test's noted loss can
    // have the holder check and replace it first).
    let refused = sqlx::query("INSERT INTO things (id) VALUES ('first')").execute(&mut *b).await;
    b.observe(&refused);
    let refused = refused.unwrap_err();
    assert!(crate::lost::is_connection_lost(&refused), "a read-only refusal counts as lost: {refused}");
    // Noted as every store call's error is (`StoreError::from`).
    let _ = crate::StoreError::from(refused);
    drop((a, b));
    assert_eq!(conns.num_idle(), 1, "the session that refused was closed");

    sqlx::query("INSERT INTO things (id) VALUES ('second')").execute(&conns).await.unwrap();
    let pid = backend_pid(&conns).await;
    assert!(!left_behind.contains(&pid), "a read-only session was lent again");
    assert_eq!(conns.size(), 1, "both read-only sessions were closed, one new connection serves");
    let written: i64 = sqlx::query("SELECT COUNT(*) AS n FROM things").fetch_one(&conns).await.unwrap().get("n");
    assert_eq!(written, 1, "only the write after the refusal is there");
}

/// When the database itself is read-only, new connections are too: one opened after the last
/// refusal is kept when checked (reads go on without a new connection each time), not closed
/// and opened again for every check.
#[tokio::test]
async fn postgres_read_only_database_does_not_churn_connections() {
    if !wanted("postgres") {
        return;
    }
    let _alone = LOSSES.lock().await;
    let conns = pg(1).await;
    let mut old = conns.acquire().await.unwrap();
    old.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").await.unwrap();
    let refused = sqlx::query("INSERT INTO things (id) VALUES ('x')").execute(&mut *old).await;
    old.observe(&refused);
    let _ = crate::StoreError::from(refused.unwrap_err());
    drop(old);
    // A connection opened after the refusal, read-only as the database now is.
    let mut young = conns.acquire().await.unwrap();
    young.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").await.unwrap();
    let pid: i32 = sqlx::query("SELECT pg_backend_pid() AS pid").fetch_one(&mut *young).await.unwrap().get("pid");
    drop(young);
    // Another loss is noted (anywhere): the idle connection is checked before it is lent.
    crate::lost::note(&sqlx::Error::Io(std::io::Error::other("a loss elsewhere")));
    let checked = conns.pinged();
    assert_eq!(backend_pid(&conns).await, pid, "the young read-only connection was kept");
    assert!(conns.pinged() > checked, "it was checked");
    assert_eq!(conns.size(), 1);
}

/// A connection older than `max_lifetime` is closed when next given back or found idle, and
/// replaced; younger ones are kept.
#[tokio::test]
async fn postgres_connections_are_replaced_after_their_lifetime() {
    if !wanted("postgres") {
        return;
    }
    let _alone = LOSSES.lock().await;
    // A lifetime of 360–400 ms (each connection's is spread over its last tenth).
    let conns = pg_with(Settings { max_lifetime: Some(Duration::from_millis(400)), ..settings(1, true) }).await;
    let first = backend_pid(&conns).await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    // Found idle past its lifetime: closed unused.
    let second = backend_pid(&conns).await;
    assert_ne!(second, first, "an idle connection past its lifetime was lent");
    assert_eq!(backend_pid(&conns).await, second, "a young connection is kept");
    // Given back past its lifetime: closed then.
    let mut held = conns.acquire().await.unwrap();
    tokio::time::sleep(Duration::from_millis(450)).await;
    sqlx::query("SELECT 1").execute(&mut *held).await.unwrap();
    drop(held);
    assert_eq!((conns.size(), conns.num_idle()), (0, 0), "closed when given back");
    assert_ne!(backend_pid(&conns).await, second);
}
