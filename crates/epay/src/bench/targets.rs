//! Issue 18's targets, judged on one run as ratios of the ceilings measured in that same run, so
//! a report reads "met" or "not met" without a calculator and holds on a busy or a quiet machine
//! alike (absolute rates do not).
//!
//! A flow's share of a ceiling is what its own uses took of it: flows/s × uses per flow ÷ the
//! ceiling (flow 1: 2 requests per flow ÷ no-op HTTP requests/s), as in `report::relate`.

use std::fmt::Write;

use serde::Serialize;

use super::report::{Ceilings, FlowReport};

/// Flow 1's share of the no-op HTTP ceiling: 15% on SQLite, 10% on PostgreSQL.
const FLOW1_SHARE_SQLITE: f64 = 0.15;
const FLOW1_SHARE_POSTGRES: f64 = 0.10;
/// Flow 1's p99, in milliseconds.
const FLOW1_P99_MS: f64 = 15.0;
/// Flow 2's share of the RSA ceiling.
const FLOW2_SHARE_RSA: f64 = 0.45;
/// Status checks' share of the no-op HTTP ceiling.
const STATUS_SHARE: f64 = 0.40;
/// P2P's share of no-op HTTP must reach flow 1's share less 20% of it (a share, so "less 20%"
/// is relative: 20 points off a 15% share would ask nothing).
const P2P_OF_FLOW1: f64 = 0.80;
/// Gateway RSS under load, in MB.
const RSS_MB: f64 = 100.0;

#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    /// The target, in words.
    pub target: String,
    /// The measured value in the target's unit: a share (0–1), milliseconds or MB.
    pub measured: Option<f64>,
    /// What the value must reach (a lower bound) or stay under (an upper bound, see `target`).
    pub required: Option<f64>,
    /// The figures that went in and the formula, in words.
    pub detail: String,
    /// None when this run cannot judge it (flow not run, ceiling or backend unknown).
    pub met: Option<bool>,
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn flow<'a>(flows: &'a [FlowReport], name: &str) -> Option<&'a FlowReport> {
    flows.iter().find(|f| f.name == name)
}

/// A lower-bound check of a flow's share of a ceiling: `share = flows/s × uses ÷ ceiling`.
fn share_check(
    target: String,
    flow: Option<&FlowReport>,
    share: impl Fn(&FlowReport) -> Option<(f64, u32, f64)>,
    required: Option<f64>,
    why_unjudged: Option<&str>,
) -> TargetCheck {
    let Some(f) = flow else {
        return TargetCheck { target, measured: None, required, detail: "flow not run".into(), met: None };
    };
    let Some((ceiling, uses, value)) = share(f) else {
        return TargetCheck {
            target,
            measured: None,
            required,
            detail: "its ceiling was not measured".into(),
            met: None,
        };
    };
    let mut detail = format!("{:.1} flows/s × {uses} ÷ {ceiling:.0}/s = {}", f.flows_per_sec, pct(value));
    if let Some(why) = why_unjudged {
        detail.push_str(&format!(" ({why})"));
    }
    let met = required.map(|r| value >= r);
    TargetCheck { target, measured: Some(value), required, detail, met }
}

/// Judges the targets on one run's flows and ceilings. `backend` (`sqlite`/`postgres`) picks
/// flow 1's threshold.
pub fn judge(flows: &[FlowReport], ceilings: &Ceilings, backend: Option<&str>) -> Vec<TargetCheck> {
    let http = ceilings.http_noop.as_ref().map(|c| c.requests_per_sec).filter(|c| *c > 0.0);
    let rsa = ceilings.rsa.as_ref().map(|c| c.decryptions_per_sec).filter(|c| *c > 0.0);
    let of_http =
        |f: &FlowReport| http.map(|c| (c, f.cost.http_requests, f.flows_per_sec * f64::from(f.cost.http_requests) / c));
    let mut checks = Vec::new();

    let flow1 = flow(flows, "saved-card");
    let (flow1_required, flow1_target, unknown) = match backend {
        Some("sqlite") => (Some(FLOW1_SHARE_SQLITE), "≥ 15% of no-op HTTP on SQLite", None),
        Some("postgres") => (Some(FLOW1_SHARE_POSTGRES), "≥ 10% of no-op HTTP on PostgreSQL", None),
        _ => (None, "≥ 15% (SQLite) / 10% (PostgreSQL) of no-op HTTP", Some("backend unknown: pass --database-url")),
    };
    checks.push(share_check(format!("flow 1 saved-card {flow1_target}"), flow1, of_http, flow1_required, unknown));
    checks.push(match flow1 {
        Some(f) => TargetCheck {
            target: format!("flow 1 saved-card p99 ≤ {FLOW1_P99_MS:.0} ms"),
            measured: Some(f.latency_ms.p99),
            required: Some(FLOW1_P99_MS),
            detail: format!("p99 {:.2} ms", f.latency_ms.p99),
            met: Some(f.latency_ms.p99 <= FLOW1_P99_MS),
        },
        None => TargetCheck {
            target: format!("flow 1 saved-card p99 ≤ {FLOW1_P99_MS:.0} ms"),
            measured: None,
            required: Some(FLOW1_P99_MS),
            detail: "flow not run".into(),
            met: None,
        },
    });

    checks.push(share_check(
        "flow 2 cryptogram ≥ 45% of the RSA ceiling".into(),
        flow(flows, "cryptogram"),
        |f| rsa.map(|c| (c, f.cost.rsa_decryptions, f.flows_per_sec * f64::from(f.cost.rsa_decryptions) / c)),
        Some(FLOW2_SHARE_RSA),
        None,
    ));

    let mut flow3 = share_check(
        "flow 3 charge-refund rises at least as much as flow 1".into(),
        flow(flows, "charge-refund"),
        of_http,
        None,
        Some("its share of no-op HTTP; the rise needs the before run"),
    );
    flow3.met = None;
    checks.push(flow3);

    checks.push(share_check(
        "status ≥ 40% of no-op HTTP".into(),
        flow(flows, "status"),
        of_http,
        Some(STATUS_SHARE),
        None,
    ));

    let flow1_share = flow1.and_then(&of_http).map(|(_, _, v)| v);
    let p2p_required = flow1_share.map(|s| s * P2P_OF_FLOW1);
    let mut p2p = share_check(
        "p2p ≥ flow 1's share of no-op HTTP less 20% of it".into(),
        flow(flows, "p2p"),
        of_http,
        p2p_required,
        None,
    );
    match flow1_share {
        Some(s) => p2p.detail.push_str(&format!("; needed {} × 0.8 = {}", pct(s), pct(s * P2P_OF_FLOW1))),
        None => p2p.detail.push_str("; flow 1's share unknown (run saved-card too)"),
    }
    checks.push(p2p);

    let rss = flows
        .iter()
        .filter_map(|f| f.server_peak_rss_mb)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    checks.push(TargetCheck {
        target: format!("gateway RSS < {RSS_MB:.0} MB under load"),
        measured: rss,
        required: Some(RSS_MB),
        detail: match rss {
            Some(mb) => format!("largest RSS sampled during the flows {mb:.1} MB"),
            None => "not measured (gateway process unknown: --server-pid)".into(),
        },
        met: rss.map(|mb| mb < RSS_MB),
    });
    checks
}

/// The checks as text, one line each.
pub fn write_text(out: &mut String, clients: usize, checks: &[TargetCheck]) {
    let _ = writeln!(out, "\nagainst issue 18's targets ({clients} clients; ratios of this run's own ceilings)");
    let _ = writeln!(
        out,
        "  share of a ceiling = flows/s × uses per flow ÷ ceiling (flow 1: 2 requests ÷ no-op HTTP requests/s)"
    );
    for c in checks {
        let verdict = match c.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "n/a",
        };
        let _ = writeln!(out, "  {verdict:<8} {}: {}", c.target, c.detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{CostReport, Fractions, HttpCeiling, Latency, RsaReport};
    use std::collections::BTreeMap;

    fn latency(p99: f64) -> Latency {
        Latency { p50: p99 / 2.0, p90: p99, p99, max: p99, mean: p99 / 2.0 }
    }

    fn flow(name: &str, per_sec: f64, http: u32, rsa: u32, p99: f64) -> FlowReport {
        FlowReport {
            name: name.into(),
            description: String::new(),
            completed: 1,
            errors_total: 0,
            errors: BTreeMap::new(),
            elapsed_secs: 1.0,
            flows_per_sec: per_sec,
            latency_ms: latency(p99),
            server_peak_rss_mb: Some(40.0),
            server_cpu_ms_per_flow: None,
            bench_cpu_ms_per_flow: None,
            machine_cpu_busy: None,
            cost: CostReport { http_requests: http, rsa_decryptions: rsa, commits: http },
            of_ceilings: Fractions::default(),
            nodes: Vec::new(),
        }
    }

    fn ceilings(http: f64, rsa: f64) -> Ceilings {
        Ceilings {
            http_noop: Some(HttpCeiling {
                path: "/healthz".into(),
                connections: 16,
                requests_per_sec: http,
                latency_ms: latency(1.0),
                errors_total: 0,
                machine_cpu_busy: None,
            }),
            rsa: Some(RsaReport { key_bits: 2048, threads: 2, decryptions_per_sec: rsa, matches_server: Some(true) }),
            commits: None,
        }
    }

    fn verdict(checks: &[TargetCheck], starts: &str) -> Option<bool> {
        checks.iter().find(|c| c.target.starts_with(starts)).unwrap_or_else(|| panic!("no {starts}")).met
    }

    #[test]
    fn judges_shares_of_the_same_runs_ceilings() {
        // 20,000 no-op requests/s: flow 1 at 1,400 flows/s is 2 × 1,400 ÷ 20,000 = 14%.
        let flows = [
            flow("saved-card", 1_400.0, 2, 0, 12.0),
            flow("cryptogram", 2_000.0, 2, 1, 20.0),
            flow("status", 7_000.0, 1, 0, 3.0),
            flow("p2p", 1_100.0, 2, 0, 14.0),
        ];
        let on_sqlite = judge(&flows, &ceilings(20_000.0, 5_000.0), Some("sqlite"));
        assert_eq!(verdict(&on_sqlite, "flow 1 saved-card ≥"), Some(false), "14% < 15%");
        let on_postgres = judge(&flows, &ceilings(20_000.0, 5_000.0), Some("postgres"));
        assert_eq!(verdict(&on_postgres, "flow 1 saved-card ≥"), Some(true), "14% ≥ 10%");
        assert_eq!(verdict(&on_sqlite, "flow 1 saved-card p99"), Some(true));
        assert_eq!(verdict(&on_sqlite, "flow 2"), Some(false), "2,000 ÷ 5,000 = 40% < 45%");
        assert_eq!(verdict(&on_sqlite, "status"), Some(false), "35% < 40%");
        // p2p 2 × 1,100 ÷ 20,000 = 11% against 14% × 0.8 = 11.2%.
        assert_eq!(verdict(&on_sqlite, "p2p"), Some(false));
        assert_eq!(verdict(&on_sqlite, "gateway RSS"), Some(true));
        assert_eq!(verdict(&on_sqlite, "flow 3"), None, "not run");
        let flow1 = on_sqlite.iter().find(|c| c.target.starts_with("flow 1 saved-card ≥")).unwrap();
        assert_eq!(flow1.detail, "1400.0 flows/s × 2 ÷ 20000/s = 14.0%");
    }

    #[test]
    fn cannot_judge_without_backend_or_ceilings() {
        let flows = [flow("saved-card", 1_000.0, 2, 0, 10.0)];
        let checks = judge(&flows, &ceilings(10_000.0, 1.0), None);
        assert_eq!(verdict(&checks, "flow 1 saved-card ≥"), None);
        let checks = judge(&flows, &Ceilings::default(), Some("sqlite"));
        assert_eq!(verdict(&checks, "flow 1 saved-card ≥"), None);
        assert_eq!(verdict(&checks, "p2p"), None, "p2p not run");
    }
}
