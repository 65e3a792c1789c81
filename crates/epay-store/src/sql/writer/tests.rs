//! The unit of work on both backends, and SQLite's group commit: shared COMMITs, a failing or
//! dropped unit that leaves its batch intact, a failed COMMIT that fails its whole batch, reads
//! on the read pool that see every answered write, two writers on one file.
//! `EPAY_TEST_BACKENDS` (e.g. `sqlite`) narrows the backends, as in the black-box suite.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, Row};
use tokio::task::JoinSet;

use super::super::pipeline::{self, statements, Step};
use super::super::test_store::{sqlite_test_url, wanted};
use super::super::{Backend, SqlStore};
use crate::{StoreError, StoreResult};

/// A table of the tests' own, whose `parent` is checked only at COMMIT: the one way to make a
/// COMMIT fail on demand, on both databases.
const SCHEMA: [&str; 2] = [
    "CREATE TABLE writer_parents (id TEXT PRIMARY KEY)",
    "CREATE TABLE writer_rows (id TEXT PRIMARY KEY,
         parent TEXT REFERENCES writer_parents (id) DEFERRABLE INITIALLY DEFERRED)",
];

async fn sqlite_store() -> SqlStore<sqlx::Sqlite> {
    let store = SqlStore::<sqlx::Sqlite>::connect(&sqlite_test_url("writer")).await.unwrap();
    // The store's own schema too: a unit's checked writes need `step_checks` (migration 0025).
    crate::ports::DatabasePort::migrate(&store).await.unwrap();
    create_schema(&store).await;
    store
}

async fn pg_store() -> SqlStore<sqlx::Postgres> {
    // The store's own schema too: a detached unit's counts are checked by its function
    // (migration 0027).
    let store = super::super::test_store::pg_store("writer").await;
    create_schema(&store).await;
    store
}

async fn create_schema<DB: Backend>(store: &SqlStore<DB>) {
    let mut tx = store.begin_unit().await.unwrap();
    for statement in SCHEMA {
        sqlx::query(statement).execute(&mut *tx).await.unwrap();
    }
    sqlx::query("INSERT INTO writer_parents (id) VALUES ('p')").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// Inserts `id` in one unit and commits it.
async fn insert<DB: Backend>(store: &SqlStore<DB>, id: &str, parent: &str) -> StoreResult<()> {
    let mut tx = store.begin_unit().await?;
    sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ($1, $2)").bind(id).bind(parent).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `id` is there, read on the read pool (a read-only connection on SQLite).
async fn present<DB: Backend>(store: &SqlStore<DB>, id: &str) -> bool {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM writer_rows WHERE id = $1").bind(id).fetch_one(&store.reads).await;
    row.unwrap().try_get::<i64, _>("n").unwrap() == 1
}

#[tokio::test]
async fn concurrent_units_share_commits() {
    if wanted("sqlite") {
        let store = Arc::new(sqlite_store().await);
        let before = store.group_commits().unwrap();
        let mut units = JoinSet::new();
        for i in 0..32 {
            let store = store.clone();
            units.spawn(async move { insert(&*store, &format!("r{i}"), "p").await });
        }
        while let Some(done) = units.join_next().await {
            done.unwrap().unwrap();
        }
        let commits = store.group_commits().unwrap() - before;
        for i in 0..32 {
            assert!(present(&*store, &format!("r{i}")).await, "r{i} committed and answered, so it is there");
        }
        assert!(commits < 32, "32 concurrent units took {commits} COMMITs: they did not share any");
        assert!(commits >= 1);
    }
    if wanted("postgres") {
        let store = Arc::new(pg_store().await);
        assert_eq!(store.group_commits(), None, "PostgreSQL units are their own transactions");
        let mut units = JoinSet::new();
        for i in 0..16 {
            let store = store.clone();
            units.spawn(async move { insert(&*store, &format!("r{i}"), "p").await });
        }
        while let Some(done) = units.join_next().await {
            done.unwrap().unwrap();
        }
        for i in 0..16 {
            assert!(present(&*store, &format!("r{i}")).await);
        }
    }
}

/// Units that run beside a unit whose statement fails (a duplicate key) and which returns its
/// error with `?`: its writes are gone, the others' are there.
async fn failing_unit_spares_its_batch<DB: Backend>(store: Arc<SqlStore<DB>>) {
    insert(&*store, "taken", "p").await.unwrap();
    let mut units = JoinSet::new();
    for i in 0..3 {
        let good = store.clone();
        units.spawn(async move { insert(&*good, &format!("good{i}"), "p").await });
        let failing = store.clone();
        units.spawn(async move {
            let mut tx = failing.begin_unit().await?;
            let bad = format!("bad{i}");
            sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ($1, 'p')").bind(&bad).execute(&mut *tx).await?;
            // Fails: `taken` exists. The `?` drops the unit.
            sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ('taken', 'p')").execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        });
    }
    let mut failed = 0;
    while let Some(done) = units.join_next().await {
        failed += usize::from(done.unwrap().is_err());
    }
    assert_eq!(failed, 3, "exactly the three failing units fail");
    for i in 0..3 {
        assert!(present(&*store, &format!("good{i}")).await, "good{i} was committed");
        assert!(!present(&*store, &format!("bad{i}")).await, "bad{i} belongs to a unit that failed");
    }
    insert(&*store, "after", "p").await.unwrap();
    assert!(present(&*store, "after").await);
}

#[tokio::test]
async fn failing_unit_spares_the_others() {
    if wanted("sqlite") {
        failing_unit_spares_its_batch(Arc::new(sqlite_store().await)).await;
    }
    if wanted("postgres") {
        failing_unit_spares_its_batch(Arc::new(pg_store().await)).await;
    }
}

/// A unit whose future is dropped after writing (a client that hung up): nothing of it stays,
/// a unit queued behind it commits, and so does the next one.
async fn dropped_unit_leaves_nothing<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let slow = {
        let store = store.clone();
        tokio::time::timeout(Duration::from_millis(50), async move {
            let mut tx = store.begin_unit().await.unwrap();
            sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ('dropped', 'p')")
                .execute(&mut *tx)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            tx.commit().await.unwrap();
        })
    };
    // Queued behind the slow unit on SQLite's write connection.
    let queued = {
        let store = store.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            insert(&*store, "queued", "p").await
        }
    };
    let (slow, queued) = tokio::join!(slow, queued);
    assert!(slow.is_err(), "the slow unit was cancelled");
    queued.unwrap();
    // Dropped between SAVEPOINT and RELEASE, in the middle of a statement's round trip.
    for attempt in 0..20 {
        let store = store.clone();
        let id = format!("cut{attempt}");
        let _ = tokio::time::timeout(Duration::from_micros(50 * attempt), async move {
            let mut tx = store.begin_unit().await?;
            sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ($1, 'p')").bind(&id).execute(&mut *tx).await?;
            sqlx::query("UPDATE writer_rows SET parent = 'p' WHERE id = $1").bind(&id).execute(&mut *tx).await?;
            StoreResult::Ok(())
        })
        .await;
    }
    insert(&*store, "next", "p").await.unwrap();
    assert!(!present(&*store, "dropped").await, "the dropped unit's row is gone");
    assert!(present(&*store, "queued").await);
    assert!(present(&*store, "next").await);
    for attempt in 0..20 {
        assert!(!present(&*store, &format!("cut{attempt}")).await, "cut{attempt} never committed");
    }
}

#[tokio::test]
async fn dropped_unit_leaves_nothing_behind() {
    if wanted("sqlite") {
        dropped_unit_leaves_nothing(Arc::new(sqlite_store().await)).await;
    }
    if wanted("postgres") {
        let store = Arc::new(pg_store().await);
        dropped_unit_leaves_nothing(store.clone()).await;
        // The dropped units' transactions were rolled back at once (`conns.rs`), not when their
        // connections are next lent: none is left open, holding its row locks.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let open: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
        )
        .fetch_one(&store.reads)
        .await
        .unwrap()
        .get("n");
        assert_eq!(open, 0, "a dropped unit's transaction is still open");
    }
}

/// A COMMIT that fails (a deferred foreign key to no parent) fails every unit of its batch on
/// SQLite, and none of them is written; on PostgreSQL only the guilty unit's own COMMIT fails.
/// Either way the next unit works.
#[tokio::test]
async fn failed_commit_fails_the_batch() {
    if wanted("sqlite") {
        let store = Arc::new(sqlite_store().await);
        let mut units = JoinSet::new();
        for (id, parent) in [("innocent", "p"), ("orphan", "nobody")] {
            let store = store.clone();
            units.spawn(async move { (id, insert(&*store, id, parent).await) });
        }
        while let Some(done) = units.join_next().await {
            let (id, outcome) = done.unwrap();
            let error = outcome.expect_err("a unit of a batch whose COMMIT failed must fail").to_string();
            assert!(error.contains("group commit failed"), "{id}: {error}");
        }
        assert!(!present(&*store, "innocent").await, "its batch was rolled back");
        assert!(!present(&*store, "orphan").await);
        insert(&*store, "after", "p").await.unwrap();
        assert!(present(&*store, "after").await);
    }
    if wanted("postgres") {
        let store = pg_store().await;
        assert!(insert(&store, "orphan", "nobody").await.is_err());
        insert(&store, "after", "p").await.unwrap();
        assert!(!present(&store, "orphan").await);
        assert!(present(&store, "after").await);
    }
}

/// Read-your-writes: a unit answered (committed) is seen at once by a read on the read pool,
/// another connection, however busy the writer is.
async fn write_then_read<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let mut workers = JoinSet::new();
    for w in 0..4 {
        let store = store.clone();
        workers.spawn(async move {
            for i in 0..40 {
                let id = format!("w{w}-{i}");
                insert(&*store, &id, "p").await.unwrap();
                assert!(present(&*store, &id).await, "{id} was committed, then not seen by a read");
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_see_every_answered_write() {
    if wanted("sqlite") {
        write_then_read(Arc::new(sqlite_store().await)).await;
    }
    if wanted("postgres") {
        write_then_read(Arc::new(pg_store().await)).await;
    }
}

/// Two stores (two gateway processes) on one SQLite file: both writers take turns through
/// `BEGIN IMMEDIATE` and the busy timeout, and nothing is lost.
#[tokio::test]
async fn two_writers_on_one_file() {
    if !wanted("sqlite") {
        return;
    }
    let url = sqlite_test_url("writer");
    let first = Arc::new(SqlStore::<sqlx::Sqlite>::connect(&url).await.unwrap());
    create_schema(&*first).await;
    let second = Arc::new(SqlStore::<sqlx::Sqlite>::connect(&url).await.unwrap());
    let mut units = JoinSet::new();
    for i in 0..20 {
        for (name, store) in [("a", first.clone()), ("b", second.clone())] {
            units.spawn(async move { insert(&*store, &format!("{name}{i}"), "p").await });
        }
    }
    while let Some(done) = units.join_next().await {
        done.unwrap().unwrap();
    }
    for i in 0..20 {
        assert!(present(&*first, &format!("b{i}")).await);
        assert!(present(&*second, &format!("a{i}")).await);
    }
}

/// A row of `writer_rows`, as a deferred step.
fn row_step(id: &str) -> Step {
    Step::new("INSERT INTO writer_rows (id, parent) VALUES ($1, $2)", vec![id.into(), "p".into()])
}

/// A change of row `id` (none if it is not there), as a deferred step that names its row.
fn touch_step(id: &str) -> Step {
    Step::new("UPDATE writer_rows SET parent = $2 WHERE id = $1", vec![id.into(), "p".into()])
        .row(format!("writer_rows:{id}"))
}

/// One unit that defers `steps` and finishes, as a use case does.
async fn run_deferred<DB: Backend>(store: &SqlStore<DB>, steps: Vec<Step>) -> StoreResult<()> {
    let mut tx = store.begin_unit().await?;
    for step in steps {
        tx.defer(step).await?;
    }
    tx.finish().await
}

/// A unit's deferred writes (`pipeline.rs`) go in one round trip and still fail the unit step by
/// step: a unique violation is the step's own refusal, a row count that is not one fails it with
/// the step's error (on SQLite where it is checked, in the query; on PostgreSQL once the
/// statement answered), and either way nothing of the unit stays.
async fn deferred_writes_keep_their_meaning<DB: Backend>(store: &SqlStore<DB>) {
    insert(store, "taken", "p").await.unwrap();
    // The same row twice (a flush first on PostgreSQL, in turn on SQLite).
    run_deferred(store, vec![row_step("d1"), row_step("d2"), touch_step("d1"), touch_step("d1")]).await.unwrap();
    assert!(present(store, "d1").await && present(store, "d2").await);

    let duplicate = |_: &sqlx::Error| StoreError::DuplicateInvoice;
    let steps = vec![row_step("d3"), row_step("taken").on_unique("writer_rows", duplicate), row_step("d4")];
    let refused = run_deferred(store, steps).await.unwrap_err();
    assert!(matches!(refused, StoreError::DuplicateInvoice), "{refused:?}");
    assert!(!present(store, "d3").await, "written before the failing step, in the unit that failed");
    assert!(!present(store, "d4").await);

    let steps = vec![row_step("d5"), touch_step("nobody").unless_one(StoreError::IdempotencyKeyLost), row_step("d6")];
    let lost = run_deferred(store, steps).await.unwrap_err();
    assert!(matches!(lost, StoreError::IdempotencyKeyLost), "{lost:?}");
    assert!(!present(store, "d5").await && !present(store, "d6").await, "the unit failed as a whole");

    insert(store, "after", "p").await.unwrap();
    assert!(present(store, "after").await);
}

#[tokio::test]
async fn deferred_writes_fail_the_unit_step_by_step() {
    if wanted("sqlite") {
        deferred_writes_keep_their_meaning(&sqlite_store().await).await;
    }
    if wanted("postgres") {
        deferred_writes_keep_their_meaning(&pg_store().await).await;
    }
}

/// PostgreSQL: a detached unit (a use case decided ahead) is ONE statement that is its own
/// transaction, so its row counts are checked inside it: a count that is not one, like a unique
/// violation, leaves nothing of any of its steps, and fails with the step's own error. Two steps
/// on one row cannot be one statement: such a unit is refused before anything is sent.
#[tokio::test]
async fn postgres_a_detached_unit_is_one_statement_checked_inside() {
    if !wanted("postgres") {
        return;
    }
    let store = pg_store().await;
    insert(&store, "taken", "p").await.unwrap();
    let send = |steps: Vec<Step>| {
        let store = &store;
        async move {
            let unit = super::Unit::<sqlx::Postgres>::detached(steps);
            let mut writes = unit.into_one_statement().expect("steps on rows of their own are one statement");
            writes.send_alone(&store.pool).await
        }
    };

    send(vec![row_step("s1"), row_step("s2")]).await.unwrap();
    assert!(present(&store, "s1").await && present(&store, "s2").await, "committed by the statement alone");

    let lost =
        send(vec![row_step("s3"), touch_step("nobody").unless_one(StoreError::IdempotencyKeyLost), row_step("s4")]);
    let lost = lost.await.unwrap_err();
    assert!(matches!(lost, StoreError::IdempotencyKeyLost), "{lost:?}");
    assert!(!present(&store, "s3").await && !present(&store, "s4").await, "the count ended the statement");

    let duplicate = |_: &sqlx::Error| StoreError::DuplicateInvoice;
    let refused = send(vec![row_step("s5"), row_step("taken").on_unique("writer_rows", duplicate)]).await.unwrap_err();
    assert!(matches!(refused, StoreError::DuplicateInvoice), "{refused:?}");
    assert!(!present(&store, "s5").await);

    let mut twice = super::Unit::<sqlx::Postgres>::detached([touch_step("s1")]);
    twice.defer(touch_step("s1")).await.unwrap();
    assert!(twice.into_one_statement().is_none(), "two changes of one row are not one statement");
    let mut apart = super::Unit::<sqlx::Postgres>::detached([touch_step("s1")]);
    apart.defer(touch_step("s2")).await.unwrap();
    assert!(apart.into_one_statement().is_some());
}

/// SQLite: a row count that is not one stops the query where it is checked, like a failing
/// statement: the steps after it do not run, so the error is the count's, not a later step's.
#[tokio::test]
async fn sqlite_counts_stop_the_query_where_they_are_checked() {
    if !wanted("sqlite") {
        return;
    }
    let store = sqlite_store().await;
    insert(&store, "taken", "p").await.unwrap();
    let duplicate = |_: &sqlx::Error| StoreError::DuplicateInvoice;
    let steps = vec![
        row_step("c1"),
        touch_step("nobody").unless_one(StoreError::IdempotencyKeyLost),
        row_step("taken").on_unique("writer_rows", duplicate),
    ];
    let stopped = run_deferred(&store, steps).await.unwrap_err();
    assert!(matches!(stopped, StoreError::IdempotencyKeyLost), "{stopped:?}");
    assert!(!present(&store, "c1").await, "the unit failed as a whole");
    // A count of one passes its check.
    run_deferred(&store, vec![row_step("c2"), touch_step("c2").unless_one(StoreError::IdempotencyKeyLost)])
        .await
        .unwrap();
    assert!(present(&store, "c2").await);
}

/// SQLite: the second unit of a batch runs in a savepoint, which `finish` releases in the same
/// round trip as its deferred writes. A unit that fails there must not have released it: the
/// first unit still commits, the failed one leaves nothing.
#[tokio::test]
async fn savepoint_units_release_with_their_writes() {
    if !wanted("sqlite") {
        return;
    }
    let store = Arc::new(sqlite_store().await);
    insert(&*store, "taken", "p").await.unwrap();
    let duplicate = |_: &sqlx::Error| StoreError::DuplicateInvoice;
    let cases: [(&str, Vec<Step>, bool); 3] = [
        ("ok", vec![row_step("s1"), row_step("s2")], true),
        ("dup", vec![row_step("s3"), row_step("taken").on_unique("writer_rows", duplicate)], false),
        ("lost", vec![row_step("s4"), touch_step("nobody").unless_one(StoreError::IdempotencyKeyLost)], false),
    ];
    for (i, (name, steps, succeeds)) in cases.into_iter().enumerate() {
        let before = store.group_commits().unwrap();
        // The first unit of a batch holds the write connection (no savepoint)…
        let mut first = store.begin_unit().await.unwrap();
        let first_id = format!("first{i}");
        sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ($1, 'p')")
            .bind(&first_id)
            .execute(&mut *first)
            .await
            .unwrap();
        // …while the second queues for it, and joins the same batch with a savepoint.
        let second = {
            let store = store.clone();
            tokio::spawn(async move { run_deferred(&*store, steps).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        first.commit().await.unwrap();
        let outcome = second.await.unwrap();
        assert_eq!(outcome.is_ok(), succeeds, "{name}: {outcome:?}");
        assert!(present(&*store, &first_id).await, "{name}: the first unit committed");
        if succeeds {
            assert_eq!(store.group_commits().unwrap() - before, 1, "{name}: both units in one COMMIT");
        }
    }
    assert!(present(&*store, "s1").await && present(&*store, "s2").await);
    assert!(!present(&*store, "s3").await, "its unit failed on a duplicate");
    assert!(!present(&*store, "s4").await, "its unit failed a row count");
    insert(&*store, "after", "p").await.unwrap();
    assert!(present(&*store, "after").await);
}

/// What the SQLite pipeline rests on (sqlx-sqlite 0.8): a query of several `;`-separated
/// statements binds each statement's `$n` from the one argument list by its number, answers
/// each statement's changes and rows in order, and stops at the first statement that fails.
#[tokio::test]
async fn sqlite_runs_several_statements_in_one_query() {
    if !wanted("sqlite") {
        return;
    }
    let store = sqlite_store().await;
    let mut tx = store.begin_unit().await.unwrap();
    let query = sqlx::query(
        "INSERT INTO writer_rows (id, parent) VALUES ($1, $2);
         UPDATE writer_rows SET parent = $2 WHERE id IN ($1, $3);
         SELECT id FROM writer_rows WHERE id IN ($1, $3) ORDER BY id;
         INSERT INTO writer_rows (id, parent) VALUES ($3, $2)",
    )
    .bind("m1")
    .bind("p")
    .bind("m2");
    let done = statements::<sqlx::Sqlite>(&mut *tx, query).await.unwrap();
    let changes: Vec<u64> = done.iter().skip(1).step_by(2).map(|d| d.rows_affected).collect();
    assert_eq!((done.len(), done[0].rows_affected, changes), (4, 1, vec![1, 1]));
    let ids: Vec<String> = done[2].rows.iter().map(|r| r.try_get("id").unwrap()).collect();
    assert_eq!(ids, ["m1"], "the third statement saw the first's row, not the fourth's");

    let failing = sqlx::query(
        "INSERT INTO writer_rows (id, parent) VALUES ($1, 'p');
         INSERT INTO writer_rows (id, parent) VALUES ($2, 'p');
         INSERT INTO writer_rows (id, parent) VALUES ($3, 'p')",
    )
    .bind("m3")
    .bind("m1")
    .bind("m4");
    let (failed, error) = statements::<sqlx::Sqlite>(&mut *tx, failing).await.map(|_| ()).unwrap_err();
    assert_eq!(failed, 1, "the second statement failed: {error}");
    assert!(pipeline::unique_violation_on(&error, "writer_rows"), "{error}");
    let left = sqlx::query("SELECT id FROM writer_rows WHERE id IN ('m3', 'm4')").fetch_all(&mut *tx).await.unwrap();
    assert_eq!(left.len(), 1, "the first ran, the third did not");
}

/// A unit opened with statements ([`super::Opening::open`]): on SQLite they go in one query with
/// what opens the unit (the batch's BEGIN for a lone unit, the unit's savepoint for one that
/// joins a batch), which is not among the answers. `id` is inserted and read back in it
/// (SQLite: two statements; PostgreSQL: one, `RETURNING`).
async fn open_with_insert<DB: Backend>(store: &SqlStore<DB>, id: &str) -> Result<super::Unit<DB>, sqlx::Error> {
    let (sql, answers) = match DB::ONE_TRIP {
        super::super::OneTrip::Statements => {
            ("INSERT INTO writer_rows (id, parent) VALUES ($1, 'p');\nSELECT id FROM writer_rows WHERE id = $1", 2)
        }
        super::super::OneTrip::WritableCte => ("INSERT INTO writer_rows (id, parent) VALUES ($1, 'p') RETURNING id", 1),
    };
    let (tx, done) = store.begin_opening().await?.open(sql, &[id.into()]).await?;
    assert_eq!(done.len(), answers, "one answer per statement of the opening, none for what it owed");
    let read: String = done[answers - 1].rows.first().expect("the row reads back").get("id");
    assert_eq!(read, id);
    Ok(tx)
}

async fn openings_keep_the_unit_whole<DB: Backend>(store: Arc<SqlStore<DB>>) {
    // Alone: the opening opens the batch.
    open_with_insert(&*store, "alone").await.unwrap().commit().await.unwrap();
    assert!(present(&*store, "alone").await);

    // Joining a batch another unit holds: the opening sets its savepoint.
    let mut first = store.begin_unit().await.unwrap();
    sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ('holder', 'p')").execute(&mut *first).await.unwrap();
    let before = store.group_commits();
    let joining = {
        let store = store.clone();
        tokio::spawn(async move { open_with_insert(&*store, "joined").await?.commit().await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    first.commit().await.unwrap();
    joining.await.unwrap().unwrap();
    assert!(present(&*store, "holder").await && present(&*store, "joined").await);
    if let (Some(before), Some(after)) = (before, store.group_commits()) {
        assert_eq!(after - before, 1, "the joining unit shared the holder's COMMIT");
    }

    // An opening that fails part-way (its insert is a duplicate) leaves nothing, and a unit of
    // the same batch still commits.
    let mut first = store.begin_unit().await.unwrap();
    sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ('holder2', 'p')").execute(&mut *first).await.unwrap();
    let failing = {
        let store = store.clone();
        tokio::spawn(async move {
            let sql = match DB::ONE_TRIP {
                super::super::OneTrip::Statements => {
                    "INSERT INTO writer_rows (id, parent) VALUES ($1, 'p');\nINSERT INTO writer_rows (id, parent) VALUES ($2, 'p')"
                }
                super::super::OneTrip::WritableCte => {
                    "WITH a AS (INSERT INTO writer_rows (id, parent) VALUES ($1, 'p'))
                     INSERT INTO writer_rows (id, parent) VALUES ($2, 'p')"
                }
            };
            store.begin_opening().await?.open(sql, &["half".into(), "alone".into()]).await.map(drop)
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    first.commit().await.unwrap();
    assert!(failing.await.unwrap().is_err(), "the duplicate fails the opening");
    assert!(present(&*store, "holder2").await, "the other unit of the batch committed");
    assert!(!present(&*store, "half").await, "nothing of the failed opening stays");

    // An opening dropped before it sent anything, and openings cut off in mid-round trip.
    drop(store.begin_opening().await.unwrap());
    for attempt in 0..20 {
        let store = store.clone();
        let id = format!("opening-cut{attempt}");
        let _ = tokio::time::timeout(Duration::from_micros(50 * attempt), async move {
            open_with_insert(&*store, &id).await.map(drop)
        })
        .await;
    }
    open_with_insert(&*store, "after").await.unwrap().commit().await.unwrap();
    assert!(present(&*store, "after").await);
    for attempt in 0..20 {
        assert!(!present(&*store, &format!("opening-cut{attempt}")).await, "a cut-off opening never committed");
    }
}

#[tokio::test]
async fn openings_go_with_what_opens_the_unit() {
    if wanted("sqlite") {
        openings_keep_the_unit_whole(Arc::new(sqlite_store().await)).await;
    }
    if wanted("postgres") {
        openings_keep_the_unit_whole(Arc::new(pg_store().await)).await;
    }
}

/// A detached unit of `steps` (`Unit::detached`) whose rows nobody reads, run by the store's
/// committer on the write connection's own handle (`inline_writes.rs`), as a use case decided
/// ahead is.
async fn run_detached(store: &SqlStore<sqlx::Sqlite>, steps: Vec<Step>) -> StoreResult<()> {
    let writer = store.writer.as_ref().expect("a SQLite file store has a writer");
    writer.run_detached_writes(super::Unit::detached(steps)).await
}

/// The same unit run through sqlx, answering the rows its last write returned (as a
/// single-statement write is, `write_one`).
async fn run_detached_for_rows(store: &SqlStore<sqlx::Sqlite>, steps: Vec<Step>) -> StoreResult<()> {
    let writer = store.writer.as_ref().expect("a SQLite file store has a writer");
    writer.run_detached(super::Unit::detached(steps)).await.map(drop)
}

/// SQLite: detached units handed to the committer together share its COMMITs with each other
/// and with locked units; one whose writes fail gets its own error and leaves nothing (not
/// even its writes before the failing one) while the units before and after it in the batch
/// commit. Units run on the connection's handle and through sqlx take turns in one batch.
#[tokio::test]
async fn detached_units_share_commits_and_fail_alone() {
    if !wanted("sqlite") {
        return;
    }
    let store = Arc::new(sqlite_store().await);
    insert(&*store, "taken", "p").await.unwrap();
    let before = store.group_commits().unwrap();
    let duplicate = |_: &sqlx::Error| StoreError::DuplicateInvoice;
    let mut units = JoinSet::new();
    for i in 0..24 {
        let store = store.clone();
        units.spawn(async move {
            let id = format!("u{i}");
            let touched = vec![row_step(&id), touch_step(&id).unless_one(StoreError::IdempotencyKeyLost)];
            let outcome = match i % 3 {
                0 => {
                    run_detached(&store, vec![row_step(&id), row_step("taken").on_unique("writer_rows", duplicate)])
                        .await
                }
                1 if i % 2 == 0 => run_detached(&store, touched).await,
                1 => run_detached_for_rows(&store, touched).await,
                _ => insert(&*store, &id, "p").await,
            };
            (i, outcome)
        });
    }
    while let Some(done) = units.join_next().await {
        let (i, outcome) = done.unwrap();
        match i % 3 {
            0 => assert!(matches!(outcome, Err(StoreError::DuplicateInvoice)), "u{i}: {outcome:?}"),
            _ => outcome.unwrap(),
        }
    }
    let commits = store.group_commits().unwrap() - before;
    for i in 0..24 {
        let id = format!("u{i}");
        assert_eq!(present(&*store, &id).await, i % 3 != 0, "{id}: only the failing units left nothing");
    }
    assert!(commits < 16, "16 units that wrote took {commits} COMMITs: they did not share any");

    // A count that is not one stops a detached unit too; the next one works.
    let lost =
        run_detached(&store, vec![row_step("c1"), touch_step("nobody").unless_one(StoreError::IdempotencyKeyLost)])
            .await
            .unwrap_err();
    assert!(matches!(lost, StoreError::IdempotencyKeyLost), "{lost:?}");
    run_detached(&store, vec![row_step("c2")]).await.unwrap();
    assert!(!present(&*store, "c1").await, "c1 belongs to a unit that failed");
    assert!(present(&*store, "c2").await);
    // So does it through sqlx.
    let lost = run_detached_for_rows(
        &store,
        vec![row_step("c3"), touch_step("nobody").unless_one(StoreError::IdempotencyKeyLost)],
    )
    .await
    .unwrap_err();
    assert!(matches!(lost, StoreError::IdempotencyKeyLost), "{lost:?}");
    assert!(!present(&*store, "c3").await, "c3 belongs to a unit that failed");
}

/// SQLite: a detached unit of a batch whose COMMIT fails is told so, with the batch's other
/// units, and nothing of the batch is written; the next unit works.
#[tokio::test]
async fn detached_units_hear_their_batch_fail() {
    if !wanted("sqlite") {
        return;
    }
    let store = sqlite_store().await;
    // Both handed over before the committer runs (it waits for this task to yield): one batch.
    let orphan = Step::new("INSERT INTO writer_rows (id, parent) VALUES ('orphan', 'nobody')", Vec::new());
    let both =
        async { tokio::join!(run_detached(&store, vec![row_step("innocent")]), run_detached(&store, vec![orphan])) };
    let (innocent, orphan) = tokio::time::timeout(Duration::from_secs(10), both).await.expect("both are answered");
    for outcome in [innocent, orphan] {
        let error = outcome.expect_err("a unit of a batch whose COMMIT failed must fail").to_string();
        assert!(error.contains("group commit failed"), "{error}");
    }
    assert!(!present(&store, "innocent").await, "its batch was rolled back");
    run_detached(&store, vec![row_step("after")]).await.unwrap();
    assert!(present(&store, "after").await);
}

/// SQLite: detached units handed over together run in one batch and share its one COMMIT,
/// with no locked unit to wake the committer.
#[tokio::test]
async fn detached_units_share_one_commit() {
    if !wanted("sqlite") {
        return;
    }
    let store = Arc::new(sqlite_store().await);
    let writer = store.writer.as_ref().unwrap();
    let (commits, units) = (writer.commits(), writer.units());
    let mut detached = JoinSet::new();
    for i in 0..32 {
        let store = store.clone();
        // This test's runtime has one thread: every task hands its unit over before the
        // committer, woken by the first, runs.
        detached.spawn(async move { run_detached(&store, vec![row_step(&format!("d{i}"))]).await });
    }
    let joined = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(done) = detached.join_next().await {
            done.unwrap().unwrap();
        }
    });
    joined.await.expect("every detached unit is answered");
    let writer = store.writer.as_ref().unwrap();
    assert_eq!(writer.units() - units, 32);
    assert_eq!(writer.commits() - commits, 1, "32 detached units handed over together took more than one COMMIT");
    for i in 0..32 {
        assert!(present(&*store, &format!("d{i}")).await);
    }
}

/// SQLite: a detached unit once handed to the committer runs and commits though the future
/// that handed it over is dropped (a client that hung up), as a released unit does; nothing
/// else wakes the committer.
#[tokio::test]
async fn detached_unit_commits_once_handed_over() {
    if !wanted("sqlite") {
        return;
    }
    let store = sqlite_store().await;
    // One poll hands the unit over; the future is then dropped before anything else runs (the
    // test's runtime has one thread, so the committer cannot have answered in between). A zero
    // timeout did this by racing the timer against the committer, and lost when the batch
    // committed within the timer's tick.
    let mut handing = Box::pin(run_detached(&store, vec![row_step("handed")]));
    let polled =
        std::future::poll_fn(|cx| std::task::Poll::Ready(std::future::Future::poll(handing.as_mut(), cx))).await;
    assert!(polled.is_pending(), "the future was dropped before its answer");
    drop(handing);
    let mut waited = 0;
    while !present(&store, "handed").await {
        assert!(waited < 500, "the handed-over unit never committed");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
}

/// SQLite: an error that ends the whole transaction (here a trigger's `RAISE(ROLLBACK)`) takes
/// the units already in the batch with it: the detached unit that ran before the failing one is
/// told its batch failed, not that it is durable, and nothing of either is written.
#[tokio::test]
async fn detached_units_hear_a_lost_batch() {
    if !wanted("sqlite") {
        return;
    }
    let store = sqlite_store().await;
    let mut tx = store.begin_unit().await.unwrap();
    sqlx::query(
        "CREATE TRIGGER writer_rows_lost BEFORE INSERT ON writer_rows WHEN NEW.id = 'lost'
         BEGIN SELECT RAISE(ROLLBACK, 'the whole transaction rolled back'); END",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let answers = tokio::time::timeout(Duration::from_secs(10), async {
        // Both handed over before the committer runs: one batch, `first` ahead of `lost`.
        tokio::join!(run_detached(&store, vec![row_step("first")]), run_detached(&store, vec![row_step("lost")]))
    });
    let (first, lost) = answers.await.expect("both are answered");
    let lost = lost.expect_err("the unit whose write rolled back the transaction fails").to_string();
    assert!(lost.contains("the whole transaction rolled back"), "{lost}");
    let first = first.expect_err("the transaction its batch was in is gone").to_string();
    assert!(first.contains("group commit failed"), "{first}");
    assert!(!present(&store, "first").await && !present(&store, "lost").await);
    run_detached(&store, vec![row_step("after")]).await.unwrap();
    assert!(present(&store, "after").await);
}

/// A unit's statement journal stays in memory on the write connection (`sqlite.rs`), also
/// after the migrations, which run with it on disk and set it back.
#[tokio::test]
async fn sqlite_units_journal_in_memory_after_migrating() {
    use crate::ports::DatabasePort;
    let store = sqlite_store().await;
    let temp_store = || async {
        let mut conn = store.pool.acquire().await.unwrap();
        sqlx::query("PRAGMA temp_store").fetch_one(&mut *conn).await.unwrap().get::<i64, _>(0)
    };
    // 2: MEMORY (FILE is 1, the default 0).
    assert_eq!(temp_store().await, 2);
    store.migrate().await.unwrap();
    assert_eq!(temp_store().await, 2, "back in memory after migrating");
}

/// The bundled SQLite is built with `.cargo/config.toml`'s `LIBSQLITE3_FLAGS`: no process-wide
/// page-cache group and no memory statistics, whose mutexes every connection's thread would
/// share (docs/performance.md). Built without them (another checkout's config, a libsqlite3-sys
/// that drops the variable), this fails instead of the gateway quietly getting slower.
#[tokio::test]
async fn sqlite_is_built_without_process_wide_locks() {
    let store = sqlite_store().await;
    let mut conn = store.pool.acquire().await.unwrap();
    let options: Vec<String> = sqlx::query("PRAGMA compile_options")
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{options:?}");
    assert!(!options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"), "{options:?}");
    assert!(options.iter().any(|o| o == "THREADSAFE=1"), "{options:?}");
}

/// A single-statement write (`write_one`: an abuse counter's count, a token spent on its own)
/// joins the writer's open batch on SQLite and shares its COMMIT, instead of waiting for the
/// batch to end and committing alone: with a unit holding the batch open, twelve such writes
/// queue, and once it commits they all run as units of one batch, each counted.
#[tokio::test]
async fn single_statement_writes_join_the_open_batch() {
    use crate::ports::TokensPort;
    if !wanted("sqlite") {
        return;
    }
    let store = Arc::new(sqlite_store().await);
    let writer = store.writer.as_ref().expect("SQLite has a writer");
    let (units_before, commits_before) = (writer.units(), writer.commits());
    let mut holding = store.begin_unit().await.unwrap();
    sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ('held', 'p')").execute(&mut *holding).await.unwrap();
    let mut writes = JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        writes.spawn(async move { store.abuse_count("k", 60_000, 1_000 + i, None).await.map(|w| w.counted) });
    }
    for i in 0..4 {
        let store = store.clone();
        writes.spawn(async move { store.spend_token(&format!("token-{i}"), 90_000, 1_000).await });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(writes.len(), 12);
    assert!(writes.try_join_next().is_none(), "no write is answered before the batch it joined commits");
    holding.commit().await.unwrap();
    while let Some(done) = writes.join_next().await {
        assert!(done.unwrap().unwrap(), "counted, or spent by this call");
    }
    let (units, commits) = (writer.units() - units_before, writer.commits() - commits_before);
    assert_eq!(units, 13, "the held unit and the twelve writes, each a unit of a batch");
    assert!(commits <= 2, "twelve writes queued behind one unit took {commits} COMMITs");
    let window = store.abuse_windows(&["k"], 1_000).await.unwrap();
    assert_eq!(window[0].1.failures, 8);
    assert!(!store.spend_token("token-0", 90_000, 2_000).await.unwrap(), "spent once");
}

/// A reservation alone (`abuse_count` with a ceiling, a detached unit that opens its batch:
/// `BEGIN`, its savepoint, the count, RELEASE in one query) answers with the count's own
/// RETURNING row: counted up to the ceiling, then refused, each answer durable.
#[tokio::test]
async fn a_lone_reservation_answers_with_its_count() {
    use crate::ports::TokensPort;
    if !wanted("sqlite") {
        return;
    }
    let store = sqlite_store().await;
    for expected in 1..=3 {
        let window = store.abuse_count("alone", 60_000, 1_000, Some(3)).await.unwrap();
        assert!(window.counted && window.failures == expected, "{window:?}");
        let seen = store.abuse_windows(&["alone"], 1_000).await.unwrap();
        assert_eq!(seen.first().map(|(_, w)| w.failures), Some(expected), "durable when answered");
    }
    let refused = store.abuse_count("alone", 60_000, 1_000, Some(3)).await.unwrap();
    assert!(!refused.counted && refused.failures == 3, "{refused:?}");
    assert!(store.spend_token("lone-token", 90_000, 1_000).await.unwrap(), "spent by this call");
    assert!(!store.spend_token("lone-token", 90_000, 1_000).await.unwrap(), "spent once");
}

/// A single-statement write that fails inside a batch others are in (here the second row of a
/// two-row insert meets a key already there) leaves nothing, not even its first row, and the
/// batch commits the other units: its RELEASE, sent with it, did not run, and its savepoint
/// undid it. `OR FAIL` keeps the rows a failing statement wrote before its error (SQLite's
/// default, ABORT, would undo them itself), so only the savepoint removes `half`.
#[tokio::test]
async fn a_failing_single_statement_write_leaves_nothing_and_spares_its_batch() {
    if !wanted("sqlite") {
        return;
    }
    let store = Arc::new(sqlite_store().await);
    let mut holding = store.begin_unit().await.unwrap();
    sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ('held', 'p')").execute(&mut *holding).await.unwrap();
    let write = |sql: &'static str| {
        let store = store.clone();
        tokio::spawn(async move { store.write_one(sql, Vec::new()).await })
    };
    let failing = write("INSERT OR FAIL INTO writer_rows (id, parent) VALUES ('half', 'p'), ('held', 'p')");
    let after = write("INSERT INTO writer_rows (id, parent) VALUES ('after', 'p') RETURNING id");
    tokio::time::sleep(Duration::from_millis(300)).await;
    holding.commit().await.unwrap();
    let Err(refused) = failing.await.unwrap() else { panic!("the second row's key is taken") };
    assert!(refused.to_string().contains("UNIQUE"), "{refused}");
    let rows = after.await.unwrap().expect("the next write runs in the same batch");
    assert_eq!(rows.len(), 1, "its RETURNING row comes back, not RELEASE's");
    assert!(present(&*store, "held").await && present(&*store, "after").await);
    assert!(!present(&*store, "half").await, "the failing write's first row was undone");
}

/// SQLite: while another process holds the file's write lock, a detached unit run on the
/// connection's handle does not wait for it on the runtime's thread (this test's runtime has
/// one: a wait there would stall every task, the one that lets the lock go included, for the
/// busy timeout of 10 s). The batch is opened through sqlx instead, whose thread waits; once
/// the other process commits, the unit commits.
#[tokio::test]
async fn a_unit_on_the_handle_waits_for_another_writer_off_the_runtime() {
    if !wanted("sqlite") {
        return;
    }
    let url = sqlite_test_url("writer");
    let store = Arc::new(SqlStore::<sqlx::Sqlite>::connect(&url).await.unwrap());
    create_schema(&*store).await;
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    sqlx::query("INSERT INTO writer_rows (id, parent) VALUES ('other', 'p')").execute(&mut other).await.unwrap();
    let started = std::time::Instant::now();
    let unit = {
        let store = store.clone();
        tokio::spawn(async move { run_detached(&store, vec![row_step("waited")]).await })
    };
    let releasing = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
        std::time::Instant::now()
    });
    let released = releasing.await.unwrap();
    unit.await.unwrap().unwrap();
    assert!(
        released.duration_since(started) < Duration::from_secs(3),
        "the other writer's task ran {:?} after the unit was handed over: the runtime's thread waited for the lock",
        released.duration_since(started)
    );
    assert!(present(&*store, "waited").await && present(&*store, "other").await);
}
