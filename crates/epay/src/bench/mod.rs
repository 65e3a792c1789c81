//! `epay bench`: a load generator that runs as its own process against a running gateway over
//! HTTP, and measures the machine's ceilings in the same run so every rate reads as a fraction
//! of what this machine can do at all. See docs/performance.md.
//!
//! - `flows`: the merchant flows (payments, status, transfers) and their setup;
//! - `load`: the closed-loop workers and their histograms;
//! - `ceilings`: no-op HTTP, RSA decryption and durable-commit ceilings;
//! - `process`: the gateway's RSS and CPU, read from `/proc`;
//! - `report`: the results as text or JSON;
//! - `targets`: issue 18's targets judged as ratios of the run's own ceilings.
//!
//! One run may load several gateway nodes on one database (`--url a,b,c`: client i talks to
//! node i mod n) and repeat everything at several client counts (`--clients 1,4,16,64`).

mod ceilings;
mod flows;
mod load;
mod process;
mod report;
mod targets;

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
use report::{
    Ceilings, CommitReport, FlowReport, HttpCeiling, Latency, NodeSample, NodeServer, Report, RsaReport, RunReport,
    ServerReport,
};

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// The gateway to load; several nodes on one database as a list (`--url http://a,http://b`
    /// or repeated): client i talks to node i mod n.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:8080")]
    pub url: Vec<String>,
    /// Concurrent clients, each a closed loop on its own connection; a list (1,4,16,64) runs
    /// every flow and the ceilings at each count and adds a scaling table.
    #[arg(long = "clients", alias = "concurrency", value_delimiter = ',', default_value = "16")]
    pub clients: Vec<usize>,
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
    /// The gateway's process id, for its RSS and CPU; one per --url, in the same order;
    /// default: the process listening on each URL's port, if this machine has it.
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
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

/// The main run of a client list, whose flows and ceilings the report details and the targets
/// are judged on: 16 clients (issue 18's targets are stated at 16) if listed, else the last.
fn main_run(clients: &[usize]) -> usize {
    clients.iter().position(|c| *c == 16).unwrap_or(clients.len() - 1)
}

/// A gateway node the load goes to.
struct Node {
    url: String,
    pid: Option<u32>,
}

/// The nodes of `--url`, each with its process: from `--server-pid` (one per URL), or the
/// process listening on the URL's port.
fn nodes(args: &BenchArgs, notes: &mut Vec<String>) -> Result<Vec<Node>, String> {
    if args.url.is_empty() {
        return Err("--url needs at least one gateway".into());
    }
    if !args.server_pid.is_empty() && args.server_pid.len() != args.url.len() {
        return Err(format!(
            "--server-pid lists {} processes for {} --url nodes: give one per node, in the same order",
            args.server_pid.len(),
            args.url.len()
        ));
    }
    let mut nodes = Vec::with_capacity(args.url.len());
    for (i, text) in args.url.iter().enumerate() {
        let url = reqwest::Url::parse(text).map_err(|e| format!("--url {text}: {e}"))?;
        let pid =
            args.server_pid.get(i).copied().or_else(|| url.port_or_known_default().and_then(process::find_listener));
        if pid.is_none() {
            notes.push(format!(
                "server RSS and CPU of {text} not measured: pass --server-pid (the gateway is not found by its port)"
            ));
        }
        nodes.push(Node { url: text.trim_end_matches('/').to_string(), pid });
    }
    Ok(nodes)
}

/// Runs the bench; exits 1 if any flow had an error or completed nothing (after the report).
pub async fn run(args: BenchArgs, config: &Config) -> Result<ExitCode, String> {
    let mut clients = Vec::new();
    for c in &args.clients {
        if *c == 0 {
            return Err("--clients must be at least 1".into());
        }
        if !clients.contains(c) {
            clients.push(*c);
        }
    }
    let Some(&most) = clients.iter().max() else { return Err("--clients needs at least one count".into()) };
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
    let nodes = nodes(&args, &mut notes)?;
    let pids: Vec<Option<u32>> = nodes.iter().map(|n| n.pid).collect();

    let target = flows::Target {
        urls: nodes.iter().map(|n| n.url.clone()).collect(),
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        terminal: args.terminal.clone(),
        one_step_terminal: args.one_step_terminal.clone(),
        p2p_terminal: args.p2p_terminal.clone(),
        payout_terminal: args.payout_terminal.clone(),
    };
    // One setup for the largest count; a smaller count uses the first of its workers, which
    // are spread over the nodes the same way.
    let mut workers = flows::setup(target, &flows, most).await?;
    // A count-only run still needs a time for the ceilings.
    let ceiling_time = duration.unwrap_or(Duration::from_secs(5));

    let mut runs = Vec::with_capacity(clients.len());
    for &n in &clients {
        let rest = workers.split_off(n);
        let mut flow_reports = Vec::new();
        for flow in &flows {
            for w in &mut workers {
                w.flow = *flow;
            }
            if !args.warmup.is_zero() {
                workers = load::run(workers, Limit { duration: Some(args.warmup), count: None }).await.0;
            }
            let samplers: Vec<Option<RssSampler>> = pids.iter().map(|p| p.map(RssSampler::start)).collect();
            let cpu = CpuMark::now(&pids);
            let (back, outcome) = load::run(workers, limit).await;
            workers = back;
            let usage = cpu.since(&pids);
            let mut samples = Vec::with_capacity(nodes.len());
            for (node, sampler) in nodes.iter().zip(samplers) {
                let rss_peak = match sampler {
                    Some(s) => s.finish().await,
                    None => None,
                };
                samples.push(NodeSample { url: &node.url, pid: node.pid, rss_peak });
            }
            flow_reports.push(FlowReport::new(flow.name(), flow.describe(), &outcome, flow.cost(), &samples, usage));
        }
        workers.extend(rest);
        let ceilings = if args.no_ceilings {
            Ceilings::default()
        } else {
            load_ceilings(&args, config, &nodes, n, ceiling_time, &mut notes).await
        };
        runs.push(RunReport { clients: n, flows: flow_reports, ceilings });
    }
    drop(workers);

    if args.no_ceilings {
        notes.push("ceilings skipped (--no-ceilings)".into());
    } else if let Some(rsa) = rsa_ceiling(&args, config, &nodes[0].url, ceiling_time, &mut notes).await {
        // Decryptions on every core do not depend on the number of clients: measured once.
        for run in &mut runs {
            run.ceilings.rsa = Some(rsa.clone());
        }
    }
    // Each client count's ceilings add the same notes.
    let mut unique: Vec<String> = Vec::with_capacity(notes.len());
    for n in notes {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    let notes = unique;

    let clean = runs.iter().all(|r| r.flows.iter().all(|f| f.completed > 0 && f.errors_total == 0));
    let main = runs[main_run(&clients)].clone();
    if runs.len() == 1 {
        runs.clear();
    }
    let backend = config.database_url.as_ref().and_then(|u| backend_of(u.expose()));
    let peak = |pid: Option<u32>| pid.and_then(process::peak_rss_bytes).map(report::mb);
    let server = ServerReport {
        pid: if nodes.len() == 1 { nodes[0].pid } else { None },
        peak_rss_mb: nodes.iter().filter_map(|n| peak(n.pid)).reduce(f64::max),
        nodes: if nodes.len() > 1 {
            nodes.iter().map(|n| NodeServer { url: n.url.clone(), pid: n.pid, peak_rss_mb: peak(n.pid) }).collect()
        } else {
            Vec::new()
        },
    };
    let mut report = Report {
        target: args.url.join(","),
        concurrency: main.clients,
        duration_secs: duration.map(|d| d.as_secs_f64()),
        count: args.count,
        backend: backend.map(str::to_string),
        server,
        flows: main.flows,
        ceilings: main.ceilings,
        scaling: runs,
        targets: Vec::new(),
        notes,
    };
    report.relate_to_ceilings();
    report.targets = targets::judge(&report.flows, &report.ceilings, report.backend.as_deref());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `sqlite` or `postgres`, by the database URL's scheme.
fn backend_of(url: &str) -> Option<&'static str> {
    if url.starts_with("sqlite:") {
        Some("sqlite")
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Some("postgres")
    } else {
        None
    }
}

/// The ceilings that depend on the number of clients, measured with `clients` of them: no-op
/// HTTP (spread over the nodes as the flows are) and durable commits.
async fn load_ceilings(
    args: &BenchArgs,
    config: &Config,
    nodes: &[Node],
    clients: usize,
    duration: Duration,
    notes: &mut Vec<String>,
) -> Ceilings {
    let mut ceilings = Ceilings::default();
    let pids: Vec<Option<u32>> = nodes.iter().map(|n| n.pid).collect();
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();

    let cpu = CpuMark::now(&pids);
    let noop = ceilings::http_noop(&urls, &args.noop_path, clients, args.warmup, duration).await;
    ceilings.http_noop = Some(HttpCeiling {
        path: args.noop_path.clone(),
        connections: clients,
        requests_per_sec: noop.per_sec(),
        latency_ms: Latency::from_us(&noop.latency_us),
        errors_total: noop.error_count(),
        machine_cpu_busy: cpu.since(&pids).machine_busy,
    });

    match &config.database_url {
        Some(url) => match ceilings::commits(url.expose(), clients, args.warmup, duration).await {
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

/// RSA decryptions on every core with the gateway's key; `url` is a node that serves its
/// public half, to tell whether the key is the one the gateway uses.
async fn rsa_ceiling(
    args: &BenchArgs,
    config: &Config,
    url: &str,
    duration: Duration,
    notes: &mut Vec<String>,
) -> Option<RsaReport> {
    let key_path = args.rsa_key.clone().unwrap_or_else(|| config.rsa_key_path());
    if !key_path.exists() {
        notes.push(format!("RSA ceiling not measured: no key at {} (pass --rsa-key)", key_path.display()));
        return None;
    }
    let server_pem = epay_client::Client::new(url).public_key_pem().await.ok();
    match ceilings::rsa(&key_path, duration, server_pem.as_deref()).await {
        Ok(c) => Some(RsaReport {
            key_bits: c.key_bits,
            threads: c.threads,
            decryptions_per_sec: c.decryptions_per_sec,
            matches_server: c.matches_server,
        }),
        Err(e) => {
            notes.push(format!("RSA ceiling not measured: {e}"));
            None
        }
    }
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

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> BenchArgs {
        use clap::Parser;
        Cli::parse_from(std::iter::once("bench").chain(args.iter().copied())).bench
    }

    #[test]
    fn the_main_run_is_16_clients_or_the_last() {
        assert_eq!(main_run(&[16]), 0);
        assert_eq!(main_run(&[1, 4, 16, 64]), 2);
        assert_eq!(main_run(&[1, 4]), 1);
    }

    #[test]
    fn client_and_url_lists_parse_as_lists_or_single_values() {
        let one = parse(&["--concurrency", "16"]);
        assert_eq!(one.clients, [16]);
        assert_eq!(one.url, ["http://127.0.0.1:8080"]);
        let many = parse(&[
            "--clients",
            "1,4,16,64",
            "--url",
            "http://a:1,http://b:2",
            "--url",
            "http://c:3",
            "--server-pid",
            "10,20,30",
        ]);
        assert_eq!(many.clients, [1, 4, 16, 64]);
        assert_eq!(many.url, ["http://a:1", "http://b:2", "http://c:3"]);
        assert_eq!(many.server_pid, [10, 20, 30]);
    }

    #[test]
    fn a_pid_list_must_match_the_nodes() {
        let err = nodes(&parse(&["--url", "http://a:1,http://b:2", "--server-pid", "10"]), &mut Vec::new())
            .err()
            .expect("one pid for two nodes");
        assert!(err.contains("one per node"), "{err}");
        let found =
            nodes(&parse(&["--url", "http://a:1/,http://b:2", "--server-pid", "10,20"]), &mut Vec::new()).unwrap();
        let found: Vec<(&str, Option<u32>)> = found.iter().map(|n| (n.url.as_str(), n.pid)).collect();
        assert_eq!(found, [("http://a:1", Some(10)), ("http://b:2", Some(20))]);
    }
}
