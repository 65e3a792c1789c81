//! The database itself: its name, its migrations, its health.

use async_trait::async_trait;
use sqlx::Row;

use super::{Backend, SqlStore};
use crate::model::*;
use crate::ports::DatabasePort;
use crate::StoreResult;

#[async_trait]
impl<DB: Backend> DatabasePort for SqlStore<DB> {
    fn backend(&self) -> &'static str {
        DB::BACKEND
    }

    async fn health(&self) -> StoreResult<StoreHealth> {
        let applied = "SELECT CAST(COUNT(*) AS BIGINT) AS applied FROM _sqlx_migrations WHERE success";
        // A read, so safe to retry: when it met a connection the database closed, the
        // retry's connection is checked first (see `lost`), and readiness recovers on
        // the first probe after the database is back.
        let row = match sqlx::query(applied).fetch_one(&self.pool).await {
            Err(e) if crate::lost::is_connection_lost(&e) => {
                crate::lost::note(&e);
                sqlx::query(applied).fetch_one(&self.pool).await?
            }
            other => other?,
        };
        Ok(StoreHealth {
            migrations_applied: row.try_get::<i64, _>("applied")? as usize,
            migrations_known: DB::migrator().migrations.len(),
            pool_size: self.pool.size(),
            pool_idle: self.pool.num_idle(),
            pool_max: self.pool.max(),
        })
    }

    fn group_commit_stats(&self) -> Option<GroupCommitStats> {
        self.writer.as_ref().map(|w| GroupCommitStats { commits: w.commits(), units: w.units() })
    }

    fn read_ahead_stats(&self) -> ReadAheadStats {
        self.ahead.stats()
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        DB::run_migrations(&mut conn).await?;
        Ok(())
    }
}
