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

        // The scratch table is gone and the ledger still balances after the load.
        gw.assert_ledger_sound();
        assert!(!table_exists(&gw, "bench_commits").await, "{backend:?}: bench_commits was not dropped");
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
