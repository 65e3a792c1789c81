//! The database itself: which one, its schema, its health.

use async_trait::async_trait;

use crate::{GroupCommitStats, ReadAheadStats, StoreHealth, StoreResult};

#[async_trait]
pub trait DatabasePort: Send + Sync + 'static {
    /// Which adapter this is (`sqlite` or `postgres`), for logs and readiness.
    fn backend(&self) -> &'static str;

    async fn migrate(&self) -> StoreResult<()>;

    /// Readiness and pool usage: fails if the database does not answer.
    async fn health(&self) -> StoreResult<StoreHealth>;

    /// SQLite's group-commit writer's counts; `None` on PostgreSQL, where each unit commits itself.
    fn group_commit_stats(&self) -> Option<GroupCommitStats>;

    /// Use cases decided ahead of their writes (`sql/read_ahead.rs`), on either database.
    fn read_ahead_stats(&self) -> ReadAheadStats;
}
