//! PostgreSQL: several nodes on one database. Rows that decide a write are locked
//! (`FOR UPDATE`), and background sweeps skip rows another node holds (`SKIP LOCKED`).

use std::future::Future;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgQueryResult};
use sqlx::Postgres;

use super::conns::{Conns, Settings};
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
    // On a standby, and in a session set read-only, `transaction_read_only` is on.
    const WRITABLE: Option<&'static str> = Some("SELECT current_setting('transaction_read_only') = 'off' AS writable");

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn run_migrations(conn: &mut Self::Connection) -> impl Future<Output = Result<(), MigrateError>> + Send + '_ {
        // `run_direct`, not `run`: sqlx's own way around `run`'s "Acquire is not general
        // enough" on a borrowed connection.
        MIGRATOR.run_direct(conn)
    }

    async fn on_handle<'c>(
        _conn: &'c mut Self::Connection,
        _f: &'c mut (dyn FnMut(&rusqlite::Connection) + Send),
    ) -> Result<bool, sqlx::Error> {
        // No writer on PostgreSQL: its units are transactions of their own.
        Ok(false)
    }
}

impl RowsAffected for PgQueryResult {
    fn rows_affected(&self) -> u64 {
        PgQueryResult::rows_affected(self)
    }
}

/// How long a connection to PostgreSQL is used before it is closed and another opened (sqlx's
/// pool default): a long-lived gateway follows a moved pooler, load balancer or primary.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

impl SqlStore<Postgres> {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        // No ping when a connection is given back, nor before every use: each is one more round
        // trip to the server. Only a connection that idled a while, or one lent before a lost
        // connection was seen, is pinged before it is lent (see `lost` and `conns.rs`), so a
        // database restart costs at most the one statement that finds it out.
        let settings = Settings {
            max: 16,
            acquire_timeout: Duration::from_secs(10),
            ping_when_worth: true,
            max_lifetime: Some(MAX_LIFETIME),
        };
        let pool = Conns::open(PgConnectOptions::from_str(url)?, settings).await?;
        // PostgreSQL reads and writes on the same connections; its server shares WAL flushes
        // between concurrent COMMITs by itself.
        Ok(SqlStore {
            reads: pool.clone(),
            pool,
            inline: None,
            writer: None,
            config: Default::default(),
            ahead: Default::default(),
        })
    }
}
