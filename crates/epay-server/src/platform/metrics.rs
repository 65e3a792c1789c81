//! Prometheus metrics, kept in process and rendered in the text exposition format at `/metrics`.
//!
//! Counters are per node (Prometheus sums them across nodes); the callback queue depth and the
//! database pool are read at scrape time. A small registry of our own rather than a metrics
//! framework: the set is fixed, and every series is visible in this one file.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use epay_store::{ConfigCacheStats, GroupCommitStats, Payment, ReadAheadStats, StoreHealth};

/// Latency bucket bounds in seconds: from a cached status read to a slow callback receiver.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Observations at or below each bound of [`BUCKETS`] (not yet cumulative).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// HTTP series key: method, route template (never the raw path: ids would explode the series),
/// status code.
type RouteKey = (String, String, u16);
/// Outcome series key: transaction kind, status, reason code.
type OutcomeKey = (String, String, i32);

#[derive(Default)]
pub struct Metrics {
    http: Mutex<BTreeMap<RouteKey, Histogram>>,
    outcomes: Mutex<BTreeMap<OutcomeKey, u64>>,
    /// Callback delivery attempts by result (`delivered`, `failed`).
    deliveries: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        http.entry((method.to_string(), route.to_string(), status)).or_default().observe(elapsed.as_secs_f64());
    }

    /// Counts a transaction reaching `payment.status` (payments, transfers, operations).
    pub fn observe_outcome(&self, payment: &Payment) {
        let mut outcomes = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        *outcomes.entry((payment.kind.to_string(), payment.status.to_string(), payment.reason_code)).or_default() += 1;
    }

    pub fn observe_delivery(&self, delivered: bool, latency: Duration) {
        let result = if delivered { "delivered" } else { "failed" };
        let mut deliveries = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        deliveries.entry(result.to_string()).or_default().observe(latency.as_secs_f64());
    }

    /// The exposition text; `store` and `queue_depth` are read by the caller at scrape time
    /// (None when the database did not answer).
    pub fn render(&self, store: Option<StoreHealth>, queue_depth: Option<i64>) -> String {
        let mut out = String::new();
        out.push_str("# HELP epay_http_request_duration_seconds HTTP requests by method, route and status.\n");
        out.push_str("# TYPE epay_http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in self.http.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let labels = format!("method=\"{method}\",route=\"{}\",status=\"{status}\"", escape(route));
            h.render(&mut out, "epay_http_request_duration_seconds", &labels);
        }
        out.push_str("# HELP epay_transactions_total Transactions reaching a status, by kind and reason code.\n");
        out.push_str("# TYPE epay_transactions_total counter\n");
        for ((kind, status, reason), n) in self.outcomes.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "epay_transactions_total{{kind=\"{}\",status=\"{}\",reason_code=\"{reason}\"}} {n}",
                escape(kind),
                escape(status)
            );
        }
        out.push_str("# HELP epay_callback_delivery_seconds Callback delivery attempts by result.\n");
        out.push_str("# TYPE epay_callback_delivery_seconds histogram\n");
        for (result, h) in self.deliveries.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            h.render(&mut out, "epay_callback_delivery_seconds", &format!("result=\"{result}\""));
        }
        out.push_str("# HELP epay_callback_queue_depth Callback events waiting for delivery.\n");
        out.push_str("# TYPE epay_callback_queue_depth gauge\n");
        if let Some(depth) = queue_depth {
            let _ = writeln!(out, "epay_callback_queue_depth {depth}");
        }
        out.push_str("# HELP epay_db_up Whether the database answered this scrape.\n");
        out.push_str("# TYPE epay_db_up gauge\n");
        let _ = writeln!(out, "epay_db_up {}", u8::from(store.is_some()));
        if let Some(s) = store {
            out.push_str("# HELP epay_db_pool_connections Database pool connections by state.\n");
            out.push_str("# TYPE epay_db_pool_connections gauge\n");
            let busy = (s.pool_size as usize).saturating_sub(s.pool_idle);
            let _ = writeln!(out, "epay_db_pool_connections{{state=\"busy\"}} {busy}");
            let _ = writeln!(out, "epay_db_pool_connections{{state=\"idle\"}} {}", s.pool_idle);
            out.push_str("# HELP epay_db_pool_max_connections The most connections the pool opens.\n");
            out.push_str("# TYPE epay_db_pool_max_connections gauge\n");
            let _ = writeln!(out, "epay_db_pool_max_connections {}", s.pool_max);
        }
        out
    }
}

/// The store's merchant and terminal cache (epay-store `config_cache`), appended to
/// [`Metrics::render`]'s text: reads answered from memory or the database, how often the cache
/// was emptied, and the configuration version it last confirmed (absent while it is off).
pub fn render_config_cache(stats: ConfigCacheStats) -> String {
    let mut out = String::new();
    out.push_str(
        "# HELP epay_config_cache_reads_total Merchant and terminal reads, from memory (hit) or the database.\n",
    );
    out.push_str("# TYPE epay_config_cache_reads_total counter\n");
    let _ = writeln!(out, "epay_config_cache_reads_total{{result=\"hit\"}} {}", stats.hits);
    let _ = writeln!(out, "epay_config_cache_reads_total{{result=\"miss\"}} {}", stats.misses);
    out.push_str(
        "# HELP epay_config_cache_invalidations_total Times the cache was emptied (a change here or elsewhere).\n",
    );
    out.push_str("# TYPE epay_config_cache_invalidations_total counter\n");
    let _ = writeln!(out, "epay_config_cache_invalidations_total {}", stats.invalidations);
    out.push_str("# HELP epay_config_cache_entries Merchants and terminals held in memory.\n");
    out.push_str("# TYPE epay_config_cache_entries gauge\n");
    let _ = writeln!(out, "epay_config_cache_entries {}", stats.entries);
    out.push_str("# HELP epay_config_version The configuration version this node last confirmed.\n");
    out.push_str("# TYPE epay_config_version gauge\n");
    if let Some(version) = stats.version {
        let _ = writeln!(out, "epay_config_version {version}");
    }
    out
}

/// SQLite's group-commit writer (epay-store `sql/writer.rs`), appended to [`Metrics::render`]'s
/// text: COMMITs run and the units of work they carried, so units ÷ commits is the batch size.
/// Nothing on PostgreSQL, where each unit is its own transaction.
pub fn render_group_commits(stats: Option<GroupCommitStats>) -> String {
    let mut out = String::new();
    let Some(stats) = stats else { return out };
    out.push_str("# HELP epay_db_group_commits_total COMMITs run by the SQLite group-commit writer.\n");
    out.push_str("# TYPE epay_db_group_commits_total counter\n");
    let _ = writeln!(out, "epay_db_group_commits_total {}", stats.commits);
    out.push_str("# HELP epay_db_group_commit_units_total Units of work those COMMITs made durable.\n");
    out.push_str("# TYPE epay_db_group_commit_units_total counter\n");
    let _ = writeln!(out, "epay_db_group_commit_units_total {}", stats.units);
    out
}

/// Use cases decided ahead of their writes (epay-store `sql/read_ahead.rs`), on either
/// database, appended to [`Metrics::render`]'s text.
pub fn render_read_ahead(stats: ReadAheadStats) -> String {
    let mut out = String::new();
    out.push_str(
        "# HELP epay_db_read_ahead_payments_total Card payments and transfers, and charges, cancels and refunds \
         of payments, decided on what one read answered: written in one round trip (written), or \
         decided again the locked way because what they read had changed (out_of_date).\n",
    );
    out.push_str("# TYPE epay_db_read_ahead_payments_total counter\n");
    let _ = writeln!(out, "epay_db_read_ahead_payments_total{{outcome=\"written\"}} {}", stats.written);
    let _ = writeln!(out, "epay_db_read_ahead_payments_total{{outcome=\"out_of_date\"}} {}", stats.out_of_date);
    out
}

/// Label values are ours (routes, statuses), but escape anyway so the output always parses.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use epay_domain::{PaymentKind, TxStatus};

    #[test]
    fn histograms_are_cumulative_and_counted() {
        let m = Metrics::default();
        m.observe_request("POST", "/payment/cryptopay", 200, Duration::from_millis(3));
        m.observe_request("POST", "/payment/cryptopay", 200, Duration::from_millis(30));
        m.observe_request("POST", "/payment/cryptopay", 200, Duration::from_secs(60));
        let text = m.render(None, Some(4));
        let labels = r#"method="POST",route="/payment/cryptopay",status="200""#;
        assert!(text.contains(&format!(r#"epay_http_request_duration_seconds_bucket{{{labels},le="0.005"}} 1"#)));
        assert!(text.contains(&format!(r#"epay_http_request_duration_seconds_bucket{{{labels},le="0.05"}} 2"#)));
        assert!(text.contains(&format!(r#"epay_http_request_duration_seconds_bucket{{{labels},le="10"}} 2"#)));
        assert!(text.contains(&format!(r#"epay_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} 3"#)));
        assert!(text.contains(&format!(r#"epay_http_request_duration_seconds_count{{{labels}}} 3"#)));
        assert!(text.contains("epay_callback_queue_depth 4"));
        assert!(text.contains("epay_db_up 0"));
    }

    #[test]
    fn outcomes_are_counted_by_kind_status_and_reason() {
        let m = Metrics::default();
        let p =
            Payment { kind: PaymentKind::Payment, status: TxStatus::Reject, reason_code: 484, ..Payment::default() };
        m.observe_outcome(&p);
        m.observe_outcome(&p);
        let text = m.render(None, None);
        let line = format!(
            r#"epay_transactions_total{{kind="{}",status="{}",reason_code="484"}} 2"#,
            PaymentKind::Payment,
            TxStatus::Reject
        );
        assert!(text.contains(&line), "{text}");
    }

    #[test]
    fn group_commits_are_shown_on_sqlite_only() {
        let text = render_group_commits(Some(GroupCommitStats { commits: 3, units: 7 }));
        assert!(text.contains("\nepay_db_group_commits_total 3\n"), "{text}");
        assert!(text.contains("\nepay_db_group_commit_units_total 7\n"), "{text}");
        assert_eq!(render_group_commits(None), "");
    }

    #[test]
    fn use_cases_decided_ahead_are_counted_by_outcome() {
        let text = render_read_ahead(ReadAheadStats { written: 5, out_of_date: 1 });
        assert!(text.contains("\nepay_db_read_ahead_payments_total{outcome=\"written\"} 5\n"), "{text}");
        assert!(text.contains("\nepay_db_read_ahead_payments_total{outcome=\"out_of_date\"} 1\n"), "{text}");
    }
}
