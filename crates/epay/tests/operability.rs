//! Operability: health and readiness, Prometheus metrics, request ids in responses and logs,
//! secrets kept out of the logs, and graceful shutdown with a request in flight.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn health_and_readiness() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let health = gw.http.get(format!("{}/healthz", gw.url)).send().await.unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(health.text().await.unwrap(), "ok");
        let ready = gw.http.get(format!("{}/readyz", gw.url)).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{backend:?}");
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["keys"], "loaded");
        assert_eq!(body["database"], if backend == Backend::Sqlite { "sqlite" } else { "postgres" });
        assert!(body["migrations"].as_u64().unwrap() >= 6, "{body}");

        if backend == Backend::Postgres {
            // The database goes away: not ready (503), while the process stays alive; back: ready.
            let name = gw.database_url.rsplit('/').next().unwrap().to_string();
            let admin = pg_admin;
            admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
            admin(format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")).await;
            let ready = gw.http.get(format!("{}/readyz", gw.url)).send().await.unwrap();
            assert_eq!(ready.status(), 503);
            let body: serde_json::Value = ready.json().await.unwrap();
            assert_eq!(body["status"], "not ready", "{body}");
            assert_eq!(gw.http.get(format!("{}/healthz", gw.url)).send().await.unwrap().status(), 200);
            let metrics = gw.http.get(format!("{}/metrics", gw.url)).send().await.unwrap().text().await.unwrap();
            assert!(metrics.contains("epay_db_up 0"), "{metrics}");
            admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
            let ready = gw.http.get(format!("{}/readyz", gw.url)).send().await.unwrap();
            assert_eq!(ready.status(), 200);
        }
    }
}

/// Runs one statement as the PostgreSQL superuser, on the server's `postgres` database.
async fn pg_admin(sql: String) {
    use sqlx::Connection;
    let url =
        std::env::var("EPAY_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&sql).execute(&mut conn).await.unwrap();
}

/// The database drops every connection of the gateway (what a restart or a failover does to
/// its pool). Readiness answers 200 on its first probe, and no request gets a 500: at most the
/// one request that finds a dead connection gets a 503 with `Retry-After`, and every later one
/// succeeds, because the pool checks the other idle connections before it hands them out.
#[tokio::test]
async fn stale_pool_connections_after_the_database_drops_them() {
    if !backends().contains(&Backend::Postgres) {
        return; // an SQLite file cannot hang up
    }
    let gw = Gateway::start(Backend::Postgres).await;
    let payment = gw.authorized_payment(major("100")).await;
    let service = gw.service_token(TERMINAL).await;
    let invoice =
        gw.store().await.payment(&epay_server::runtime::seed::test_merchant().0.id, &payment).await.unwrap().unwrap();
    let status_url = format!("{}/check-status/payment/transaction/{}", gw.url, invoice.invoice_id);
    let check = || gw.http.get(&status_url).bearer_auth(&service).send();
    let name = gw.database_url.rsplit('/').next().unwrap().to_string();
    let drop_connections =
        || pg_admin(format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"));
    for probe_first in [true, false] {
        // Fill the pool with several connections, all idle afterwards.
        for response in futures::future::join_all((0..8).map(|_| check())).await {
            assert_eq!(response.unwrap().status(), 200);
        }
        drop_connections().await;
        if probe_first {
            let ready = gw.http.get(format!("{}/readyz", gw.url)).send().await.unwrap();
            assert_eq!(ready.status(), 200, "readiness recovers on the first probe");
        }
        let mut failed = 0;
        for i in 0..10 {
            let response = check().await.unwrap();
            if response.status() == 200 {
                continue;
            }
            failed += 1;
            let retry_after = response.headers().get("retry-after").cloned();
            assert_eq!(response.status(), 503, "request {i} after the drop: {:?}", response.text().await);
            assert_eq!(retry_after.unwrap(), "1");
        }
        assert!(failed <= 1, "{failed} requests met a dead pooled connection (probe first: {probe_first})");
    }
}

fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
}

#[tokio::test]
async fn metrics_count_requests_outcomes_and_the_callback_queue() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let approved = gw.authorized_payment(major("100")).await;
        // A decline: the insufficient-funds outcome card (docs/test-cards.md).
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let request = gw.payment_request(&invoice, major("100"), ("4000000000009995", "1230", "123")).await;
        let (status, _) =
            gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
        assert_eq!(status, 400);
        let service = gw.service_token(TERMINAL).await;
        assert_eq!(gw.operation(&service, &approved, "charge", "", None).await.0, 200);

        let response = gw.http.get(format!("{}/metrics", gw.url)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let text = response.text().await.unwrap();
        let count = |series: &str| metric_value(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert_eq!(
            count(r#"epay_http_request_duration_seconds_count{method="POST",route="/payment/cryptopay",status="200"}"#),
            1.0
        );
        assert_eq!(
            count(r#"epay_http_request_duration_seconds_count{method="POST",route="/payment/cryptopay",status="400"}"#),
            1.0
        );
        assert_eq!(
            count(
                r#"epay_http_request_duration_seconds_count{method="POST",route="/operation/{id}/charge",status="200"}"#
            ),
            1.0,
            "ids are not labels: the route template is"
        );
        assert_eq!(count(r#"epay_transactions_total{kind="payment",status="AUTH",reason_code="0"}"#), 1.0);
        assert_eq!(count(r#"epay_transactions_total{kind="payment",status="CHARGE",reason_code="0"}"#), 1.0);
        assert_eq!(count(r#"epay_transactions_total{kind="payment",status="REJECT",reason_code="484"}"#), 1.0);
        assert_eq!(count("epay_callback_queue_depth"), 0.0);
        assert_eq!(count("epay_db_up"), 1.0);
        assert!(count(r#"epay_db_pool_connections{state="idle"}"#) >= 0.0);
        assert!(count("epay_db_pool_max_connections") >= 1.0);
        // Unknown paths are counted under one label, not one series per path.
        gw.http.get(format!("{}/no/such/{}", gw.url, invoice)).send().await.unwrap();
        let text = gw.http.get(format!("{}/metrics", gw.url)).send().await.unwrap().text().await.unwrap();
        assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
        assert!(!text.contains(&invoice));
    }
}

/// Configuration secrets the log must never show (a metrics token, a vault master key, and a
/// database password on PostgreSQL, whose test server trusts every connection).
const METRICS_TOKEN: &str = "metrics-token-never-logged-1";
const VAULT_MASTER_KEY: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";
const DATABASE_PASSWORD: &str = "database-password-never-logged";

#[tokio::test]
async fn request_ids_reach_the_response_and_the_log_and_secrets_never_reach_the_log() {
    for backend in backends() {
        let config_secrets = [("EPAY_METRICS_TOKEN", METRICS_TOKEN), ("EPAY_VAULT_MASTER_KEY", VAULT_MASTER_KEY)];
        let mut gw = Gateway::start_with(backend, &config_secrets).await;
        let mut url = reqwest::Url::parse(&gw.database_url).unwrap();
        if backend == Backend::Postgres && url.password().is_none() {
            url.set_password(Some(DATABASE_PASSWORD)).unwrap();
            let with_password = url.to_string();
            gw.restart_with(&[config_secrets[0], config_secrets[1], ("DATABASE_URL", &with_password)]).await;
        }
        let metrics = gw.http.get(format!("{}/metrics", gw.url)).bearer_auth(METRICS_TOKEN).send().await.unwrap();
        assert_eq!(metrics.status(), 200, "{backend:?}");
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let request = gw.payment_request(&invoice, major("100"), VISA).await;
        let response = gw
            .http
            .post(format!("{}/payment/cryptopay", gw.url))
            .bearer_auth(&token)
            .header("x-request-id", "shop-order-77.a")
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-request-id"], "shop-order-77.a", "a sane caller id is kept");
        // Without one (or with garbage) the gateway makes one.
        let response = gw
            .http
            .get(format!("{}/healthz", gw.url))
            .header("x-request-id", "bad id\twith spaces")
            .send()
            .await
            .unwrap();
        let made = response.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(made.len(), 32, "{made}");
        // Halyk's SDK puts the token in the query string of confirmPayment: it must not be logged.
        gw.http.get(format!("{}/payments/cards/confirmPayment?Access={token}", gw.url)).send().await.unwrap();

        let log = gw.log();
        let recorded =
            log.lines().find(|l| l.contains("payment recorded")).unwrap_or_else(|| panic!("no payment line in {log}"));
        assert!(recorded.contains("shop-order-77.a"), "the request id is on the service's log line: {recorded}");
        assert!(log.lines().any(|l| l.contains(&made)), "the access log line carries the generated id");
        for secret in [
            VISA.0,
            &token,
            SECRET,
            "whsec_ZXBheS10ZXN0LW1lcmNoYW50LXdlYmhvb2stc2VjcmV0",
            METRICS_TOKEN,
            VAULT_MASTER_KEY,
            DATABASE_PASSWORD,
        ] {
            assert!(!log.contains(secret), "{backend:?}: the log contains a secret ({} chars)", secret.len());
        }
        // Written to a file, not a terminal: plain text, no colour codes in the operator's log.
        assert!(!log.contains('\x1b'), "{backend:?}: ANSI escape codes in a log written to a file");
        let lower = log.to_ascii_lowercase();
        assert!(!lower.contains("cvc=321") && !lower.contains("\"cvc\":\"321\""), "CVC in the log");
    }
}

/// A gateway that cannot start says why, without the secrets of its configuration.
#[tokio::test]
async fn a_gateway_that_cannot_start_prints_no_secret() {
    let dir = std::env::temp_dir().join(format!("epay-test-{}", uuid::Uuid::new_v4()));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env("DATABASE_URL", format!("mysql://epay:{DATABASE_PASSWORD}@127.0.0.1/epay"))
        .env("EPAY_METRICS_TOKEN", METRICS_TOKEN)
        .env("EPAY_VAULT_MASTER_KEY", VAULT_MASTER_KEY)
        .env("EPAY_LOG", "debug")
        .env_remove("EPAY_CONFIG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(printed.contains("unsupported database url") && printed.contains("mysql://epay:***@"), "{printed}");
    for secret in [METRICS_TOKEN, VAULT_MASTER_KEY, DATABASE_PASSWORD] {
        assert!(!printed.contains(secret), "a secret ({} chars) in {printed}", secret.len());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    for backend in backends() {
        let mut gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let body = serde_json::to_string(&gw.payment_request(&invoice, major("100"), VISA).await).unwrap();
        let address = gw.url.trim_start_matches("http://").to_string();
        // A slow client: headers and half the body, then SIGTERM, then the rest.
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /payment/cryptopay HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(first.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        gw.terminate();
        tokio::time::sleep(Duration::from_millis(500)).await;
        // No new connections are taken...
        assert!(
            tokio::net::TcpStream::connect(&address).await.is_err(),
            "{backend:?}: the listener is closed after SIGTERM"
        );
        // ...but the one in flight is answered in full.
        stream.write_all(rest.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer)).await.unwrap().unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains(r#""status":"AUTH""#), "{answer}");
        let status = gw.wait_exit(Duration::from_secs(30)).await;
        assert!(status.success(), "{backend:?}: exit status {status:?}");
        assert!(gw.log().contains("stopped"), "workers stopped cleanly");
    }
}

#[tokio::test]
async fn tls_termination_with_a_configured_certificate() {
    let dir = std::env::temp_dir().join(format!("epay-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let gw = Gateway::start_with(
        Backend::Sqlite,
        &[("EPAY_TLS_CERT_PATH", cert.to_str().unwrap()), ("EPAY_TLS_KEY_PATH", key.to_str().unwrap())],
    )
    .await;
    assert!(gw.url.starts_with("https://"), "{}", gw.url);
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let ready = client.get(format!("{}/readyz", gw.url)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    // The token endpoint over TLS, as a merchant's backend calls it.
    let token = client
        .post(format!("{}/oauth2/token", gw.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "webapi usermanagement email_send verification statement statistics payment"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("terminal", TERMINAL),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new().get(gw.url.replace("https://", "http://") + "/healthz").send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // Only one of the two paths, or a file that is not a certificate: a clear refusal to start.
    for env in [
        vec![("EPAY_TLS_CERT_PATH", cert.to_str().unwrap())],
        vec![("EPAY_TLS_CERT_PATH", key.to_str().unwrap()), ("EPAY_TLS_KEY_PATH", key.to_str().unwrap())],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .envs(env.iter().copied())
            .env_remove("EPAY_CONFIG")
            .output()
            .unwrap();
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).to_lowercase().contains("tls"), "{env:?}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let gw = Gateway::start_with(Backend::Sqlite, &[("EPAY_PUBLIC_URL", "https://pay.example.com")]).await;
    for (path, framable) in [
        ("/healthz", false),
        ("/", false),
        ("/oauth2/token", false),
        ("/payform/?params=garbage", true),
        ("/no/such/path", false),
    ] {
        let response = gw.http.get(format!("{}{path}", gw.url)).send().await.unwrap();
        let h = response.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h["strict-transport-security"].to_str().unwrap().starts_with("max-age="), "{path}: HTTPS public URL");
        if framable {
            assert!(!h.contains_key("x-frame-options"), "{path}: the payment widget is framed by merchants");
        } else {
            assert_eq!(h["x-frame-options"], "DENY", "{path}");
            if let Some(csp) = h.get("content-security-policy") {
                assert!(csp.to_str().unwrap().contains("frame-ancestors 'none'"), "{path}");
            }
        }
    }
    // Plain HTTP without an https public URL: no HSTS (it would be ignored, or wrong).
    let plain = Gateway::start(Backend::Sqlite).await;
    let response = plain.http.get(format!("{}/healthz", plain.url)).send().await.unwrap();
    assert!(!response.headers().contains_key("strict-transport-security"));
}

/// `/metrics` shows volumes by status: production serves it only behind `metrics_token` or on
/// its own `metrics_listen` address, and never without one of them.
#[tokio::test]
async fn production_metrics_need_a_token_or_their_own_address() {
    for backend in backends() {
        let production = ("EPAY_MODE", "production");
        let gw = Gateway::start_with(backend, &[production]).await;
        let metrics = gw.http.get(format!("{}/metrics", gw.url)).send().await.unwrap();
        assert_eq!(metrics.status(), 404, "{backend:?}: production with neither serves no metrics");
        drop(gw);

        let token = "metrics-token-0123456789";
        let gw = Gateway::start_with(backend, &[production, ("EPAY_METRICS_TOKEN", token)]).await;
        let url = format!("{}/metrics", gw.url);
        assert_eq!(gw.http.get(&url).send().await.unwrap().status(), 401);
        assert_eq!(gw.http.get(&url).bearer_auth("wrong-token-0123456789").send().await.unwrap().status(), 401);
        let allowed = gw.http.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(allowed.status(), 200);
        assert!(allowed.text().await.unwrap().contains("epay_db_up 1"));
        drop(gw);

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let metrics_address = format!("127.0.0.1:{port}");
        let gw = Gateway::start_with(backend, &[production, ("EPAY_METRICS_LISTEN", &metrics_address)]).await;
        assert_eq!(gw.http.get(format!("{}/metrics", gw.url)).send().await.unwrap().status(), 404);
        let own = gw.http.get(format!("http://{metrics_address}/metrics")).send().await.unwrap();
        assert_eq!(own.status(), 200);
        assert!(own.text().await.unwrap().contains("epay_db_up 1"));
        let api_on_metrics = gw.http.get(format!("http://{metrics_address}/healthz")).send().await.unwrap();
        assert_eq!(api_on_metrics.status(), 404, "the metrics address serves nothing else");
    }
}

/// The data directory is the gateway user's alone (0700), and so are the SQLite database and
/// its -wal and -shm files (0600), although the directory existed (0755) before the start.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        gw.authorized_payment(major("100")).await;
        let mode = |path: std::path::PathBuf| std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(gw.dir.clone()), 0o700, "{backend:?}");
        if backend == Backend::Sqlite {
            for file in ["epay.sqlite", "epay.sqlite-wal", "epay.sqlite-shm"] {
                assert_eq!(mode(gw.dir.join(file)), 0o600, "{file}");
            }
        }
    }
}
