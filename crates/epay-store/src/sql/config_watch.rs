//! Keeps this node's config cache (`config_cache.rs`) in step with the database while the
//! gateway runs: two background tasks, started by `MerchantsPort::watch_config` and stopped by
//! the gateway's stop signal.
//!
//! - **The poll**, on both backends: reads `config_version` (migration 0018) every
//!   [`POLL_INTERVAL`]. A version not seen before empties the cache, and each successful read
//!   keeps it servable for [`CONFIG_STALENESS`]; a failed read turns it off (every read goes to
//!   the database) until a read succeeds again. This alone bounds staleness, with several nodes
//!   on one PostgreSQL or several gateways on one SQLite file.
//! - **Notifications**, on PostgreSQL: the version's trigger sends `NOTIFY epay_config` at
//!   commit, and every node LISTENs on a connection of its own, so a change reaches the other
//!   nodes in milliseconds rather than at the next poll. A lost listening connection is opened
//!   again, and the cache emptied each time listening starts (what was sent meanwhile is lost).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{Pool, Postgres, Row, Sqlite};

use super::config_cache::{ConfigCache, CONFIG_STALENESS, POLL_INTERVAL};
use super::conns::Conns;
use super::Backend;

/// The PostgreSQL channel the version trigger notifies (migration 0018).
pub const CHANNEL: &str = "epay_config";

/// How long a node waits before listening again after its listening connection failed.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

/// Tells the background tasks to stop (the gateway's graceful shutdown).
pub type StopSignal = tokio::sync::watch::Receiver<bool>;

async fn stopped(stop: &mut StopSignal) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// How a backend tells a node at once that another changed the configuration, besides the poll.
pub trait ConfigNotifications: sqlx::Database {
    /// Empties `cache` whenever another node (or this one) commits a change, until `stop`.
    fn listen(pool: Conns<Self>, cache: Arc<ConfigCache>, stop: StopSignal) -> impl Future<Output = ()> + Send;
}

/// SQLite has no notifications: the poll is the only signal.
impl ConfigNotifications for Sqlite {
    async fn listen(_pool: Conns<Self>, _cache: Arc<ConfigCache>, mut stop: StopSignal) {
        stopped(&mut stop).await;
    }
}

impl ConfigNotifications for Postgres {
    async fn listen(pool: Conns<Self>, cache: Arc<ConfigCache>, mut stop: StopSignal) {
        // A connection of its own, outside the store's (`conns.rs`): LISTEN holds it for good.
        // A one-connection `sqlx::Pool`, because `PgListener` takes one; off the hot path, its
        // pings are of no matter.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(pool.connect_options().clone());
        loop {
            match listen_until_stopped(&own, &cache, &mut stop).await {
                Ok(()) => return,
                Err(e) => {
                    cache.invalidate();
                    tracing::warn!(error = %e, channel = CHANNEL, "listening for configuration changes failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(RELISTEN_DELAY) => {}
                        _ = stopped(&mut stop) => return,
                    }
                }
            }
        }
    }
}

/// LISTENs and empties `cache` on each notification; Ok when stopped, Err when the connection
/// could not be (re)opened.
async fn listen_until_stopped(
    pool: &Pool<Postgres>,
    cache: &ConfigCache,
    stop: &mut StopSignal,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    // Changes committed before LISTEN took effect were not notified to this connection.
    cache.invalidate();
    loop {
        tokio::select! {
            next = listener.try_recv() => match next? {
                Some(_) => cache.invalidate(),
                // The connection was lost and opened again (listening again): what was sent
                // meanwhile is lost.
                None => {
                    tracing::info!(channel = CHANNEL, "listening again for configuration changes");
                    cache.invalidate();
                }
            },
            _ = stopped(stop) => return Ok(()),
        }
    }
}

/// Starts the poll and the backend's notifications; the task ends once `stop` says so, and
/// leaves the cache off (a stopped watcher confirms nothing).
pub(super) fn spawn<DB: Backend>(
    pool: Conns<DB>,
    cache: Arc<ConfigCache>,
    stop: StopSignal,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::join!(poll(pool.clone(), cache.clone(), stop.clone()), DB::listen(pool, cache.clone(), stop));
        cache.suspend();
    })
}

async fn poll<DB: Backend>(pool: Conns<DB>, cache: Arc<ConfigCache>, mut stop: StopSignal) {
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped(&mut stop) => return,
        }
        let sent_at = Instant::now();
        let read = sqlx::query("SELECT version FROM config_version WHERE id = 1").fetch_one(&pool);
        // A read slower than the staleness bound could only confirm entries already expired.
        let result = match tokio::time::timeout(CONFIG_STALENESS, read).await {
            Ok(Ok(row)) => row.try_get::<i64, _>("version"),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        };
        match result {
            Ok(version) => {
                cache.confirm(version, sent_at);
                if failing {
                    tracing::info!("configuration version readable again: merchants and terminals cached again");
                    failing = false;
                }
            }
            Err(e) => {
                crate::lost::note(&e);
                cache.suspend();
                if !failing {
                    tracing::warn!(
                        error = %e,
                        "reading the configuration version failed: merchants and terminals are read \
                         from the database until it works again"
                    );
                    failing = true;
                }
            }
        }
    }
}
