//! PostgreSQL: several nodes on one database. Rows that decide a write are locked
//! (`FOR UPDATE`), and background sweeps skip rows another node holds (`SKIP LOCKED`).

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgPoolOptions, PgQueryResult};
use sqlx::{Pool, Postgres};

use super::{migrations, Backend, OneTrip, RowsAffected, SqlStore};
use crate::StoreResult;

static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| migrations::migrator(migrations::POSTGRES));

impl Backend for Postgres {
    const BACKEND: &'static str = "postgres";
    const SKIP_LOCKED: &'static str = "FOR UPDATE SKIP LOCKED";
    const SKIP_LOCKED_PAYMENTS: &'static str = "FOR UPDATE OF p SKIP LOCKED";
    const FOR_UPDATE: &'static str = "FOR UPDATE";
    const BEGIN: &'static str = "BEGIN";
    const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    const ONE_TRIP: OneTrip = OneTrip::WritableCte;

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn run_migrations(pool: &Pool<Self>) -> impl Future<Output = Result<(), MigrateError>> + Send {
        MIGRATOR.run(pool)
    }
}

impl RowsAffected for PgQueryResult {
    fn rows_affected(&self) -> u64 {
        PgQueryResult::rows_affected(self)
    }
}

impl SqlStore<Postgres> {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        // No ping before every acquire (sqlx's default): it is one more round trip to the server
        // for every statement outside a transaction. Only a connection that idled a while, or
        // one that went idle before a lost connection was seen, is pinged (see `lost`), so a
        // database restart costs at most the one statement that finds it out.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if crate::lost::worth_a_ping(&meta) {
                        use sqlx::Connection;
                        if let Err(e) = conn.ping().await {
                            crate::lost::note(&e);
                            return Ok(false);
                        }
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        // PostgreSQL reads and writes on one pool; its server shares WAL flushes between
        // concurrent COMMITs by itself.
        Ok(SqlStore { reads: pool.clone(), pool, writer: None, config: Default::default() })
    }
}
