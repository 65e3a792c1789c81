//! Smoke run of `epay bench` against a real gateway on each backend: a couple of seconds per
//! flow, every flow and every ceiling, so the load generator keeps working. The numbers it
//! prints are not checked here (a test machine is shared); docs/performance.md has real runs.

mod common;

use common::{backends, shared_keys, Gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_smoke_run_completes_every_flow_without_errors() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let rsa_key = shared_keys().0.display().to_string();
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_epay"))
            .args(["bench", "--url", &gw.url, "--duration", "2s", "--warmup", "0s", "--concurrency", "4", "--json"])
            .args(["--rsa-key", &rsa_key, "--database-url", &gw.database_url])
            .env_remove("EPAY_CONFIG")
            .env_remove("DATABASE_URL")
            .output()
            .await
            .expect("run epay bench");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{backend:?}: epay bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
        let report: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{backend:?}: not JSON ({e}):\n{stdout}"));

        let flows = report["flows"].as_array().expect("flows");
        let names: Vec<&str> = flows.iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["saved-card", "cryptogram", "charge-refund", "status", "p2p", "aft-oct"], "{backend:?}");
        for f in flows {
            assert!(f["completed"].as_u64().unwrap() > 0, "{backend:?}: {f}");
            assert_eq!(f["errors_total"], 0, "{backend:?}: {f}");
            assert!(f["flows_per_sec"].as_f64().unwrap() > 0.0, "{backend:?}: {f}");
            let latency = &f["latency_ms"];
            assert!(latency["p50"].as_f64().unwrap() <= latency["p99"].as_f64().unwrap(), "{backend:?}: {f}");
            assert!(f["server_peak_rss_mb"].as_f64().unwrap() > 0.0, "{backend:?}: the gateway is found by its port");
        }

        let ceilings = &report["ceilings"];
        assert!(ceilings["http_noop"]["requests_per_sec"].as_f64().unwrap() > 0.0, "{backend:?}: {ceilings}");
        assert_eq!(ceilings["http_noop"]["errors_total"], 0, "{backend:?}: {ceilings}");
        assert!(ceilings["rsa"]["decryptions_per_sec"].as_f64().unwrap() > 0.0, "{backend:?}: {ceilings}");
        assert_eq!(ceilings["rsa"]["matches_server"], true, "{backend:?}: {ceilings}");
        assert!(ceilings["commits"]["commits_per_sec"].as_f64().unwrap() > 0.0, "{backend:?}: {ceilings}");
        assert_eq!(ceilings["commits"]["errors_total"], 0, "{backend:?}: {ceilings}");
        let expected_backend = match backend {
            common::Backend::Sqlite => "sqlite",
            common::Backend::Postgres => "postgres",
        };
        assert_eq!(ceilings["commits"]["backend"], expected_backend);
        // Each flow is related to the ceilings it uses.
        assert!(flows[1]["of_ceilings"]["rsa"].as_f64().unwrap() > 0.0, "{backend:?}: {}", flows[1]);
        assert!(flows[0]["of_ceilings"]["commits"].as_f64().unwrap() > 0.0, "{backend:?}: {}", flows[0]);

        // One client count: no scaling table; the targets are judged on this run's ceilings.
        assert!(report.get("scaling").is_none(), "{backend:?}: one client count has no scaling table");
        assert_eq!(report["backend"], expected_backend);
        let targets = report["targets"].as_array().expect("targets");
        let flow1 = targets.iter().find(|t| t["target"].as_str().unwrap().starts_with("flow 1 saved-card ≥")).unwrap();
        let share = flows[0]["flows_per_sec"].as_f64().unwrap() * 2.0
            / ceilings["http_noop"]["requests_per_sec"].as_f64().unwrap();
        assert!((flow1["measured"].as_f64().unwrap() - share).abs() < 1e-9, "{backend:?}: {flow1}");
        assert!(flow1["met"].is_boolean(), "{backend:?}: judged on a known backend: {flow1}");

        // The scratch table is gone and the ledger still balances after the load.
        gw.assert_ledger_sound();
        assert!(!table_exists(&gw, "bench_commits").await, "{backend:?}: bench_commits was not dropped");
    }
}

/// `--clients 1,2` over two gateway nodes on one database: every flow and the no-op ceiling at
/// each count, client i on node i mod 2, each node's process found by its port, and the ledger
/// sound after the load went through both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_runs_a_client_list_across_two_nodes() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let second = gw.second_node().await;
        let rsa_key = shared_keys().0.display().to_string();
        let urls = format!("{},{}", gw.url, second.url);
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_epay"))
            .args(["bench", "--url", &urls, "--clients", "1,2", "--flows", "saved-card,status"])
            .args(["--duration", "1s", "--warmup", "0s", "--json"])
            .args(["--rsa-key", &rsa_key, "--database-url", &gw.database_url])
            .env_remove("EPAY_CONFIG")
            .env_remove("DATABASE_URL")
            .output()
            .await
            .expect("run epay bench");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{backend:?}: epay bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
        let report: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{backend:?}: not JSON ({e}):\n{stdout}"));

        // The last count is detailed (no 16 in the list), and every count is in the table.
        assert_eq!(report["concurrency"], 2, "{backend:?}");
        let scaling = report["scaling"].as_array().expect("a scaling table for two counts");
        let counts: Vec<u64> = scaling.iter().map(|r| r["clients"].as_u64().unwrap()).collect();
        assert_eq!(counts, [1, 2], "{backend:?}");
        for run in scaling {
            let names: Vec<&str> =
                run["flows"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
            assert_eq!(names, ["saved-card", "status"], "{backend:?}");
            for f in run["flows"].as_array().unwrap() {
                assert!(f["completed"].as_u64().unwrap() > 0, "{backend:?}: {f}");
                assert_eq!(f["errors_total"], 0, "{backend:?}: {f}");
                assert!(f["of_ceilings"]["http"].as_f64().unwrap() > 0.0, "{backend:?}: {f}");
            }
            let http = &run["ceilings"]["http_noop"];
            assert_eq!(http["connections"], run["clients"], "{backend:?}: the ceiling uses the same clients");
            assert!(http["requests_per_sec"].as_f64().unwrap() > 0.0, "{backend:?}: {http}");
            assert_eq!(http["errors_total"], 0, "{backend:?}: {http}");
            assert!(run["ceilings"]["rsa"]["decryptions_per_sec"].as_f64().unwrap() > 0.0, "{backend:?}");
        }

        // Both nodes were found by their ports, and each did part of the work at 2 clients.
        let nodes = report["server"]["nodes"].as_array().expect("per-node server report");
        let node_urls: Vec<&str> = nodes.iter().map(|n| n["url"].as_str().unwrap()).collect();
        assert_eq!(node_urls, [gw.url.as_str(), second.url.as_str()], "{backend:?}");
        assert!(nodes.iter().all(|n| n["pid"].is_u64()), "{backend:?}: {nodes:?}");
        assert_ne!(nodes[0]["pid"], nodes[1]["pid"], "{backend:?}: two processes");
        for f in report["flows"].as_array().unwrap() {
            let per_node = f["nodes"].as_array().expect("per-node usage");
            assert_eq!(per_node.len(), 2, "{backend:?}: {f}");
            for n in per_node {
                assert!(n["peak_rss_mb"].as_f64().unwrap() > 0.0, "{backend:?}: {n}");
                assert!(n["cpu_ms_per_flow"].as_f64().is_some(), "{backend:?}: {n}");
            }
        }
        // The second node logged requests of its own: the load was spread.
        let second_log = std::fs::read_to_string(gw.dir.join("second-node/epay.log")).unwrap_or_default();
        assert!(second_log.contains("/payments/cards/auth"), "{backend:?}: no payment reached the second node");

        drop(second);
        gw.assert_ledger_sound();
    }
}

async fn table_exists(gw: &Gateway, table: &str) -> bool {
    use sqlx::Connection;
    let sql = format!("SELECT COUNT(*) FROM {table}");
    match gw.backend {
        common::Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&gw.database_url).await.unwrap();
            sqlx::query(&sql).execute(&mut conn).await.is_ok()
        }
        common::Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&gw.database_url).await.unwrap();
            sqlx::query(&sql).execute(&mut conn).await.is_ok()
        }
    }
}
