//! Tests' SQLite store: a migrated database file of its own, with merchant `m1` and its terminal
//! `t1`, as the store's own tests of SQLite paths need.

use std::time::Duration;

use epay_domain::Secret;

use super::{Backend, SqlStore};
use crate::model::{Merchant, NewCallback, Payment, Terminal};
use crate::ports::{DatabasePort, MerchantsPort};

/// A path for a new SQLite file named after `what`, in a directory of the store's tests (one per
/// user) under the temporary directory. The store's tests make their files there (with their
/// `-wal` and `-shm`) and none can remove its own while its store may still be open, so the first
/// call of each test process removes what earlier runs left: files untouched for a day (nextest
/// ends a test after ten minutes, `.config/nextest.toml`).
pub(crate) fn sqlite_test_path(what: &str) -> std::path::PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let user = std::env::var("USER").unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("epay-store-tests-{user}"));
    SWEPT.call_once(|| {
        let _ = std::fs::create_dir_all(&dir);
        let Ok(entries) = std::fs::read_dir(&dir) else { return };
        let day_ago = std::time::SystemTime::now() - Duration::from_secs(24 * 3600);
        for entry in entries.flatten() {
            let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|modified| modified < day_ago);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    });
    dir.join(format!("epay-{what}-{}.sqlite", uuid::Uuid::new_v4().simple()))
}

/// The `sqlite://` URL of a new file at [`sqlite_test_path`] (not yet created).
pub(crate) fn sqlite_test_url(what: &str) -> String {
    format!("sqlite://{}", sqlite_test_path(what).display())
}

/// A new SQLite file ([`sqlite_test_path`], named after `what`), migrated, with merchant `m1`
/// (client id `what`) and terminal `t1`.
pub(crate) async fn sqlite_file_store(what: &str) -> SqlStore<sqlx::Sqlite> {
    let store = SqlStore::<sqlx::Sqlite>::connect(&sqlite_test_url(what)).await.unwrap();
    seed(&store, what).await;
    store
}

/// A new PostgreSQL database (named after `what`) on the server of `EPAY_TEST_PG_URL`, migrated,
/// with merchant `m1` (client id `what`) and terminal `t1`.
pub(crate) async fn pg_store(what: &str) -> SqlStore<sqlx::Postgres> {
    let store = SqlStore::<sqlx::Postgres>::connect(&pg_test_database(what).await).await.unwrap();
    seed(&store, what).await;
    store
}

/// The URL of a new, empty PostgreSQL database for a store test, `epay_<what>_<uuid>`, on the
/// server of `EPAY_TEST_PG_URL`. It is left behind: a test cannot drop it while its store may
/// still be connected. (Sweeping old ones from each test process was tried: nextest runs every
/// test in a process of its own, and dozens of concurrent DROP DATABASEs, each a checkpoint,
/// slowed connections enough to time a pool test out.)
pub(crate) async fn pg_test_database(what: &str) -> String {
    use sqlx::Connection;
    let admin_url =
        std::env::var("EPAY_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("PostgreSQL must be reachable");
    let name = format!("epay_{}_{}", what.replace('-', "_"), uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    let root = admin_url.rsplit_once('/').map_or(admin_url.clone(), |(r, _)| r.to_string());
    format!("{root}/{name}")
}

/// Runs each named test, `async fn name<DB: Backend>(store: Arc<SqlStore<DB>>)`, on both
/// databases, as `name::sqlite` and `name::postgres`: each on a new store named after `$what`
/// ([`sqlite_file_store`], [`pg_store`]) that `$setup`, an `async fn<DB: Backend>(SqlStore<DB>) ->
/// Arc<SqlStore<DB>>` of the calling module, prepares. `EPAY_TEST_BACKENDS` narrows PostgreSQL
/// out ([`wanted`]).
macro_rules! on_both {
    ($what:literal, $setup:ident; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let store = crate::sql::test_store::sqlite_file_store($what).await;
                super::$name(super::$setup(store).await).await;
            }

            #[tokio::test]
            async fn postgres() {
                if crate::sql::test_store::wanted("postgres") {
                    let store = crate::sql::test_store::pg_store($what).await;
                    super::$name(super::$setup(store).await).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both;

/// Whether the tests of `backend` run here (`EPAY_TEST_BACKENDS`, as in the black-box suite:
/// both when unset).
pub(crate) fn wanted(backend: &str) -> bool {
    std::env::var("EPAY_TEST_BACKENDS").map_or(true, |w| w.contains(backend))
}

/// Migrates `store` and adds merchant `m1` (client id `what`) and its terminal `t1`.
async fn seed<DB: Backend>(store: &SqlStore<DB>, what: &str) {
    store.migrate().await.unwrap();
    let merchant = Merchant {
        id: "m1".into(),
        name: what.into(),
        client_id: what.into(),
        secret_digest: Secret::from("digest".to_string()),
        webhook_secret: Secret::from("whsec".to_string()),
        token_generation: 1,
    };
    let terminal =
        Terminal { id: "t1".into(), merchant_id: "m1".into(), pos_id: "00000001".into(), ..Default::default() };
    store.upsert_merchant(&merchant, &[terminal]).await.unwrap();
}

/// A payment write's callback builder that sends none.
pub(crate) fn no_callback(_: &Payment) -> Option<NewCallback> {
    None
}

/// Runs `write` while a unit holds the write connection (SQLite) or its own transaction
/// (PostgreSQL) with `change` (SQL, `;`-separated statements) made and not yet committed: `write` reads the database
/// without it (SQLite's read-only connections, and PostgreSQL's other sessions, cannot see it),
/// decides, and sends its writes, which run once the unit committed (SQLite's committer waits for
/// the connection; PostgreSQL's statement waits for the rows the unit changed). For the tests of
/// use cases decided ahead (`read_ahead.rs`, `operate_ahead.rs`).
pub(crate) async fn behind_a_change<DB: Backend, T: Send + 'static>(
    store: &SqlStore<DB>,
    change: Option<&str>,
    write: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let mut holder = store.begin_unit().await.unwrap();
    // One statement at a time: PostgreSQL prepares each, and a prepared statement is one.
    for statement in change.iter().flat_map(|change| change.split(';')).filter(|s| !s.trim().is_empty()) {
        sqlx::query::<DB>(statement).execute(&mut *holder).await.unwrap();
    }
    let writing = tokio::spawn(write);
    tokio::time::sleep(Duration::from_millis(300)).await;
    if DB::BACKEND == "postgres" {
        // The write's reads, which wait for nothing, done: a slow machine must not let the unit
        // commit before the write has read around it.
        until_a_lock_wait(store).await;
    }
    holder.commit().await.unwrap();
    writing.await.unwrap()
}

/// PostgreSQL: returns once a session of `store`'s database waits for a row lock, or after five
/// seconds.
pub(crate) async fn until_a_lock_wait<DB: Backend>(store: &SqlStore<DB>) {
    let waiting = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'";
    for _ in 0..50 {
        let row = sqlx::query::<DB>(waiting).fetch_one(&store.reads).await.unwrap();
        if sqlx::Row::try_get::<i64, _>(&row, "n").unwrap() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
