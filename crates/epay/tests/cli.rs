//! The `epay` command line: migrate, ledger check, configuration sources, modes.

mod common;

use common::*;

#[tokio::test]
async fn ledger_check_passes_on_a_sound_ledger_and_fails_on_a_corrupted_one() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        gw.client.cryptopay(&token, &gw.payment_request(&invoice, major("100"), VISA).await).await.unwrap();
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(ok && out.contains("ledger check: OK"), "{backend:?}: {out}");

        // A balance that no transfer explains.
        gw.execute_sql("UPDATE ledger_accounts SET credits_pending = credits_pending + 1 WHERE kind = 'merchant'")
            .await;
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(!ok, "{backend:?}: corruption not detected: {out}");
        assert!(out.contains("VIOLATION account merchant:"), "{out}");

        // A payment that claims more was charged than authorized.
        gw.execute_sql("UPDATE payments SET charged_minor = amount_minor + 1").await;
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(!ok && out.contains("VIOLATION payment"), "{backend:?}: {out}");

        // A transfer of a kind the gateway does not know: reported, not a failed read. The
        // database refuses such a row (migration 0015), so the guard goes first, as a hand edit
        // or a restore from elsewhere could.
        gw.execute_sql(match backend {
            Backend::Sqlite => "DROP TRIGGER ledger_transfers_checks_update",
            Backend::Postgres => "ALTER TABLE ledger_transfers DROP CONSTRAINT ledger_transfers_kind_known",
        })
        .await;
        gw.execute_sql("UPDATE ledger_transfers SET kind = 'bogus' WHERE kind = 'pending'").await;
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(!ok && out.contains(r#"unknown kind "bogus""#), "{backend:?}: {out}");
    }
}

async fn try_sql(gw: &Gateway, sql: &str) -> Result<(), String> {
    use sqlx::Connection;
    let result = match gw.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&gw.database_url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.map(|_| ())
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&gw.database_url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.map(|_| ())
        }
    };
    result.map_err(|e| e.to_string())
}

/// Every guard migration 0015 adds, as the statements that remove it: its triggers on SQLite, its
/// CHECK constraints on PostgreSQL.
fn guards_of_0015(backend: Backend) -> Vec<String> {
    let tables = ["payments", "payment_events", "refunds", "three_ds_sessions", "ledger_accounts", "ledger_transfers"];
    match backend {
        Backend::Sqlite => tables
            .iter()
            .flat_map(|t| [format!("DROP TRIGGER {t}_checks_insert"), format!("DROP TRIGGER {t}_checks_update")])
            .collect(),
        Backend::Postgres => [
            ("payments", "payments_status_known"),
            ("payments", "payments_kind_known"),
            ("payments", "payments_amounts_not_negative"),
            ("payment_events", "payment_events_status_known"),
            ("payment_events", "payment_events_amount_not_negative"),
            ("refunds", "refunds_amount_not_negative"),
            ("three_ds_sessions", "three_ds_sessions_state_known"),
            ("ledger_accounts", "ledger_accounts_kind_known"),
            ("ledger_accounts", "ledger_accounts_sums_not_negative"),
            ("ledger_accounts", "ledger_accounts_card_not_below_zero"),
            ("ledger_transfers", "ledger_transfers_kind_known"),
            ("ledger_transfers", "ledger_transfers_amount_not_negative"),
        ]
        .iter()
        .map(|(t, c)| format!("ALTER TABLE {t} DROP CONSTRAINT {c}"))
        .collect(),
    }
}

/// Undoes migration 0015 by hand: its guards and its row in `_sqlx_migrations`, so that the next
/// `epay migrate` applies it again.
async fn undo_0015(gw: &Gateway) {
    for sql in guards_of_0015(gw.backend) {
        try_sql(gw, &sql).await.unwrap();
    }
    try_sql(gw, "DELETE FROM _sqlx_migrations WHERE version = 15").await.unwrap();
}

#[tokio::test]
async fn the_database_refuses_unknown_words_and_negative_amounts() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        gw.client.cryptopay(&token, &gw.payment_request(&invoice, major("100"), VISA).await).await.unwrap();
        gw.assert_ledger_sound();

        for (sql, rule) in [
            ("UPDATE payments SET status = 'PAID'", "payments_status_known"),
            ("UPDATE payments SET kind = 'cash'", "payments_kind_known"),
            ("UPDATE payments SET refunded_minor = -1", "payments_amounts_not_negative"),
            (
                "INSERT INTO payment_events (payment_id, operation, status, amount_minor, reason_code, created_at)
                 SELECT id, 'created', 'PAID', 0, 0, 0 FROM payments",
                "payment_events_status_known",
            ),
            ("UPDATE payment_events SET amount_minor = -1", "payment_events_amount_not_negative"),
            ("UPDATE ledger_accounts SET kind = 'fee' WHERE kind = 'merchant'", "ledger_accounts_kind_known"),
            (
                "UPDATE ledger_accounts SET credits_pending = -1 WHERE kind = 'merchant'",
                "ledger_accounts_sums_not_negative",
            ),
            (
                "UPDATE ledger_accounts SET debits_posted = credits_posted + 1 WHERE kind = 'card'",
                "ledger_accounts_card_not_below_zero",
            ),
            ("UPDATE ledger_transfers SET amount_minor = -5", "ledger_transfers_amount_not_negative"),
            ("UPDATE ledger_transfers SET kind = 'bogus'", "ledger_transfers_kind_known"),
            // Migration 0016: the callback outbox's and the history's words.
            (
                "INSERT INTO payment_events (payment_id, operation, status, amount_minor, reason_code, created_at)
                 SELECT id, 'paid', 'AUTH', 0, 0, 0 FROM payments",
                "payment_events_operation_known",
            ),
            (
                "INSERT INTO callback_events (id, merchant_id, payment_id, kind, url, payload, status, attempts,
                     next_attempt_at, locked_until, claim_id, created_at)
                 SELECT 'msg_bogus', merchant_id, id, 'payment.paid', 'https://shop.example/cb', '{}', 'pending', 0, 0, 0, '', 0
                 FROM payments",
                "callback_events_kind_known",
            ),
            (
                "INSERT INTO callback_events (id, merchant_id, payment_id, kind, url, payload, status, attempts,
                     next_attempt_at, locked_until, claim_id, created_at)
                 SELECT 'msg_bogus', merchant_id, id, 'payment.success', 'https://shop.example/cb', '{}', 'sent', 0, 0, 0, '', 0
                 FROM payments",
                "callback_events_status_known",
            ),
        ] {
            let refused = try_sql(&gw, sql).await.expect_err(sql);
            assert!(refused.contains(rule), "{backend:?}: {sql}: {refused}");
        }
        // Nothing of it was written.
        gw.assert_ledger_sound();

        // A database with rows migrates: with 0015 undone, `epay migrate` applies it again over
        // the rows the payment wrote, and its guards are back.
        undo_0015(&gw).await;
        let (ok, out) = gw.run_cli(&["migrate"]);
        assert!(ok, "{backend:?}: {out}");
        let refused = try_sql(&gw, "UPDATE payments SET status = 'PAID'").await.expect_err("guarded again");
        assert!(refused.contains("payments_status_known"), "{backend:?}: {refused}");

        // A row that breaks a rule stops the migration rather than staying unnoticed.
        undo_0015(&gw).await;
        try_sql(&gw, "UPDATE ledger_transfers SET amount_minor = -1").await.unwrap();
        let (ok, out) = gw.run_cli(&["migrate"]);
        assert!(!ok, "{backend:?}: migrated over a negative ledger amount: {out}");
    }
}

#[tokio::test]
async fn migrate_creates_the_schema_and_is_idempotent() {
    let dir = std::env::temp_dir().join(format!("epay-migrate-{}", uuid::Uuid::new_v4()));
    for _ in 0..2 {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
            .args(["migrate", "--data-dir"])
            .arg(&dir)
            .env_remove("DATABASE_URL")
            .env_remove("EPAY_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout} {}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("sqlite database is up to date"), "{stdout}");
    }
    assert!(dir.join("epay.sqlite").exists());
    std::fs::remove_dir_all(dir).ok();
}

/// A database migrated by a released gateway holds, in `_sqlx_migrations`, the SHA-384 of every
/// migration file as released (`crates/epay-store/migrations/released.txt`); sqlx refuses to
/// migrate it if an embedded file's checksum differs. Such a history must still migrate, however
/// the files are arranged now (shared between the backends or not); a changed one must not.
#[tokio::test]
async fn a_database_migrated_by_the_released_files_still_migrates() {
    let released = include_str!("../../epay-store/migrations/released.txt");
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let name = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let bytes = |hex: &str| match backend {
            Backend::Sqlite => format!("X'{hex}'"),
            Backend::Postgres => format!("decode('{hex}', 'hex')"),
        };
        let mut listed = 0;
        for line in released.lines().filter(|l| l.starts_with(&format!("{name} "))) {
            let mut words = line.split(' ');
            let version: i64 = words.nth(1).unwrap().parse().unwrap();
            let checksum = line.rsplit(' ').next().unwrap();
            let sql = format!("UPDATE _sqlx_migrations SET checksum = {} WHERE version = {version}", bytes(checksum));
            gw.execute_sql(&sql).await;
            listed += 1;
        }
        assert!(listed >= 14, "{backend:?}: released.txt lists {listed} migrations");
        let (ok, out) = gw.run_cli(&["migrate"]);
        assert!(ok && out.contains("database is up to date"), "{backend:?}: {out}");

        // The check can fail: a history with another checksum is refused.
        gw.execute_sql(&format!(
            "UPDATE _sqlx_migrations SET checksum = {} WHERE version = 1",
            bytes(&"00".repeat(48))
        ))
        .await;
        let (ok, out) = gw.run_cli(&["migrate"]);
        assert!(!ok, "{backend:?}: a changed migration was accepted: {out}");
    }
}

#[tokio::test]
async fn bad_configuration_is_refused_with_a_clear_message() {
    let dir = std::env::temp_dir().join(format!("epay-badcfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("epay.toml");
    for (text, mention) in [
        ("listen = 42", "listen"),
        ("token_ttl_secs = 5", "token_ttl_secs"),
        ("no_such_key = 1", "no_such_key"),
        ("mode = \"prod\"", "mode"),
    ] {
        std::fs::write(&config, text).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
            .args(["serve", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(mention), "{text}: {stderr}");
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
        .args(["serve"])
        .env("EPAY_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("EPAY_LISTEN"));
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn config_file_sets_token_lifetime_and_extra_card_files() {
    for backend in backends() {
        let dir = std::env::temp_dir().join(format!("epay-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let cards = dir.join("my-cards.toml");
        std::fs::write(
            &cards,
            "[[card]]\npan = \"4111111111111111\"\nexpiry = \"12/35\"\ncvc = \"111\"\nbalance = 50\nissuer = \"MY BANK\"\n",
        )
        .unwrap();
        let config = dir.join("epay.toml");
        std::fs::write(&config, format!("token_ttl_secs = 600\ncards_files = [{:?}]\n", cards.display().to_string()))
            .unwrap();
        let gw = Gateway::launch(backend, &["--config", config.to_str().unwrap()], &[]).await;
        let invoice = invoice();
        let token = gw
            .client
            .token(&epay_client::TokenRequest::payment(CLIENT, SECRET, &invoice, major("40"), "KZT", TERMINAL))
            .await
            .unwrap();
        assert_eq!(token.expires_in, serde_json::json!(600), "{backend:?}");
        let request = gw.payment_request(&invoice, major("40"), ("4111111111111111", "1235", "111")).await;
        let paid = gw.client.cryptopay(&token.access_token, &request).await.unwrap();
        assert_eq!(paid.status, "AUTH");
        // Its opening balance was 50: another 40 does not fit.
        let invoice2 = self::invoice();
        let token = gw.payment_token(&invoice2, major("40")).await;
        let request = gw.payment_request(&invoice2, major("40"), ("4111111111111111", "1235", "111")).await;
        assert_eq!(gw.client.cryptopay(&token, &request).await.unwrap_err().code(), Some(484));
        std::fs::remove_dir_all(dir).ok();
    }
}

#[tokio::test]
async fn production_mode_seeds_nothing() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_MODE", "production")]).await;
        let err = gw.client.token(&epay_client::TokenRequest::service(CLIENT, SECRET, TERMINAL)).await.unwrap_err();
        assert_eq!(err.status(), Some(401), "{backend:?}: the test merchant must not exist in production");
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_database_sees_the_same_state() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        gw.client.cryptopay(&token, &gw.payment_request(&invoice, major("100"), VISA).await).await.unwrap();
        let pem = gw.public_key().await;
        // A second server on the same data directory and database sees the same state.
        let second = Gateway::launch(
            backend,
            &[],
            &[("DATABASE_URL", gw.database_url.as_str()), ("EPAY_DATA_DIR", gw.dir.to_str().unwrap())],
        )
        .await;
        assert_eq!(second.public_key().await, pem);
        let token = second.service_token(TERMINAL).await;
        let status = second.client.status(&token, &invoice).await.unwrap();
        assert_eq!(status.transaction.unwrap().status_name, "AUTH", "{backend:?}");
    }
}
