//! `epay bench`: a load generator that runs as its own process against a running gateway over
//! HTTP, and measures the machine's ceilings in the same run so every rate reads as a fraction
//! of what this machine can do at all. See docs/performance.md.
//!
//! - `flows`: the merchant flows (payments, status, transfers) and their setup;
//! - `load`: the closed-loop workers and their histograms;
//! - `ceilings`: no-op HTTP, RSA decryption and durable-commit ceilings;
//! - `process`: the gateway's RSS and CPU, read from `/proc`;
//! - `report`: the results as text or JSON.

mod ceilings;
mod flows;
mod load;
mod process;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use epay_server::runtime::seed::{
    ONE_STEP_TERMINAL, P2P_TERMINAL, PAYMENT_TERMINAL, PAYOUT_TERMINAL, TEST_CLIENT_ID, TEST_CLIENT_SECRET,
};
use epay_server::Config;

pub use flows::Flow;
use load::Limit;
use process::{CpuMark, RssSampler};
use report::{Ceilings, CommitReport, FlowReport, HttpCeiling, Latency, Report, RsaReport, ServerReport};

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// The gateway to load.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Concurrent clients, each a closed loop on its own connection.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// How long each flow (and each ceiling) runs: 10s, 500ms, 1m. Default 10s unless --count.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Flows to complete per flow (with --duration, whichever comes first).
    #[arg(long)]
    pub count: Option<u64>,
    /// Unmeasured load before each flow and ceiling (connections, caches, the SQLite WAL's size).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub warmup: Duration,
    /// Which flows to run, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "saved-card,cryptogram,charge-refund,status,p2p,aft-oct"
    )]
    pub flows: Vec<Flow>,
    /// Merchant client id.
    #[arg(long, default_value = TEST_CLIENT_ID)]
    pub client_id: String,
    /// Merchant client secret.
    #[arg(long, default_value = TEST_CLIENT_SECRET)]
    pub client_secret: String,
    /// Two-step payments terminal (cryptogram, charge-refund and status flows).
    #[arg(long, default_value = PAYMENT_TERMINAL)]
    pub terminal: String,
    /// One-step payments terminal (saved-card flow).
    #[arg(long, default_value = ONE_STEP_TERMINAL)]
    pub one_step_terminal: String,
    /// P2P transfers terminal, with a fee (p2p flow).
    #[arg(long, default_value = P2P_TERMINAL)]
    pub p2p_terminal: String,
    /// Terminal that takes AFTs and pays OCTs from its merchant balance (aft-oct flow).
    #[arg(long, default_value = PAYOUT_TERMINAL)]
    pub payout_terminal: String,
    /// The gateway's cryptogram RSA key (PKCS#8 PEM) for the RSA ceiling; default: the
    /// configured rsa_key_path (<data-dir>/keys/cryptogram-rsa.pem).
    #[arg(long)]
    pub rsa_key: Option<PathBuf>,
    /// The gateway's process id, for its RSS and CPU; default: the process listening on the
    /// URL's port, if this machine has it.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Path of the no-op request of the HTTP ceiling.
    #[arg(long, default_value = "/healthz")]
    pub noop_path: String,
    /// Skip the ceilings (no-op HTTP, RSA, database commits).
    #[arg(long)]
    pub no_ceilings: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `10s`, `500ms`, `1.5s`, `2m`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit_secs) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("{text:?} is not a duration like 10s or 500ms"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} is not a duration like 10s or 500ms"));
    }
    Ok(Duration::from_secs_f64(value * unit_secs))
}

/// Runs the bench; exits 1 if any flow had an error or completed nothing (after the report).
pub async fn run(args: BenchArgs, config: &Config) -> Result<ExitCode, String> {
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    let duration = match (args.duration, args.count) {
        (None, None) => Some(Duration::from_secs(10)),
        (d, _) => d,
    };
    let limit = Limit { duration, count: args.count };
    let mut flows = Vec::new();
    for f in &args.flows {
        if !flows.contains(f) {
            flows.push(*f);
        }
    }
    let mut notes = Vec::new();

    let url = reqwest::Url::parse(&args.url).map_err(|e| format!("--url {}: {e}", args.url))?;
    let server_pid = args.server_pid.or_else(|| url.port_or_known_default().and_then(process::find_listener));
    if server_pid.is_none() {
        notes.push("server RSS and CPU not measured: pass --server-pid (the gateway is not found by its port)".into());
    }

    let target = flows::Target {
        url: args.url.trim_end_matches('/').to_string(),
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        terminal: args.terminal.clone(),
        one_step_terminal: args.one_step_terminal.clone(),
        p2p_terminal: args.p2p_terminal.clone(),
        payout_terminal: args.payout_terminal.clone(),
    };
    let mut workers = flows::setup(target, &flows, args.concurrency).await?;

    let mut flow_reports = Vec::new();
    for flow in &flows {
        for w in &mut workers {
            w.flow = *flow;
        }
        if !args.warmup.is_zero() {
            workers = load::run(workers, Limit { duration: Some(args.warmup), count: None }).await.0;
        }
        let sampler = server_pid.map(RssSampler::start);
        let cpu = CpuMark::now(server_pid);
        let (back, outcome) = load::run(workers, limit).await;
        workers = back;
        let usage = cpu.since(server_pid);
        let rss = match sampler {
            Some(s) => s.finish().await,
            None => None,
        };
        flow_reports.push(FlowReport::new(flow.name(), flow.describe(), &outcome, flow.cost(), rss, usage));
    }
    drop(workers);

    let mut ceilings = Ceilings::default();
    if args.no_ceilings {
        notes.push("ceilings skipped (--no-ceilings)".into());
    } else {
        // A count-only run still needs a time for the ceilings.
        let ceiling_time = duration.unwrap_or(Duration::from_secs(5));
        ceilings = measure_ceilings(&args, config, server_pid, ceiling_time, &mut notes).await;
    }

    let mut report = Report {
        target: args.url.clone(),
        concurrency: args.concurrency,
        duration_secs: duration.map(|d| d.as_secs_f64()),
        count: args.count,
        server: ServerReport {
            pid: server_pid,
            peak_rss_mb: server_pid.and_then(process::peak_rss_bytes).map(report::mb),
        },
        flows: flow_reports,
        ceilings,
        notes,
    };
    report.relate_to_ceilings();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        print!("{}", report.to_text());
    }
    let clean = report.flows.iter().all(|f| f.completed > 0 && f.errors_total == 0);
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn measure_ceilings(
    args: &BenchArgs,
    config: &Config,
    server_pid: Option<u32>,
    duration: Duration,
    notes: &mut Vec<String>,
) -> Ceilings {
    let mut ceilings = Ceilings::default();

    let cpu = CpuMark::now(server_pid);
    let noop = ceilings::http_noop(&args.url, &args.noop_path, args.concurrency, args.warmup, duration).await;
    ceilings.http_noop = Some(HttpCeiling {
        path: args.noop_path.clone(),
        connections: args.concurrency,
        requests_per_sec: noop.per_sec(),
        latency_ms: Latency::from_us(&noop.latency_us),
        errors_total: noop.error_count(),
        machine_cpu_busy: cpu.since(server_pid).machine_busy,
    });

    let key_path = args.rsa_key.clone().unwrap_or_else(|| config.rsa_key_path());
    if key_path.exists() {
        let server_pem = epay_client::Client::new(&args.url).public_key_pem().await.ok();
        match ceilings::rsa(&key_path, duration, server_pem.as_deref()).await {
            Ok(c) => {
                ceilings.rsa = Some(RsaReport {
                    key_bits: c.key_bits,
                    threads: c.threads,
                    decryptions_per_sec: c.decryptions_per_sec,
                    matches_server: c.matches_server,
                })
            }
            Err(e) => notes.push(format!("RSA ceiling not measured: {e}")),
        }
    } else {
        notes.push(format!("RSA ceiling not measured: no key at {} (pass --rsa-key)", key_path.display()));
    }

    match &config.database_url {
        Some(url) => match ceilings::commits(url.expose(), args.concurrency, args.warmup, duration).await {
            Ok(c) => {
                ceilings.commits = Some(CommitReport {
                    backend: c.backend.into(),
                    connections: c.connections,
                    durability: c.durability,
                    commits_per_sec: c.outcome.per_sec(),
                    latency_ms: Latency::from_us(&c.outcome.latency_us),
                    errors_total: c.outcome.error_count(),
                })
            }
            Err(e) => notes.push(format!("commit ceiling not measured: {e}")),
        },
        None => notes.push("commit ceiling not measured: pass the gateway's --database-url (or DATABASE_URL)".into()),
    }
    ceilings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
