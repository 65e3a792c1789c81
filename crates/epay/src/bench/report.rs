//! The bench's results: one structure, written as JSON (`--json`) or as a text table. Each flow
//! is also put against the ceilings, by what one flow asks of each (its `Cost`).

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::flows::Cost;
use super::load::Outcome;
use super::process::CpuUsage;
use super::targets::TargetCheck;

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// From a histogram of microseconds, in milliseconds.
    pub fn from_us(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    pub count: u64,
    /// The first answer of this kind, to tell what went wrong.
    pub example: String,
}

fn errors_of(outcome: &Outcome) -> BTreeMap<String, ErrorReport> {
    outcome
        .errors
        .iter()
        .map(|(k, e)| (k.clone(), ErrorReport { count: e.count, example: e.example.clone() }))
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub http_requests: u32,
    pub rsa_decryptions: u32,
    pub commits: u32,
}

/// A flow's rate against each ceiling: the share of the ceiling the flow's own requests,
/// decryptions and commits took (rate × uses per flow ÷ ceiling), and the most flows/s the
/// tightest ceiling would allow if nothing else cost anything.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Fractions {
    pub http: Option<f64>,
    pub rsa: Option<f64>,
    pub commits: Option<f64>,
    pub bound_flows_per_sec: Option<f64>,
    pub bound_by: Option<String>,
    pub of_bound: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    pub name: String,
    pub description: String,
    pub completed: u64,
    pub errors_total: u64,
    pub errors: BTreeMap<String, ErrorReport>,
    pub elapsed_secs: f64,
    pub flows_per_sec: f64,
    pub latency_ms: Latency,
    /// Largest RSS of the gateway sampled during this flow (every 50 ms).
    pub server_peak_rss_mb: Option<f64>,
    /// Gateway CPU time per completed flow (its database's, if another process, is not in it).
    pub server_cpu_ms_per_flow: Option<f64>,
    /// The load generator's own CPU time per completed flow.
    pub bench_cpu_ms_per_flow: Option<f64>,
    /// Share of all the machine's cores that were busy during the flow, 0–1.
    pub machine_cpu_busy: Option<f64>,
    pub cost: CostReport,
    pub of_ceilings: Fractions,
    /// Each node's part, when the load went to several nodes (the fields above are then the
    /// largest RSS of any node, and the CPU of all nodes together).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeUsage>,
}

/// One gateway node during one flow of a multi-node run.
#[derive(Debug, Clone, Serialize)]
pub struct NodeUsage {
    pub url: String,
    pub pid: Option<u32>,
    /// Largest RSS of this node sampled during the flow.
    pub peak_rss_mb: Option<f64>,
    /// This node's CPU time per completed flow (flows of all nodes).
    pub cpu_ms_per_flow: Option<f64>,
}

/// A gateway node the load goes to, and the process found for it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeServer {
    pub url: String,
    pub pid: Option<u32>,
    /// Peak RSS over the node's whole life (VmHWM), read at the end of the run.
    pub peak_rss_mb: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpCeiling {
    pub path: String,
    pub connections: usize,
    pub requests_per_sec: f64,
    pub latency_ms: Latency,
    pub errors_total: u64,
    pub machine_cpu_busy: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RsaReport {
    pub key_bits: usize,
    pub threads: usize,
    pub decryptions_per_sec: f64,
    pub matches_server: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommitReport {
    pub backend: String,
    pub connections: usize,
    pub durability: String,
    pub commits_per_sec: f64,
    pub latency_ms: Latency,
    pub errors_total: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Ceilings {
    pub http_noop: Option<HttpCeiling>,
    pub rsa: Option<RsaReport>,
    pub commits: Option<CommitReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    /// The gateway's process (one node; with several, see `nodes`).
    pub pid: Option<u32>,
    /// The gateway's peak RSS over its whole life (VmHWM), read at the end of the run; with
    /// several nodes, the largest.
    pub peak_rss_mb: Option<f64>,
    /// Every node, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeServer>,
}

/// The flows and ceilings at one number of clients.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub clients: usize,
    pub flows: Vec<FlowReport>,
    pub ceilings: Ceilings,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The gateway's URL; several nodes' URLs joined with commas.
    pub target: String,
    /// Clients of the run in `flows` and `ceilings` (the main run: 16 if the list has it).
    pub concurrency: usize,
    pub duration_secs: Option<f64>,
    pub count: Option<u64>,
    /// `sqlite` or `postgres`, from the database URL, if the bench was given one.
    pub backend: Option<String>,
    pub server: ServerReport,
    pub flows: Vec<FlowReport>,
    pub ceilings: Ceilings,
    /// Every client count of a `--clients 1,4,16,64` run, in order (empty for one count).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scaling: Vec<RunReport>,
    /// Issue 18's targets, judged on the main run as ratios of its own ceilings.
    pub targets: Vec<TargetCheck>,
    /// What was skipped or could not be read, and why.
    pub notes: Vec<String>,
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A gateway node as the flows see it: its URL, its process if known, and the peak RSS sampled
/// during one flow.
pub struct NodeSample<'a> {
    pub url: &'a str,
    pub pid: Option<u32>,
    pub rss_peak: Option<u64>,
}

impl FlowReport {
    pub fn new(
        name: &str,
        description: &str,
        outcome: &Outcome,
        cost: Cost,
        nodes: &[NodeSample],
        cpu: CpuUsage,
    ) -> FlowReport {
        let per_flow_ms =
            |secs: Option<f64>| secs.filter(|_| outcome.completed > 0).map(|s| s * 1000.0 / outcome.completed as f64);
        let rss_peak = nodes.iter().filter_map(|n| n.rss_peak).max();
        let per_node = if nodes.len() > 1 {
            nodes
                .iter()
                .enumerate()
                .map(|(i, n)| NodeUsage {
                    url: n.url.to_string(),
                    pid: n.pid,
                    peak_rss_mb: n.rss_peak.map(mb),
                    cpu_ms_per_flow: per_flow_ms(cpu.per_server_secs.get(i).copied().flatten()),
                })
                .collect()
        } else {
            Vec::new()
        };
        FlowReport {
            name: name.into(),
            description: description.into(),
            completed: outcome.completed,
            errors_total: outcome.error_count(),
            errors: errors_of(outcome),
            elapsed_secs: outcome.elapsed.as_secs_f64(),
            flows_per_sec: outcome.per_sec(),
            latency_ms: Latency::from_us(&outcome.latency_us),
            server_peak_rss_mb: rss_peak.map(mb),
            server_cpu_ms_per_flow: per_flow_ms(cpu.server_secs),
            bench_cpu_ms_per_flow: per_flow_ms(cpu.bench_secs),
            machine_cpu_busy: cpu.machine_busy,
            cost: CostReport {
                http_requests: cost.http_requests,
                rsa_decryptions: cost.rsa_decryptions,
                commits: cost.commits,
            },
            of_ceilings: Fractions::default(),
            nodes: per_node,
        }
    }
}

/// Fills each flow's `of_ceilings` from the ceilings measured with it.
fn relate(ceilings: &Ceilings, flows: &mut [FlowReport]) {
    let http = ceilings.http_noop.as_ref().map(|c| c.requests_per_sec);
    let rsa = ceilings.rsa.as_ref().map(|c| c.decryptions_per_sec);
    let commits = ceilings.commits.as_ref().map(|c| c.commits_per_sec);
    for f in flows {
        let mut fr = Fractions::default();
        let mut bound: Option<(f64, &str)> = None;
        for (name, ceiling, uses, slot) in [
            ("http", http, f.cost.http_requests, &mut fr.http),
            ("rsa", rsa, f.cost.rsa_decryptions, &mut fr.rsa),
            ("commits", commits, f.cost.commits, &mut fr.commits),
        ] {
            let Some(ceiling) = ceiling.filter(|c| *c > 0.0 && uses > 0) else { continue };
            *slot = Some(f.flows_per_sec * f64::from(uses) / ceiling);
            let allows = ceiling / f64::from(uses);
            if bound.is_none_or(|(b, _)| allows < b) {
                bound = Some((allows, name));
            }
        }
        if let Some((allows, name)) = bound {
            fr.bound_flows_per_sec = Some(allows);
            fr.bound_by = Some(name.into());
            fr.of_bound = Some(f.flows_per_sec / allows);
        }
        f.of_ceilings = fr;
    }
}

impl Report {
    /// Fills each flow's `of_ceilings` from the ceilings of its own run.
    pub fn relate_to_ceilings(&mut self) {
        relate(&self.ceilings, &mut self.flows);
        for run in &mut self.scaling {
            relate(&run.ceilings, &mut run.flows);
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let limit = match (self.duration_secs, self.count) {
            (Some(d), Some(n)) => format!("{d} s or {n} flows per flow"),
            (Some(d), None) => format!("{d} s per flow"),
            (None, Some(n)) => format!("{n} flows per flow"),
            (None, None) => String::new(),
        };
        let pid = if self.server.nodes.is_empty() {
            self.server.pid.map(|p| format!("server pid {p}")).unwrap_or_else(|| "server pid unknown".into())
        } else {
            let pids: Vec<String> =
                self.server.nodes.iter().map(|n| n.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into())).collect();
            format!("{} nodes, server pids {}", self.server.nodes.len(), pids.join(","))
        };
        let clients = if self.scaling.is_empty() {
            format!("{} clients", self.concurrency)
        } else {
            let all: Vec<String> = self.scaling.iter().map(|r| r.clients.to_string()).collect();
            format!("clients {} (in detail: {})", all.join(","), self.concurrency)
        };
        let _ = writeln!(out, "epay bench: {} | {clients} | {limit} | {pid}\n", self.target);
        let _ = writeln!(
            out,
            "{:<14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>6}",
            "flow", "flows/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "srv MB", "srv ms/fl", "cpu%"
        );
        let opt = |v: Option<f64>, prec: usize| v.map(|v| format!("{v:.prec$}")).unwrap_or_else(|| "-".into());
        for f in &self.flows {
            let l = &f.latency_ms;
            let _ = writeln!(
                out,
                "{:<14} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>9} {:>9} {:>6}",
                f.name,
                f.flows_per_sec,
                l.p50,
                l.p90,
                l.p99,
                l.max,
                f.errors_total,
                opt(f.server_peak_rss_mb, 1),
                opt(f.server_cpu_ms_per_flow, 2),
                opt(f.machine_cpu_busy.map(|b| b * 100.0), 0)
            );
        }
        for f in self.flows.iter().filter(|f| f.errors_total > 0) {
            let _ = writeln!(out, "\nerrors in {}:", f.name);
            for (kind, e) in &f.errors {
                let _ = writeln!(out, "  {:>7} x {kind}  e.g. {}", e.count, e.example);
            }
        }
        if self.flows.iter().any(|f| !f.nodes.is_empty()) {
            let _ = writeln!(out, "\nper node (client i -> node i mod {})", self.server.nodes.len());
            let _ = writeln!(out, "{:<14} {:<28} {:>8} {:>9} {:>9}", "flow", "node", "pid", "srv MB", "srv ms/fl");
            for f in &self.flows {
                for n in &f.nodes {
                    let _ = writeln!(
                        out,
                        "{:<14} {:<28} {:>8} {:>9} {:>9}",
                        f.name,
                        n.url,
                        n.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                        opt(n.peak_rss_mb, 1),
                        opt(n.cpu_ms_per_flow, 2)
                    );
                }
            }
        }
        if let Some(mb) = self.server.peak_rss_mb {
            let which = if self.server.nodes.is_empty() { "" } else { ", largest node" };
            let _ = writeln!(out, "\nserver peak RSS (VmHWM, whole life{which}): {mb:.1} MB");
        }

        let _ = writeln!(out, "\nceilings of this machine");
        if let Some(c) = &self.ceilings.http_noop {
            let _ = writeln!(
                out,
                "  no-op HTTP (GET {}, {} connections): {:.0} requests/s, p99 {:.2} ms{}",
                c.path,
                c.connections,
                c.requests_per_sec,
                c.latency_ms.p99,
                if c.errors_total > 0 { format!(", {} errors", c.errors_total) } else { String::new() }
            );
        }
        if let Some(c) = &self.ceilings.rsa {
            let matches = match c.matches_server {
                Some(true) => ", the key the gateway serves",
                Some(false) => ", NOT the key the gateway serves",
                None => "",
            };
            let _ = writeln!(
                out,
                "  RSA-{} private decryptions: {:.0}/s on {} threads{matches}",
                c.key_bits, c.decryptions_per_sec, c.threads
            );
        }
        if let Some(c) = &self.ceilings.commits {
            let _ = writeln!(
                out,
                "  durable commits ({}, {} connections, {}): {:.0}/s, p99 {:.2} ms",
                c.backend, c.connections, c.durability, c.commits_per_sec, c.latency_ms.p99
            );
        }

        let _ = writeln!(out, "\neach flow as a share of the ceilings (uses per flow: HTTP requests, RSA, commits)");
        let _ =
            writeln!(out, "{:<14} {:>12} {:>12} {:>12}   tightest ceiling allows", "flow", "HTTP", "RSA", "commits");
        let share = |uses: u32, v: Option<f64>| match v {
            Some(v) => format!("{uses} x {:.0}%", v * 100.0),
            None if uses == 0 => "-".into(),
            None => format!("{uses} x ?"),
        };
        for f in &self.flows {
            let o = &f.of_ceilings;
            let bound = match (o.bound_flows_per_sec, &o.bound_by, o.of_bound) {
                (Some(b), Some(by), Some(of)) => format!("{b:.0} flows/s ({by}); reached {:.0}%", of * 100.0),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "{:<14} {:>12} {:>12} {:>12}   {bound}",
                f.name,
                share(f.cost.http_requests, o.http),
                share(f.cost.rsa_decryptions, o.rsa),
                share(f.cost.commits, o.commits)
            );
        }
        if !self.scaling.is_empty() {
            self.scaling_text(&mut out);
        }
        if !self.targets.is_empty() {
            super::targets::write_text(&mut out, self.concurrency, &self.targets);
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nnotes");
            for n in &self.notes {
                let _ = writeln!(out, "  {n}");
            }
        }
        out
    }

    /// One line per flow and client count: rate, latency, and the no-op HTTP ceiling measured
    /// with the same clients (and the flow's requests as a share of it).
    fn scaling_text(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "\nscaling (each client count: its flows, then the no-op HTTP ceiling with the same clients)"
        );
        let _ = writeln!(
            out,
            "{:<14} {:>7} {:>9} {:>8} {:>8} {:>7} {:>12} {:>8}",
            "flow", "clients", "flows/s", "p50 ms", "p99 ms", "errors", "HTTP ceil/s", "of HTTP"
        );
        let names: Vec<&str> =
            self.scaling.first().map(|r| r.flows.iter().map(|f| f.name.as_str()).collect()).unwrap_or_default();
        for name in names {
            for run in &self.scaling {
                let Some(f) = run.flows.iter().find(|f| f.name == name) else { continue };
                let ceiling = run.ceilings.http_noop.as_ref().map(|c| format!("{:.0}", c.requests_per_sec));
                let share = f.of_ceilings.http.map(|v| format!("{:.1}%", v * 100.0));
                let _ = writeln!(
                    out,
                    "{:<14} {:>7} {:>9.1} {:>8.2} {:>8.2} {:>7} {:>12} {:>8}",
                    f.name,
                    run.clients,
                    f.flows_per_sec,
                    f.latency_ms.p50,
                    f.latency_ms.p99,
                    f.errors_total,
                    ceiling.unwrap_or_else(|| "-".into()),
                    share.unwrap_or_else(|| "-".into())
                );
            }
        }
        for run in self.scaling.iter().filter(|r| r.clients != self.concurrency) {
            for f in run.flows.iter().filter(|f| f.errors_total > 0) {
                let _ = writeln!(out, "\nerrors in {} at {} clients:", f.name, run.clients);
                for (kind, e) in &f.errors {
                    let _ = writeln!(out, "  {:>7} x {kind}  e.g. {}", e.count, e.example);
                }
            }
        }
    }
}
