//! Test harness: starts the real `epay` binary on a random port against a fresh database
//! (a temporary SQLite file, or a new PostgreSQL database) and talks HTTP to it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

pub use epay_client::Amount;
use epay_client::{encrypt_cryptogram, CardData, Client, PaymentRequest, TokenRequest};
use epay_server::runtime::seed::{PAYMENT_TERMINAL, TEST_CLIENT_ID, TEST_CLIENT_SECRET};
use epay_store::Store;
use tokio::io::{AsyncBufReadExt, BufReader};

/// An amount in major units, written as its decimal text (`major("12.22")`): exact, and no test
/// can slip a float into a request.
pub fn major(text: &str) -> Amount {
    text.parse().unwrap_or_else(|e| panic!("test amount {text:?}: {e}"))
}

pub const SECRET: &str = TEST_CLIENT_SECRET;
pub const CLIENT: &str = TEST_CLIENT_ID;
pub const TERMINAL: &str = PAYMENT_TERMINAL;
/// The cabinet user of [`Gateway::other_merchant_with_owner`].
pub const OTHER_OWNER: &str = "owner@other.kz";
pub const OTHER_PASSWORD: &str = "other-pass-1";
/// The public test cards (facts §16) and the simulator's outcome cards.
pub const VISA: (&str, &str, &str) = ("4405639704015096", "0127", "321");
pub const MASTERCARD: (&str, &str, &str) = ("5522042705066736", "0127", "775");
pub const AMEX: (&str, &str, &str) = ("377514500004820", "0128", "0198");
/// The same cards as seed 001 publishes them (01/25): the VISA and MasterCard pay, the AMEX is
/// "lock" (docs/test-cards.md).
pub const SEED_VISA: (&str, &str, &str) = ("4405639704015096", "0125", "815");
pub const SEED_MASTERCARD: (&str, &str, &str) = ("5522042705066736", "0125", "525");
pub const SEED_AMEX: (&str, &str, &str) = ("377514500004820", "0125", "4169");
/// The outcome card whose expiry month is long past: 478.
pub const EXPIRED: (&str, &str, &str) = ("4000000000004780", "0120", "123");
pub const ALL_TEST_PANS: &[&str] = &[
    "4405639704015096",
    "5522042705066736",
    "377514500004820",
    "4003032704547597",
    "5578342710750560",
    "4000000000000002",
    "4000000000009995",
    "4000000000009987",
    "4000000000009979",
    "4000000000009920",
    "4000000000000069",
    "377514500000794",
    "4000000000004780",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Both backends, always: the suite must pass on SQLite and on PostgreSQL. `EPAY_TEST_BACKENDS`
/// (e.g. `sqlite`) narrows it for a quick local run.
pub fn backends() -> Vec<Backend> {
    let wanted = std::env::var("EPAY_TEST_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut out = Vec::new();
    if wanted.contains("sqlite") {
        out.push(Backend::Sqlite);
    }
    if wanted.contains("postgres") {
        out.push(Backend::Postgres);
    }
    out
}

fn pg_admin_url() -> String {
    std::env::var("EPAY_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The RSA key and vault key paths every test gateway uses (for CLI runs on its database).
pub fn key_paths() -> (PathBuf, PathBuf) {
    shared_keys().clone()
}

/// One RSA key and vault key for the whole test process: generating keys per server is slow.
/// (RSA key path, vault key path); every gateway a test starts uses them.
pub fn shared_keys() -> &'static (PathBuf, PathBuf) {
    static KEYS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("epay-test-keys-{}", uuid::Uuid::new_v4()));
        let paths = (dir.join("rsa.pem"), dir.join("vault.key"));
        epay_server::platform::keys::Keys::load_or_generate(&paths.0, 2048, &paths.1).expect("test keys");
        paths
    })
}

pub struct Gateway {
    pub backend: Backend,
    pub url: String,
    pub client: Client,
    pub http: reqwest::Client,
    pub dir: PathBuf,
    pub database_url: String,
    pub log_path: PathBuf,
    pg_database: Option<String>,
    child: tokio::process::Child,
}

impl Gateway {
    pub async fn start(backend: Backend) -> Gateway {
        Self::start_with(backend, &[]).await
    }

    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Gateway {
        Self::launch(backend, &[], env).await
    }

    /// Starts `epay serve` with extra command-line arguments and environment variables.
    pub async fn launch(backend: Backend, args: &[&str], env: &[(&str, &str)]) -> Gateway {
        let dir = std::env::temp_dir().join(format!("epay-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (database_url, pg_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.join("epay.sqlite").display()), None),
            Backend::Postgres => {
                let name = format!("epay_t_{}", uuid::Uuid::new_v4().simple());
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(&pg_admin_url())
                    .await
                    .expect("PostgreSQL must be reachable at EPAY_TEST_PG_URL");
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
                let base = pg_admin_url();
                let root = base.rsplit_once('/').map(|(r, _)| r.to_string()).unwrap_or(base);
                (format!("{root}/{name}"), Some(name))
            }
        };
        let log_path = dir.join("epay.log");
        let (child, url) = Self::spawn(&dir, &database_url, &log_path, "127.0.0.1:0", args, env).await;
        Gateway {
            backend,
            client: Client::new(&url),
            http: reqwest::Client::new(),
            url,
            dir,
            database_url,
            log_path,
            pg_database,
            child,
        }
    }

    /// Starts `epay serve` on `dir` and `database_url`, logging to `log_path`; waits until it
    /// listens and returns the process and its URL.
    async fn spawn(
        dir: &Path,
        database_url: &str,
        log_path: &Path,
        listen: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (tokio::process::Child, String) {
        let keys = shared_keys();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log_path).unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_epay"));
        command
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(dir)
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("EPAY_RSA_KEY_PATH", &keys.0)
            .env("EPAY_VAULT_KEY_PATH", &keys.1)
            .env("EPAY_LOG", "debug,sqlx=info,hyper=info,h2=info")
            // The public test cards expire 01/27: run the sandbox clock from a fixed day so the
            // suite does not depend on today's date.
            .env("EPAY_SANDBOX_START", "2026-11-22T09:00:00Z")
            .env_remove("EPAY_CONFIG")
            // Whether the log is coloured is the gateway's own choice (its stderr is a file here).
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        if env.contains(&("EPAY_MODE", "production")) {
            // Production runs on real time and refuses the sandbox clock setting.
            command.env_remove("EPAY_SANDBOX_START");
        }
        let mut child = command.spawn().expect("spawn epay");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("epay listening on ") {
                    return url.trim().to_string();
                }
            }
            panic!("epay exited before listening; log: {}", std::fs::read_to_string(log_path).unwrap_or_default());
        })
        .await
        .expect("epay did not start within 60 s");
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        (child, url)
    }

    /// Stops the gateway (SIGKILL) and starts it again on the same data directory, database and
    /// port (clients keep their URL), with `env`.
    pub async fn restart_with(&mut self, env: &[(&str, &str)]) {
        let _ = self.child.kill().await;
        let listen = self.url.trim_start_matches("http://").to_string();
        let (child, url) = Self::spawn(&self.dir, &self.database_url, &self.log_path, &listen, &[], env).await;
        self.child = child;
        self.client = Client::new(&url);
        self.url = url;
    }

    pub async fn restart(&mut self) {
        self.restart_with(&[]).await;
    }

    /// Another gateway node on this gateway's database (its own data directory and port, the
    /// same keys), as behind a load balancer; it stops when the returned node is dropped.
    pub async fn second_node(&self) -> Node {
        let dir = self.dir.join("second-node");
        std::fs::create_dir_all(&dir).unwrap();
        let log_path = dir.join("epay.log");
        let (child, url) = Self::spawn(&dir, &self.database_url, &log_path, "127.0.0.1:0", &[], &[]).await;
        Node { url, _child: child }
    }

    /// A second connection to the gateway's database, for arranging and inspecting state.
    pub async fn store(&self) -> std::sync::Arc<dyn Store> {
        epay_store::connect(&self.database_url).await.unwrap()
    }

    /// The gateway's keys with its card-vault data keys installed: to call an admin service
    /// that seals (e.g. creating a merchant) in-process, as `epay` would.
    /// Another merchant (client id `other-shop`) with a cabinet user, `OTHER_OWNER` with
    /// `OTHER_PASSWORD`: the attacker of the tests that check one merchant cannot reach another's.
    pub async fn other_merchant_with_owner(&self) -> epay_server::services::admin::NewMerchant {
        let store = self.store().await;
        let keys = self.vault_keys().await;
        let other = epay_server::services::admin::create_merchant(store.as_ref(), &keys, "Other shop", "other-shop")
            .await
            .unwrap();
        epay_server::services::cabinet_users::create_user(
            store.as_ref(),
            &other.merchant.id,
            OTHER_OWNER,
            OTHER_PASSWORD,
            0,
        )
        .await
        .unwrap();
        other
    }

    pub async fn vault_keys(&self) -> epay_server::platform::keys::Keys {
        let (rsa, vault) = shared_keys();
        let keys = epay_server::platform::keys::Keys::load_or_generate(rsa, 2048, vault).unwrap();
        epay_server::services::vault::refresh(&keys, self.store().await.as_ref()).await.unwrap();
        keys
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub async fn public_key(&self) -> String {
        self.client.public_key_pem().await.unwrap()
    }

    pub async fn payment_token(&self, invoice: &str, amount: Amount) -> String {
        self.token_on(invoice, amount, TERMINAL).await
    }

    pub async fn token_on(&self, invoice: &str, amount: Amount, terminal: &str) -> String {
        let request = TokenRequest::payment(CLIENT, SECRET, invoice, amount, "KZT", terminal);
        self.client.token(&request).await.unwrap().access_token
    }

    pub async fn service_token(&self, terminal: &str) -> String {
        self.client.token(&TokenRequest::service(CLIENT, SECRET, terminal)).await.unwrap().access_token
    }

    pub async fn cryptogram(&self, card: (&str, &str, &str), terminal: &str) -> String {
        encrypt_cryptogram(&self.public_key().await, &CardData::new(card.0, card.1, card.2, terminal)).unwrap()
    }

    /// A complete cryptogram payment request for `card` on the payments terminal.
    pub async fn payment_request(&self, invoice: &str, amount: Amount, card: (&str, &str, &str)) -> PaymentRequest {
        PaymentRequest::new(invoice, amount, self.cryptogram(card, TERMINAL).await)
    }

    /// `GET /sandbox/clock` with a fresh service token of the payments terminal; the clock's JSON.
    pub async fn sandbox_clock(&self) -> serde_json::Value {
        let token = self.service_token(TERMINAL).await;
        let response = self.http.get(format!("{}/sandbox/clock", self.url)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET /sandbox/clock");
        response.json().await.unwrap()
    }

    /// `POST /sandbox/clock/advance?seconds=N` with a fresh service token of the payments
    /// terminal (fresh, because an earlier move may have expired the last one); returns
    /// (status, JSON body).
    pub async fn advance_clock(&self, seconds: i64) -> (u16, serde_json::Value) {
        let token = self.service_token(TERMINAL).await;
        self.advance_clock_with(&token, seconds).await
    }

    /// Moves the sandbox clock `days` ahead, in as many `POST /sandbox/clock/advance` steps as
    /// the route's 400-day limit needs (years ahead for card-expiry tests).
    pub async fn advance_clock_days(&self, days: i64) {
        let mut left = days;
        while left > 0 {
            let step = left.min(400);
            let (status, body) = self.advance_clock(step * 86_400).await;
            assert_eq!(status, 200, "advance {step} days: {body}");
            left -= step;
        }
    }

    /// `POST /sandbox/clock/advance?seconds=N` with `token` (for a test that cannot get a token
    /// at that moment, e.g. while the token endpoint is locked).
    pub async fn advance_clock_with(&self, token: &str, seconds: i64) -> (u16, serde_json::Value) {
        self.post_json(&format!("/sandbox/clock/advance?seconds={seconds}"), Some(token), "").await
    }

    /// Raw POST of a JSON body with a bearer token; returns (status, JSON body).
    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &str) -> (u16, serde_json::Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    /// Runs `epay <args>` against this gateway's database; returns (exit success, stdout).
    /// After a command that changes merchants or terminals, waits until the running gateway
    /// must see the change (it serves them from memory, at most `CONFIG_STALENESS` behind).
    pub fn run_cli(&self, args: &[&str]) -> (bool, String) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
            .args(args)
            .arg("--data-dir")
            .arg(&self.dir)
            .env("DATABASE_URL", &self.database_url)
            .env_remove("EPAY_CONFIG")
            .output()
            .unwrap();
        if output.status.success() && matches!(args.first(), Some(&("terminal" | "merchant" | "secret" | "sandbox"))) {
            std::thread::sleep(epay_store::CONFIG_STALENESS + Duration::from_millis(50));
        }
        (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Every byte the gateway keeps: the SQLite files, or a text dump of every PostgreSQL table.
    pub async fn database_contents(&self) -> String {
        match self.backend {
            Backend::Sqlite => {
                let mut all = Vec::new();
                // Not the `-shm` file: it is the WAL's index, whose reader marks change when the
                // gateway merely reads; it holds no data.
                for suffix in ["epay.sqlite", "epay.sqlite-wal"] {
                    if let Ok(bytes) = std::fs::read(self.dir.join(suffix)) {
                        all.extend(bytes);
                    }
                }
                String::from_utf8_lossy(&all).into_owned()
            }
            Backend::Postgres => {
                use sqlx::{Connection, Row};
                let mut conn = sqlx::PgConnection::connect(&self.database_url).await.unwrap();
                let tables: Vec<String> = sqlx::query(
                    "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'public'",
                )
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get("t"))
                .collect();
                let mut dump = String::new();
                for table in tables {
                    let rows = sqlx::query(&format!("SELECT CAST(t.* AS TEXT) AS r FROM \"{table}\" t"))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                    for row in rows {
                        dump.push_str(&row.get::<String, _>("r"));
                        dump.push('\n');
                    }
                }
                dump
            }
        }
    }

    /// How many rows `table` holds in the gateway's database.
    pub async fn count_rows(&self, table: &str) -> i64 {
        use sqlx::{Connection, Row};
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.database_url).await.unwrap();
                sqlx::query(&sql).fetch_one(&mut conn).await.unwrap().get("n")
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database_url).await.unwrap();
                sqlx::query(&sql).fetch_one(&mut conn).await.unwrap().get("n")
            }
        }
    }

    /// Executes raw SQL on the gateway's database (to age a token, corrupt a balance, ...).
    pub async fn execute_sql(&self, sql: &str) {
        use sqlx::Connection;
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.database_url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database_url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
        }
    }
}

/// A further gateway process on a [`Gateway`]'s database ([`Gateway::second_node`]).
pub struct Node {
    pub url: String,
    _child: tokio::process::Child,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if let Some(name) = &self.pg_database {
            // Best effort, synchronous (Drop cannot await): psql ships with the PostgreSQL client.
            let _ = std::process::Command::new("psql")
                .arg(pg_admin_url())
                .args(["-q", "-c", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A fresh invoice id (digits only, 12 long, unique in its last 6 digits within a test).
pub fn invoice() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000;
    format!("{n:012}")
}

/// The sorted key names of a JSON object.
pub fn keys(value: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("a JSON object").keys().cloned().collect();
    keys.sort();
    keys
}

pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

pub fn path_exists(p: &Path) -> bool {
    p.exists()
}

impl Gateway {
    /// Pays `amount` with the Visa test card on the two-step payments terminal; returns the id.
    pub async fn authorized_payment(&self, amount: Amount) -> String {
        let invoice = invoice();
        let token = self.payment_token(&invoice, amount).await;
        let request = self.payment_request(&invoice, amount, VISA).await;
        let paid = self.client.cryptopay(&token, &request).await.unwrap();
        assert_eq!(paid.status, "AUTH");
        paid.id
    }

    /// `POST /operation/:id/<op><query>` with an optional JSON body; returns (status, body).
    pub async fn operation(
        &self,
        token: &str,
        id: &str,
        op: &str,
        query: &str,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.http.post(format!("{}/operation/{id}/{op}{query}", self.url)).bearer_auth(token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    /// The status `transaction` object of an invoice or payment id's invoice.
    pub async fn transaction_of(&self, payment_id: &str) -> serde_json::Value {
        let store = self.store().await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let p = store.payment(&merchant.id, payment_id).await.unwrap().expect("payment exists");
        self.status_answer(&p.terminal_id, &p.invoice_id).await["transaction"].clone()
    }

    /// The whole status answer (`resultCode`, `resultMessage`, `transaction`) of `invoice`, read
    /// with a service token of `terminal`; it must be HTTP 200.
    pub async fn status_answer(&self, terminal: &str, invoice: &str) -> serde_json::Value {
        self.status_answer_on(&self.url, terminal, invoice).await
    }

    /// [`Gateway::status_answer`] asked of the node at `url` (another node on this database).
    pub async fn status_answer_on(&self, url: &str, terminal: &str, invoice: &str) -> serde_json::Value {
        let token = self.service_token(terminal).await;
        let response = self
            .http
            .get(format!("{url}/check-status/payment/transaction/{invoice}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "status of {invoice}");
        response.json().await.unwrap()
    }

    pub fn assert_ledger_sound(&self) {
        let (ok, out) = self.run_cli(&["ledger", "check"]);
        assert!(ok, "{:?}: ledger check failed: {out}", self.backend);
    }
}

pub mod receiver;

impl Gateway {
    /// A payment token for another merchant's credentials.
    pub async fn token_on_as(
        &self,
        client: &str,
        secret: &str,
        invoice: &str,
        amount: Amount,
        terminal: &str,
    ) -> String {
        let request = TokenRequest::payment(client, secret, invoice, amount, "KZT", terminal);
        self.client.token(&request).await.unwrap().access_token
    }

    /// SIGKILL: no graceful shutdown, as in a crash.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM (graceful shutdown); does not wait.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the gateway is running");
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the gateway process to exit; its exit status.
    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(within, self.child.wait()).await.expect("the gateway did not exit in time").unwrap()
    }
}

pub mod browser;

impl Gateway {
    /// Runs `epay <args>` on this gateway's data directory, database and keys; returns the
    /// process output (for commands that need the keys, or that must fail).
    pub fn run_epay(&self, args: &[&str]) -> std::process::Output {
        let keys = shared_keys();
        std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
            .args(args)
            .arg("--data-dir")
            .arg(&self.dir)
            .env("DATABASE_URL", &self.database_url)
            .env("EPAY_RSA_KEY_PATH", &keys.0)
            .env("EPAY_VAULT_KEY_PATH", &keys.1)
            .env_remove("EPAY_CONFIG")
            .env_remove("EPAY_MODE")
            .output()
            .unwrap()
    }
}

/// The value of the hidden form field `name` in a page.
pub fn hidden_input(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'")
}

/// A card issued by `epay card issue` (random number and CVC) into a card file of its own.
pub fn issue_card(dir: &std::path::Path, three_ds: bool) -> (String, String, String) {
    let mut args = vec!["card", "issue", "--mode", "production", "--balance", "50000", "--data-dir"];
    let dir_text = dir.to_str().unwrap().to_string();
    args.push(&dir_text);
    if three_ds {
        args.push("--three-ds");
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
        .args(&args)
        .env("EPAY_VAULT_KEY_PATH", &key_paths().1)
        .env_remove("EPAY_CONFIG")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "card issue: {out} {}", String::from_utf8_lossy(&output.stderr));
    let field = |name: &str| out.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).expect(name);
    (field("card number:"), field("expiry:").replace('/', ""), field("cvc:"))
}

/// Posts the shopper's answer to the simulated ACS (`/acs/challenge/answer`) and returns the
/// page it answers with. A wrong code is answered again while the ACS shows the challenge again
/// (it takes `three_ds::CODE_ATTEMPTS`; the last fails the challenge), so the page returned is
/// the one that posts the PaRes back to TermUrl, or a refusal.
pub async fn answer_acs(gw: &Gateway, answer: &[(&str, String)]) -> String {
    let mut page = String::new();
    for _ in 0..epay_server::services::three_ds::CODE_ATTEMPTS {
        let url = format!("{}/acs/challenge/answer", gw.url);
        page = gw.http.post(url).form(answer).send().await.unwrap().text().await.unwrap();
        if !page.contains(r#"id="acs-error""#) {
            break;
        }
    }
    page
}

/// A payment terminal that requires 3-D Secure, added by [`secure_gateway`].
pub const SECURE_TERMINAL: &str = "3d5ecc3d-0000-4000-8000-000000000003";
/// The simulator's 3-D Secure enrolled card (docs/test-cards.md).
pub const ENROLLED: (&str, &str, &str) = ("4000000000003220", "1230", "123");

/// A gateway whose test merchant also has [`SECURE_TERMINAL`], a payment terminal that requires
/// 3-D Secure.
pub async fn secure_gateway(backend: Backend) -> Gateway {
    let gw = Gateway::start(backend).await;
    let (merchant, mut terminals) = epay_server::runtime::seed::test_merchant();
    terminals.push(secure_terminal(&merchant.id));
    gw.store().await.upsert_merchant(&merchant, &terminals).await.unwrap();
    gw
}

/// [`SECURE_TERMINAL`] of `merchant_id`: a payment terminal that requires 3-D Secure.
pub fn secure_terminal(merchant_id: &str) -> epay_store::Terminal {
    epay_store::Terminal {
        id: SECURE_TERMINAL.into(),
        merchant_id: merchant_id.into(),
        pos_id: "98120333".into(),
        name: "3-D Secure".into(),
        three_ds: true,
        hold_period_secs: 3600,
        ..Default::default()
    }
}

/// The payment page's `params` for `invoice` (100 KZT) in `language`, on `terminal`, carrying
/// `token`, with the demo shop's links and any `extra` fields, as payment-api.js builds them.
pub fn page_params(
    gw: &Gateway,
    invoice: &str,
    token: String,
    language: &str,
    terminal: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut fields = vec![
        ("invoiceId", invoice.to_string()),
        ("backLink", format!("{}/demo/success?invoiceId={invoice}", gw.url)),
        ("failureBackLink", format!("{}/demo/failure?invoiceId={invoice}", gw.url)),
        ("language", language.into()),
        ("description", "Order".into()),
        ("terminal", terminal.into()),
        ("amount", "100".into()),
        ("currency", "KZT".into()),
    ];
    fields.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    epay_server::edge::page::params::encode(&fields, &[("access_token", token), ("expires_in", "7200".into())])
}

/// A P2P page (halyk.p2p) for testuser1 on the P2P terminal, in `language`: (link, invoice).
pub async fn p2p_page_link(gw: &Gateway, language: &str) -> (String, String) {
    let p2p_terminal = epay_server::platform::test_merchant::P2P_TERMINAL;
    let invoice = invoice();
    let request = TokenRequest {
        scope: "transfer".into(),
        client_id: CLIENT.into(),
        client_secret: SECRET.into(),
        terminal: Some(p2p_terminal.into()),
        secret_hash: Some("JDKCNDDGGDTPSKJD".into()),
        account_id: Some("testuser1".into()),
        ..Default::default()
    };
    let token = gw.client.token(&request).await.unwrap().access_token;
    let params = page_params(gw, &invoice, token, language, p2p_terminal, &[("accountId", "testuser1")]);
    (format!("{}/payform/?params={params}&isTransfer=true", gw.url), invoice)
}
