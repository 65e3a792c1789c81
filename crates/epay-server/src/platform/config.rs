//! Configuration: defaults, then a TOML file, then `EPAY_*` environment variables (and
//! `DATABASE_URL`), then command-line flags — each later source overrides the earlier.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use epay_domain::{DatabaseUrl, Secret};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Seeds the public test merchant and cards, allows loopback callbacks and clock control.
    Sandbox,
    /// No seeding, no test-only endpoints.
    Production,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sandbox" => Ok(Mode::Sandbox),
            "production" => Ok(Mode::Production),
            other => Err(format!("mode must be sandbox or production, not {other:?}")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and generated keys.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default `sqlite://<data_dir>/epay.sqlite`. Printed without
    /// its password.
    pub database_url: Option<DatabaseUrl>,
    pub mode: Mode,
    /// Lifetime of access tokens, in seconds (ePay: 7200).
    pub token_ttl_secs: i64,
    /// Ids (1-255) of the access-token keys, derived from the vault secret: new tokens are sealed
    /// under the first, tokens under any of them are accepted. Rotation: `[1, 2]` on every node,
    /// then `[2, 1]`, then after `token_ttl_secs` `[2]` (EPAY_TOKEN_KEYS="2,1").
    pub token_keys: Vec<u8>,
    /// PKCS#8 PEM of the cryptogram RSA key; generated on first start if missing.
    pub rsa_key_path: Option<PathBuf>,
    /// Size of a generated cryptogram key (2048, 3072 or 4096 bits).
    pub rsa_key_bits: u32,
    /// 32-byte hex key that encrypts saved cards and keys card fingerprints; generated if missing.
    pub vault_key_path: Option<PathBuf>,
    /// The vault master key itself (64 hex digits), from `EPAY_VAULT_MASTER_KEY` only — never
    /// from a file that might be committed or copied with the data. Replaces `vault_key_path`.
    #[serde(skip)]
    pub vault_master_key: Option<Secret>,
    /// Extra card files for the simulator, added to the built-in one.
    pub cards_files: Vec<PathBuf>,
    /// `pretty` or `json`.
    pub log_format: String,
    /// How often the expiry job looks for authorizations past their hold period, in seconds.
    pub expiry_interval_secs: u64,
    /// Waits between callback attempts, in seconds; one first try plus one try per entry.
    /// The default spans about a day.
    pub callback_retry_secs: Vec<u64>,
    /// Whole-request timeout of one callback attempt, in milliseconds.
    pub callback_timeout_ms: u64,
    /// How often an idle delivery worker looks for due callbacks, in milliseconds.
    pub callback_poll_ms: u64,
    /// Callbacks delivered at the same time by one node.
    pub callback_concurrency: usize,
    /// Send callbacks for charge, cancel, refund and expiry too (ePay documents only payments).
    pub operation_callbacks: bool,
    /// Name of this node in callback attempt logs; default host name and process id.
    pub node_name: Option<String>,
    /// A payment left in 3D longer than this fails with reason 877, in seconds.
    pub three_ds_timeout_secs: i64,
    /// Sandbox only: the time the gateway clock starts at (RFC 3339, e.g. 2026-11-22T12:00:00Z);
    /// it runs on from there. Makes expiry dates of test cards independent of the real date.
    pub sandbox_start: Option<String>,
    /// The gateway's public base URL (e.g. https://pay.example.com), used in the 3-D Secure
    /// `action`; default: taken from each request's Host header.
    pub public_url: Option<String>,
    /// TLS: PEM certificate chain and private key. With both set, `epay serve` speaks HTTPS
    /// itself (rustls); without, plain HTTP for a TLS-terminating proxy in front.
    pub tls_cert_path: Option<PathBuf>,
    pub tls_key_path: Option<PathBuf>,
    /// Abuse limits (0 turns one off): wrong client secrets per client id from one address and per address in
    /// 5 minutes; declined card attempts per card in 10 minutes and per terminal in 1 minute.
    pub token_failures_per_client: u32,
    pub token_failures_per_ip: u32,
    pub card_failures_per_card: u32,
    pub card_failures_per_terminal: u32,
    /// Failed phone lookups (OCT to TYPEPHONE) per token and per terminal in 10 minutes.
    pub phone_failures_per_token: u32,
    pub phone_failures_per_terminal: u32,
    /// Cryptogram attempts one payment token allows (then it is spent), and cryptogram failures
    /// per address in 10 minutes.
    pub cryptogram_attempts_per_token: u32,
    pub cryptogram_failures_per_ip: u32,
    /// A client must send its request headers within this many seconds (slow-client guard).
    pub header_timeout_secs: u64,
    /// Largest request body the API reads, in bytes.
    pub max_body_bytes: usize,
    /// A request (body read and handling) must finish within this many seconds.
    pub request_timeout_secs: u64,
    /// A new connection that sends no byte within this many seconds is closed (silent sockets).
    pub first_byte_timeout_secs: u64,
    /// A connection (HTTP/1 keep-alive or HTTP/2) with no byte read or written for this many
    /// seconds is closed. Longer than `request_timeout_secs`, so it never cuts a request.
    pub idle_timeout_secs: u64,
    /// Open client connections at most; a connection beyond it is closed at once. Keep it below
    /// the process's file descriptor limit minus the database pool and callback sockets.
    pub max_connections: usize,
    /// Serve `/metrics` on this separate address (e.g. 127.0.0.1:9090) instead of the API's.
    pub metrics_listen: Option<SocketAddr>,
    /// `/metrics` asks for `Authorization: Bearer <metrics_token>`. Production serves no
    /// metrics unless `metrics_listen` or `metrics_token` is set.
    pub metrics_token: Option<Secret>,
    /// How long a running request holds its Idempotency-Key. A request always runs to its end
    /// (even if its client leaves), so the lease only matters when a node dies mid-request:
    /// then the key is free again once the lease ends. Keep it above the longest request.
    pub idempotency_lease_secs: u64,
    /// The message outbox's delivery: transport, SMTP server, retries (`[mail]`, see `mail.rs`).
    pub mail: super::mail::MailConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            mode: Mode::Sandbox,
            token_ttl_secs: 7200,
            token_keys: vec![1],
            rsa_key_path: None,
            rsa_key_bits: 2048,
            vault_key_path: None,
            vault_master_key: None,
            cards_files: Vec::new(),
            log_format: "pretty".into(),
            expiry_interval_secs: 30,
            callback_retry_secs: vec![10, 60, 300, 1800, 3600, 7200, 14_400, 28_800, 28_800],
            callback_timeout_ms: 10_000,
            callback_poll_ms: 500,
            callback_concurrency: 16,
            operation_callbacks: true,
            node_name: None,
            three_ds_timeout_secs: 900,
            sandbox_start: None,
            public_url: None,
            tls_cert_path: None,
            tls_key_path: None,
            token_failures_per_client: 10,
            token_failures_per_ip: 50,
            card_failures_per_card: 5,
            card_failures_per_terminal: 100,
            phone_failures_per_token: 3,
            phone_failures_per_terminal: 20,
            cryptogram_attempts_per_token: 3,
            cryptogram_failures_per_ip: 20,
            header_timeout_secs: 10,
            max_body_bytes: 64 * 1024,
            request_timeout_secs: 30,
            first_byte_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 900,
            metrics_listen: None,
            metrics_token: None,
            idempotency_lease_secs: 60,
            mail: super::mail::MailConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("environment variable {name}: {problem}")]
    Env { name: String, problem: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Loads the file (if given) and applies environment overrides from `env`.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source })?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env { name: name.into(), problem: e.to_string() })
        }
        if let Some(v) = env("EPAY_LISTEN") {
            self.listen = parse("EPAY_LISTEN", v)?;
        }
        if let Some(v) = env("EPAY_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("DATABASE_URL").or_else(|| env("EPAY_DATABASE_URL")) {
            self.database_url = Some(DatabaseUrl::new(v));
        }
        if let Some(v) = env("EPAY_MODE") {
            self.mode = parse("EPAY_MODE", v)?;
        }
        if let Some(v) = env("EPAY_TOKEN_TTL_SECS") {
            self.token_ttl_secs = parse("EPAY_TOKEN_TTL_SECS", v)?;
        }
        if let Some(v) = env("EPAY_TOKEN_KEYS") {
            self.token_keys =
                v.split(',').map(|id| parse("EPAY_TOKEN_KEYS", id.trim().to_string())).collect::<Result<_, _>>()?;
        }
        if let Some(v) = env("EPAY_TOKEN_FAILURES_PER_CLIENT") {
            self.token_failures_per_client = parse("EPAY_TOKEN_FAILURES_PER_CLIENT", v)?;
        }
        if let Some(v) = env("EPAY_TOKEN_FAILURES_PER_IP") {
            self.token_failures_per_ip = parse("EPAY_TOKEN_FAILURES_PER_IP", v)?;
        }
        if let Some(v) = env("EPAY_CARD_FAILURES_PER_CARD") {
            self.card_failures_per_card = parse("EPAY_CARD_FAILURES_PER_CARD", v)?;
        }
        if let Some(v) = env("EPAY_CARD_FAILURES_PER_TERMINAL") {
            self.card_failures_per_terminal = parse("EPAY_CARD_FAILURES_PER_TERMINAL", v)?;
        }
        if let Some(v) = env("EPAY_PHONE_FAILURES_PER_TOKEN") {
            self.phone_failures_per_token = parse("EPAY_PHONE_FAILURES_PER_TOKEN", v)?;
        }
        if let Some(v) = env("EPAY_PHONE_FAILURES_PER_TERMINAL") {
            self.phone_failures_per_terminal = parse("EPAY_PHONE_FAILURES_PER_TERMINAL", v)?;
        }
        if let Some(v) = env("EPAY_CRYPTOGRAM_ATTEMPTS_PER_TOKEN") {
            self.cryptogram_attempts_per_token = parse("EPAY_CRYPTOGRAM_ATTEMPTS_PER_TOKEN", v)?;
        }
        if let Some(v) = env("EPAY_CRYPTOGRAM_FAILURES_PER_IP") {
            self.cryptogram_failures_per_ip = parse("EPAY_CRYPTOGRAM_FAILURES_PER_IP", v)?;
        }
        if let Some(v) = env("EPAY_HEADER_TIMEOUT_SECS") {
            self.header_timeout_secs = parse("EPAY_HEADER_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = env("EPAY_MAX_BODY_BYTES") {
            self.max_body_bytes = parse("EPAY_MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = env("EPAY_REQUEST_TIMEOUT_SECS") {
            self.request_timeout_secs = parse("EPAY_REQUEST_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = env("EPAY_FIRST_BYTE_TIMEOUT_SECS") {
            self.first_byte_timeout_secs = parse("EPAY_FIRST_BYTE_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = env("EPAY_IDLE_TIMEOUT_SECS") {
            self.idle_timeout_secs = parse("EPAY_IDLE_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = env("EPAY_MAX_CONNECTIONS") {
            self.max_connections = parse("EPAY_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = env("EPAY_METRICS_LISTEN") {
            self.metrics_listen = Some(parse("EPAY_METRICS_LISTEN", v)?);
        }
        if let Some(v) = env("EPAY_METRICS_TOKEN") {
            self.metrics_token = Some(Secret::new(v));
        }
        if let Some(v) = env("EPAY_IDEMPOTENCY_LEASE_SECS") {
            self.idempotency_lease_secs = parse("EPAY_IDEMPOTENCY_LEASE_SECS", v)?;
        }
        if let Some(v) = env("EPAY_TLS_CERT_PATH") {
            self.tls_cert_path = Some(PathBuf::from(v));
        }
        if let Some(v) = env("EPAY_TLS_KEY_PATH") {
            self.tls_key_path = Some(PathBuf::from(v));
        }
        if let Some(v) = env("EPAY_RSA_KEY_PATH") {
            self.rsa_key_path = Some(PathBuf::from(v));
        }
        if let Some(v) = env("EPAY_RSA_KEY_BITS") {
            self.rsa_key_bits = parse("EPAY_RSA_KEY_BITS", v)?;
        }
        if let Some(v) = env("EPAY_VAULT_MASTER_KEY") {
            self.vault_master_key = Some(Secret::new(v));
        }
        if let Some(v) = env("EPAY_VAULT_KEY_PATH") {
            self.vault_key_path = Some(PathBuf::from(v));
        }
        if let Some(v) = env("EPAY_CARDS_FILE") {
            self.cards_files.push(PathBuf::from(v));
        }
        if let Some(v) = env("EPAY_EXPIRY_INTERVAL_SECS") {
            self.expiry_interval_secs = parse("EPAY_EXPIRY_INTERVAL_SECS", v)?;
        }
        if let Some(v) = env("EPAY_CALLBACK_RETRY_SECS") {
            self.callback_retry_secs = v
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| parse("EPAY_CALLBACK_RETRY_SECS", p.trim().to_string()))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = env("EPAY_CALLBACK_TIMEOUT_MS") {
            self.callback_timeout_ms = parse("EPAY_CALLBACK_TIMEOUT_MS", v)?;
        }
        if let Some(v) = env("EPAY_CALLBACK_CONCURRENCY") {
            self.callback_concurrency = parse("EPAY_CALLBACK_CONCURRENCY", v)?;
        }
        if let Some(v) = env("EPAY_CALLBACK_POLL_MS") {
            self.callback_poll_ms = parse("EPAY_CALLBACK_POLL_MS", v)?;
        }
        if let Some(v) = env("EPAY_OPERATION_CALLBACKS") {
            self.operation_callbacks = parse("EPAY_OPERATION_CALLBACKS", v)?;
        }
        if let Some(v) = env("EPAY_THREE_DS_TIMEOUT_SECS") {
            self.three_ds_timeout_secs = parse("EPAY_THREE_DS_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = env("EPAY_SANDBOX_START") {
            self.sandbox_start = Some(v);
        }
        if let Some(v) = env("EPAY_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = env("EPAY_NODE_NAME") {
            self.node_name = Some(v);
        }
        if let Some(v) = env("EPAY_LOG_FORMAT") {
            self.log_format = v;
        }
        self.mail.apply_env(&env)?;
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.token_keys.is_empty() || self.token_keys.contains(&0) {
            return Err(ConfigError::Invalid("token_keys must name at least one key id, each 1 to 255".into()));
        }
        if !(60..=86_400).contains(&self.token_ttl_secs) {
            return Err(ConfigError::Invalid("token_ttl_secs must be between 60 and 86400".into()));
        }
        if ![2048, 3072, 4096].contains(&self.rsa_key_bits) {
            return Err(ConfigError::Invalid("rsa_key_bits must be 2048, 3072 or 4096".into()));
        }
        if !(1..=3600).contains(&self.expiry_interval_secs) {
            return Err(ConfigError::Invalid("expiry_interval_secs must be between 1 and 3600".into()));
        }
        if self.callback_retry_secs.len() > 50 || self.callback_retry_secs.iter().any(|s| *s > 7 * 86_400) {
            return Err(ConfigError::Invalid("callback_retry_secs: at most 50 waits of at most 7 days each".into()));
        }
        if !(100..=120_000).contains(&self.callback_timeout_ms) {
            return Err(ConfigError::Invalid("callback_timeout_ms must be between 100 and 120000".into()));
        }
        if !(10..=60_000).contains(&self.callback_poll_ms) {
            return Err(ConfigError::Invalid("callback_poll_ms must be between 10 and 60000".into()));
        }
        if !(1..=256).contains(&self.callback_concurrency) {
            return Err(ConfigError::Invalid("callback_concurrency must be between 1 and 256".into()));
        }
        if !(10..=86_400).contains(&self.three_ds_timeout_secs) {
            return Err(ConfigError::Invalid("three_ds_timeout_secs must be between 10 and 86400".into()));
        }
        if !(1..=300).contains(&self.header_timeout_secs) || !(1..=600).contains(&self.request_timeout_secs) {
            return Err(ConfigError::Invalid(
                "header_timeout_secs must be 1 to 300 and request_timeout_secs 1 to 600".into(),
            ));
        }
        self.validate_connection_bounds()?;
        self.mail.validate(self.mode)?;
        if self.metrics_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            return Err(ConfigError::Invalid("metrics_token must be at least 16 characters".into()));
        }
        if !(1..=3600).contains(&self.idempotency_lease_secs) {
            return Err(ConfigError::Invalid("idempotency_lease_secs must be between 1 and 3600".into()));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(ConfigError::Invalid("max_body_bytes must be between 1 KiB and 16 MiB".into()));
        }
        if self.mode == Mode::Production && self.vault_master_key.is_none() {
            // The master key beside the data would let one stolen backup open every saved card.
            let data = std::path::absolute(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
            let key = std::path::absolute(self.vault_key_path()).unwrap_or_else(|_| self.vault_key_path());
            if key.starts_with(&data) {
                return Err(ConfigError::Invalid(
                    "production: the vault master key must not be stored beside the data; set vault_key_path \
                     outside data_dir, or EPAY_VAULT_MASTER_KEY"
                        .into(),
                ));
            }
        }
        if self.tls_cert_path.is_some() != self.tls_key_path.is_some() {
            return Err(ConfigError::Invalid("tls_cert_path and tls_key_path go together: set both or neither".into()));
        }
        if let Some(start) = &self.sandbox_start {
            if self.mode == Mode::Production {
                return Err(ConfigError::Invalid(
                    "sandbox_start is a sandbox setting; production runs on real time".into(),
                ));
            }
            if self.sandbox_start_ms().is_none() {
                return Err(ConfigError::Invalid(format!("sandbox_start {start:?} is not an RFC 3339 time")));
            }
        }
        if !["pretty", "json"].contains(&self.log_format.as_str()) {
            return Err(ConfigError::Invalid("log_format must be pretty or json".into()));
        }
        Ok(())
    }

    fn validate_connection_bounds(&self) -> Result<(), ConfigError> {
        if !(1..=300).contains(&self.first_byte_timeout_secs) {
            return Err(ConfigError::Invalid("first_byte_timeout_secs must be 1 to 300".into()));
        }
        if self.idle_timeout_secs <= self.request_timeout_secs || self.idle_timeout_secs > 3600 {
            return Err(ConfigError::Invalid(
                "idle_timeout_secs must be longer than request_timeout_secs and at most 3600".into(),
            ));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(ConfigError::Invalid("max_connections must be 1 to 1000000".into()));
        }
        Ok(())
    }

    pub fn database_url(&self) -> DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| DatabaseUrl::new(format!("sqlite://{}", self.data_dir.join("epay.sqlite").display())))
    }

    pub fn rsa_key_path(&self) -> PathBuf {
        self.rsa_key_path.clone().unwrap_or_else(|| self.data_dir.join("keys/cryptogram-rsa.pem"))
    }

    /// `sandbox_start` in unix milliseconds.
    pub fn sandbox_start_ms(&self) -> Option<i64> {
        let text = self.sandbox_start.as_deref()?;
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
        Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    pub fn node_name(&self) -> String {
        self.node_name.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
            format!("{}:{}", if host.is_empty() { "epay" } else { &host }, std::process::id())
        })
    }

    pub fn vault_key_path(&self) -> PathBuf {
        self.vault_key_path.clone().unwrap_or_else(|| self.data_dir.join("keys/vault.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_defaults() {
        let env = |name: &str| match name {
            "EPAY_LISTEN" => Some("127.0.0.1:9999".to_string()),
            "DATABASE_URL" => Some("postgres://x/y".to_string()),
            "EPAY_MODE" => Some("production".to_string()),
            "EPAY_VAULT_MASTER_KEY" => Some("ab".repeat(32)),
            _ => None,
        };
        let c = Config::load(None, env).unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.database_url().expose(), "postgres://x/y");
        assert_eq!(c.mode, Mode::Production);
    }

    #[test]
    fn production_keeps_the_vault_master_key_away_from_the_data() {
        let production = |name: &str| (name == "EPAY_MODE").then(|| "production".to_string());
        let err = Config::load(None, production).unwrap_err();
        assert!(err.to_string().contains("beside the data"), "{err}");
        let outside = |name: &str| match name {
            "EPAY_MODE" => Some("production".to_string()),
            "EPAY_VAULT_KEY_PATH" => Some("/etc/epay/vault.key".to_string()),
            _ => None,
        };
        assert!(Config::load(None, outside).is_ok());
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::load(None, |n| (n == "EPAY_MODE").then(|| "prod".to_string())).unwrap_err();
        assert!(err.to_string().contains("EPAY_MODE"), "{err}");
        let err = Config::load(None, |n| (n == "EPAY_TOKEN_TTL_SECS").then(|| "5".to_string())).unwrap_err();
        assert!(err.to_string().contains("token_ttl_secs"), "{err}");
    }

    #[test]
    fn default_sqlite_lives_in_data_dir() {
        let c = Config::default();
        assert_eq!(c.database_url().expose(), "sqlite://./data/epay.sqlite");
    }

    #[test]
    fn printing_the_configuration_shows_no_secret() {
        let master_key = "c0ffee".repeat(10) + "c0ff";
        let env = |name: &str| match name {
            "DATABASE_URL" => Some("postgres://epay:db-password-7@db.internal/epay".to_string()),
            "EPAY_METRICS_TOKEN" => Some("metrics-token-0123456789".to_string()),
            "EPAY_VAULT_MASTER_KEY" => Some(master_key.clone()),
            _ => None,
        };
        let config = Config::load(None, env).unwrap();
        let printed = format!("{config:?}");
        for secret in ["db-password-7", "metrics-token-0123456789", master_key.as_str()] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("postgres://epay:***@db.internal/epay"), "{printed}");
        // The secrets are still there for what needs them.
        assert_eq!(config.database_url().expose(), "postgres://epay:db-password-7@db.internal/epay");
        assert_eq!(config.metrics_token.as_ref().map(Secret::expose), Some("metrics-token-0123456789"));
    }
}
