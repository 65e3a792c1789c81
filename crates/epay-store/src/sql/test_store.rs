//! Tests' SQLite store: a migrated database file of its own, with merchant `m1` and its terminal
//! `t1`, as the store's own tests of SQLite paths need.

use std::time::Duration;

use epay_domain::Secret;

use super::SqlStore;
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
    store
}

/// A payment write's callback builder that sends none.
pub(crate) fn no_callback(_: &Payment) -> Option<NewCallback> {
    None
}

/// Runs `write` while a unit holds the write connection with `change` (SQL) made and not yet
/// committed: `write` reads the database without it (the read-only connections cannot see it),
/// decides, and hands its writes to the committer, which runs them once the unit committed. For
/// the tests of use cases decided ahead (`read_ahead.rs`, `operate_ahead.rs`).
pub(crate) async fn behind_a_change<T: Send + 'static>(
    store: &SqlStore<sqlx::Sqlite>,
    change: Option<&str>,
    write: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let mut holder = store.begin_unit().await.unwrap();
    if let Some(change) = change {
        sqlx::query(change).execute(&mut *holder).await.unwrap();
    }
    let writing = tokio::spawn(write);
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.commit().await.unwrap();
    writing.await.unwrap()
}
