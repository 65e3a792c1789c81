//! The `epay` command: run the gateway, migrate its database, check its ledger.

mod admin;
mod bench;
mod connections;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// See `Cargo.toml`: allocation is a large share of the gateway's CPU, and glibc's malloc is
/// slower at it than mimalloc with many threads handing buffers to each other.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use epay_server::{App, Config, Mode};

#[derive(Parser)]
#[command(name = "epay", version, about = "A Halyk ePay-compatible payment gateway with a card network simulator")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Clone, Default)]
struct Common {
    /// TOML configuration file (default: ./epay.toml if it exists).
    #[arg(long, global = true, env = "EPAY_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the SQLite database and generated keys.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite://path or postgres://… (overrides DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// sandbox or production.
    #[arg(long, global = true)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default command).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Ledger commands.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Merchants: create.
    Merchant {
        #[command(subcommand)]
        command: admin::MerchantCommand,
    },
    /// Terminals: create, update (one-/two-step, 3-D Secure, transfers, fees, limits).
    Terminal {
        #[command(subcommand)]
        command: admin::TerminalCommand,
    },
    /// Client and callback signing secrets: rotate.
    Secret {
        #[command(subcommand)]
        command: admin::SecretCommand,
    },
    /// Merchant cabinet users: create.
    Cabinet {
        #[command(subcommand)]
        command: admin::CabinetCommand,
    },
    /// Card-vault keys: rotate.
    Keys {
        #[command(subcommand)]
        command: admin::KeysCommand,
    },
    /// The public sandbox merchant: purge it before production starts on this database.
    Sandbox {
        #[command(subcommand)]
        command: admin::SandboxCommand,
    },
    /// The simulated 3-D Secure ACS: read a production challenge's one-time code.
    Acs {
        #[command(subcommand)]
        command: admin::AcsCommand,
    },
    /// Simulator cards: issue.
    Card {
        #[command(subcommand)]
        command: admin::CardCommand,
    },
    /// Configuration: check it and what it points at.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Load a running gateway over HTTP and measure this machine's ceilings (docs/performance.md).
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration, reach the database, print the effective settings.
    Check,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Verify every ledger invariant; exits 1 and lists the violations if any fails.
    Check,
}

fn load_config(common: &Common) -> Result<Config, String> {
    let file = common.config.clone().or_else(|| {
        let default = PathBuf::from("epay.toml");
        default.exists().then_some(default)
    });
    let mut config = Config::load(file.as_deref(), |name| std::env::var(name).ok()).map_err(|e| e.to_string())?;
    if let Some(dir) = &common.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &common.database_url {
        config.database_url = Some(epay_domain::DatabaseUrl::new(url.clone()));
    }
    if let Some(mode) = common.mode {
        config.mode = mode;
    }
    // Flags change settings the file and environment were checked with: check again.
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EPAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colours only for a person at a terminal (and not when NO_COLOR asks otherwise): a log
    // written to a file, a pipe or journald stays plain text, and is cheaper to write.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::stderr().is_terminal() && !no_color;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match load_config(&cli.common) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("epay: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve { listen: None }) {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            serve(config).await
        }
        Command::Migrate => migrate(config).await,
        Command::Ledger { command: LedgerCommand::Check } => ledger_check(config).await,
        Command::Merchant { command } => admin::merchant(config, command).await,
        Command::Terminal { command } => admin::terminal(config, command).await,
        Command::Secret { command } => admin::secret(config, command).await,
        Command::Card { command } => admin::card(config, command),
        Command::Sandbox { command } => admin::sandbox(config, command).await,
        Command::Acs { command } => admin::acs(config, command).await,
        Command::Cabinet { command } => admin::cabinet(config, command).await,
        Command::Keys { command } => admin::keys(config, command).await,
        Command::Config { command: ConfigCommand::Check } => admin::config_check(config).await,
        Command::Bench(args) => bench::run(args, &config).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("epay: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<ExitCode, String> {
    let listen = config.listen;
    let app = App::start(config).await.map_err(|e| e.to_string())?;
    tracing::info!(database = app.store.backend(), mode = ?app.config.mode, "store ready");
    let tls = match (&app.config.tls_cert_path, &app.config.tls_key_path) {
        (Some(cert), Some(key)) => {
            // One process-wide crypto provider for rustls; an earlier install is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| format!("TLS certificate {} or key {}: {e}", cert.display(), key.display()))?;
            Some(config)
        }
        _ => None,
    };
    let listener = std::net::TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts wait for this line to learn the port (when listening on port 0).
    println!("epay listening on {}://{local}", if tls.is_some() { "https" } else { "http" });
    tracing::info!(%local, tls = tls.is_some(), "listening");
    let app = Arc::new(app);
    let (stop, stop_signal) = tokio::sync::watch::channel(false);
    let expiry = epay_server::runtime::workers::spawn_expiry(app.clone(), stop_signal.clone());
    let callbacks = epay_server::runtime::workers::spawn_callbacks(app.clone(), stop_signal.clone());
    let scheduler = epay_server::runtime::workers::spawn_scheduler(app.clone(), stop_signal.clone());
    let outbox = epay_server::runtime::outbox::spawn_outbox(app.clone(), stop_signal.clone())?;
    // Serves merchants and terminals from memory while it keeps them in step with the database.
    let config_watch = app.store.watch_config(stop_signal);
    let own: Vec<std::net::SocketAddr> = std::iter::once(local).chain(app.config.metrics_listen).collect();
    epay_server::services::links::set_own_addresses(&own, app.config.public_url.as_deref());
    let router = epay_server::build_router(app.clone());
    if let Some(address) = app.config.metrics_listen {
        serve_metrics(address, app.clone())?;
    }
    let handle = axum_server::Handle::new();
    let on_signal = handle.clone();
    let grace = Duration::from_secs(app.config.request_timeout_secs + 5);
    tokio::spawn(async move {
        shutdown_signal().await;
        // Stop accepting; requests in flight get their own timeout (and a little) to finish.
        on_signal.graceful_shutdown(Some(grace));
    });
    // The peer address feeds the token endpoint's per-address limit.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let header_timeout = Duration::from_secs(app.config.header_timeout_secs);
    let guard = connections::ConnectionGuard::new(&app.config);
    let served = match tls {
        None => {
            let mut server = axum_server::from_tcp(listener).acceptor(guard);
            slow_client_guard(server.http_builder(), header_timeout);
            server.handle(handle).serve(service).await
        }
        Some(tls) => {
            let tls = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(guard);
            let mut server = axum_server::from_tcp(listener).acceptor(tls);
            slow_client_guard(server.http_builder(), header_timeout);
            server.handle(handle).serve(service).await
        }
    };
    served.map_err(|e| e.to_string())?;
    // In-flight requests are done. The workers finish the step they are in (a callback batch is
    // sent and recorded) and stop; a worker stuck longer than the callback timeout is dropped,
    // and its leased events go to another node when the lease ends.
    let _ = stop.send(true);
    let grace = Duration::from_millis(app.config.callback_timeout_ms + 5_000);
    for (name, worker) in [
        ("expiry", expiry),
        ("callbacks", callbacks),
        ("subscription scheduler", scheduler),
        ("outbox", outbox),
        ("config watch", config_watch),
    ] {
        if tokio::time::timeout(grace, worker).await.is_err() {
            tracing::warn!(worker = name, "worker did not stop in time");
        }
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Serves `/metrics` alone on its own address (for a scraper on a private network), in the
/// background until the process ends.
fn serve_metrics(address: std::net::SocketAddr, app: epay_server::AppState) -> Result<(), String> {
    let listener =
        std::net::TcpListener::bind(address).map_err(|e| format!("cannot listen for metrics on {address}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    tracing::info!(%address, "metrics listening");
    let router = epay_server::build_metrics_router(app);
    tokio::spawn(async move {
        if let Err(e) = axum_server::from_tcp(listener).serve(router.into_make_service()).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// A client that dribbles its request headers is cut off after `timeout` (slowloris); slow
/// bodies are bounded by the request timeout layer (http/limits.rs).
fn slow_client_guard(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    timeout: Duration,
) {
    builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(timeout);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn migrate(config: Config) -> Result<ExitCode, String> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| e.to_string())?;
    let store = epay_store::connect(config.database_url().expose()).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    println!("epay: {} database is up to date", store.backend());
    Ok(ExitCode::SUCCESS)
}

async fn ledger_check(config: Config) -> Result<ExitCode, String> {
    let store = epay_store::connect(config.database_url().expose()).await.map_err(|e| e.to_string())?;
    let violations = store.check_ledger().await.map_err(|e| e.to_string())?;
    if violations.is_empty() {
        println!(
            "ledger check: OK (every transfer balances within one currency, each currency balances, no card below \
             zero, refunded <= charged <= authorized)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    for v in &violations {
        println!("VIOLATION {}: {}", v.subject, v.problem);
    }
    println!("ledger check: {} violation(s)", violations.len());
    Ok(ExitCode::FAILURE)
}
