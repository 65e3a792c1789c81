//! The machine's ceilings, measured in the same run so a flow's rate reads as a fraction of what
//! this machine can do at all: a no-op HTTP round trip to the same server, RSA private
//! decryptions with the gateway's key, and durable commits of the gateway's database.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

use super::load::{self, Failure, Job, Limit, Outcome};

/// `GET <path>` on the gateway: routing, HTTP parsing and the loopback round trip, no work.
struct NoopRequest {
    http: reqwest::Client,
    url: String,
}

impl Job for NoopRequest {
    async fn once(&mut self) -> Result<(), Failure> {
        let response = self.http.get(&self.url).send().await.map_err(|e| Failure::new("transport", e.to_string()))?;
        let status = response.status();
        response.bytes().await.map_err(|e| Failure::new("transport", e.to_string()))?;
        if !status.is_success() {
            return Err(Failure::new(format!("HTTP {}", status.as_u16()), "the no-op path must answer 200"));
        }
        Ok(())
    }
}

/// Runs `jobs` for `warmup` (not counted), then for `duration`.
async fn warm_then_measure<J: Job>(jobs: Vec<J>, warmup: Duration, duration: Duration) -> Outcome {
    let jobs =
        if warmup.is_zero() { jobs } else { load::run(jobs, Limit { duration: Some(warmup), count: None }).await.0 };
    load::run(jobs, Limit { duration: Some(duration), count: None }).await.1
}

/// No-op round trips per second with `concurrency` clients, each on its own connection; client
/// `i` asks node `i mod n` of `base_urls`, as the flows do.
pub async fn http_noop(
    base_urls: &[String],
    path: &str,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> Outcome {
    let jobs = (0..concurrency)
        .map(|i| {
            let base = &base_urls[i % base_urls.len()];
            NoopRequest { http: reqwest::Client::new(), url: format!("{}{path}", base.trim_end_matches('/')) }
        })
        .collect();
    warm_then_measure(jobs, warmup, duration).await
}

#[derive(Debug, Clone)]
pub struct RsaCeiling {
    pub key_bits: usize,
    pub threads: usize,
    pub decryptions_per_sec: f64,
    /// Whether the key's public half is what the gateway serves at `/public.rsa`.
    pub matches_server: Option<bool>,
}

/// RSA PKCS#1 v1.5 decryptions per second of a cryptogram-sized message with the key at
/// `key_path` (the same call the gateway makes, `keys::decrypt_cryptogram`), on one thread per
/// core: the gateway may decrypt on every core at once.
pub async fn rsa(key_path: &Path, duration: Duration, server_pem: Option<&str>) -> Result<RsaCeiling, String> {
    let text = std::fs::read_to_string(key_path).map_err(|e| format!("RSA key {}: {e}", key_path.display()))?;
    let der = epay_server::platform::keys::pem_decode(&text)
        .ok_or_else(|| format!("RSA key {}: not PEM", key_path.display()))?;
    let private = PrivateDecryptingKey::from_pkcs8(&der).map_err(|e| format!("RSA key {}: {e}", key_path.display()))?;
    let key_bits = private.key_size_bits();
    let public_der = private.public_key().as_der().map_err(|e| format!("RSA public key: {e}"))?;
    let public_pem = epay_server::platform::keys::pem_encode("PUBLIC KEY", public_der.as_ref());
    let matches_server = server_pem.map(|s| s.trim() == public_pem.trim());
    let card = epay_client::CardData::new("4405639704015096", "0127", "321", "67e34d63-102f-4bd1-898e-370781d0074d");
    let cryptogram = epay_client::encrypt_cryptogram(&public_pem, &card).map_err(|e| e.to_string())?;
    let ciphertext = STANDARD.decode(cryptogram).map_err(|e| format!("cryptogram: {e}"))?;
    let key = Pkcs1PrivateDecryptingKey::new(private).map_err(|e| format!("RSA key: {e}"))?;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    let done = AtomicU64::new(0);
    let started = Instant::now();
    let deadline = started + duration;
    let failed = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = vec![0u8; key.min_output_size()];
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        if key.decrypt(&ciphertext, &mut out).is_err() {
                            return true;
                        }
                        n += 1;
                    }
                    done.fetch_add(n, Ordering::Relaxed);
                    false
                })
            })
            .collect();
        handles.into_iter().any(|h| h.join().unwrap_or(true))
    });
    if failed {
        return Err("RSA decryption of our own cryptogram failed".into());
    }
    let per_sec = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    Ok(RsaCeiling { key_bits, threads, decryptions_per_sec: per_sec, matches_server })
}

/// The gateway's database, opened the way the gateway opens it.
#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// The same settings as `epay_store`'s adapters (crates/epay-store/src/sql.rs `connect`):
    /// SQLite in WAL with `synchronous = FULL` on one connection; PostgreSQL with the server's
    /// own durability settings (`synchronous_commit` as configured), `connections` at once.
    async fn open(url: &str, connections: u32) -> Result<Db, String> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| e.to_string())?
                .create_if_missing(false)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool =
                SqlitePoolOptions::new().max_connections(1).connect_with(options).await.map_err(|e| e.to_string())?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Db::Postgres(pool))
        } else {
            Err(format!("unsupported database url {url:?}"))
        }
    }

    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop),
            Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop),
        }
    }

    async fn text(&self, sql: &str) -> Result<String, sqlx::Error> {
        match self {
            Db::Sqlite(p) => {
                let row = sqlx::query(sql).fetch_one(p).await?;
                row.try_get::<String, _>(0).or_else(|_| row.try_get::<i64, _>(0).map(|v| v.to_string()))
            }
            Db::Postgres(p) => sqlx::query(sql).fetch_one(p).await?.try_get::<String, _>(0),
        }
    }

    /// What "durable" means on this database, read back from it.
    async fn durability(&self) -> String {
        let read = |sql: &'static str| async move { self.text(sql).await.unwrap_or_else(|e| format!("? ({e})")) };
        match self {
            Db::Sqlite(_) => {
                let sync = match read("PRAGMA synchronous").await.as_str() {
                    "2" => "FULL".to_string(),
                    "3" => "EXTRA".to_string(),
                    other => other.to_string(),
                };
                format!("journal_mode={}, synchronous={sync}", read("PRAGMA journal_mode").await)
            }
            Db::Postgres(_) => format!(
                "synchronous_commit={}, fsync={}, wal_sync_method={}",
                read("SHOW synchronous_commit").await,
                read("SHOW fsync").await,
                read("SHOW wal_sync_method").await
            ),
        }
    }
}

/// One single-row insert in its own transaction: the smallest durable write.
struct Commit {
    db: Db,
    worker: i64,
    seq: i64,
}

const INSERT: &str = "INSERT INTO bench_commits (worker, seq, note) VALUES ($1, $2, $3)";

impl Job for Commit {
    async fn once(&mut self) -> Result<(), Failure> {
        self.seq += 1;
        let fail = |e: sqlx::Error| Failure::new("database", e.to_string());
        match &self.db {
            Db::Sqlite(p) => {
                let mut tx = p.begin().await.map_err(fail)?;
                sqlx::query(INSERT)
                    .bind(self.worker)
                    .bind(self.seq)
                    .bind("bench")
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                tx.commit().await.map_err(fail)
            }
            Db::Postgres(p) => {
                let mut tx = p.begin().await.map_err(fail)?;
                sqlx::query(INSERT)
                    .bind(self.worker)
                    .bind(self.seq)
                    .bind("bench")
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                tx.commit().await.map_err(fail)
            }
        }
    }
}

pub struct CommitCeiling {
    pub backend: &'static str,
    pub connections: usize,
    pub durability: String,
    pub outcome: Outcome,
}

/// Durable commits per second into a scratch table `bench_commits`, created and dropped here.
/// SQLite gets one writer (the gateway's pool has one connection, and SQLite has one writer
/// anyway); PostgreSQL gets `concurrency` connections, so its group commit counts.
/// The warmup matters on SQLite: until the WAL file has grown to its working size, each commit
/// also extends the file, and syncing a size change costs a filesystem journal commit.
pub async fn commits(
    url: &str,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<CommitCeiling, String> {
    let sqlite = url.starts_with("sqlite:");
    let connections = if sqlite { 1 } else { concurrency.max(1) };
    let db = Db::open(url, connections as u32).await.map_err(|e| format!("database {url}: {e}"))?;
    let durability = db.durability().await;
    let prepare = async {
        db.execute("DROP TABLE IF EXISTS bench_commits").await?;
        db.execute("CREATE TABLE bench_commits (worker BIGINT NOT NULL, seq BIGINT NOT NULL, note TEXT NOT NULL)").await
    };
    prepare.await.map_err(|e| format!("creating bench_commits: {e}"))?;
    let jobs = (0..connections).map(|w| Commit { db: db.clone(), worker: w as i64, seq: 0 }).collect();
    let outcome = warm_then_measure(jobs, warmup, duration).await;
    let dropped = db.execute("DROP TABLE IF EXISTS bench_commits").await;
    match &db {
        Db::Sqlite(p) => p.close().await,
        Db::Postgres(p) => p.close().await,
    }
    dropped.map_err(|e| format!("dropping bench_commits: {e}"))?;
    Ok(CommitCeiling { backend: if sqlite { "sqlite" } else { "postgres" }, connections, durability, outcome })
}
