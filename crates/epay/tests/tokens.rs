//! OAuth2 token endpoint (facts §2), over HTTP, on SQLite and PostgreSQL.

mod common;

use common::*;
use serde_json::Value;

async fn post_form(gw: &Gateway, path: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let response = gw.http.post(format!("{}{path}", gw.url)).form(pairs).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn base<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("scope", "payment"),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("invoiceID", "000000001"),
        ("amount", "100"),
        ("currency", "KZT"),
        ("terminal", TERMINAL),
        ("postLink", ""),
        ("failurePostLink", ""),
    ]
}

fn with<'a>(mut pairs: Vec<(&'a str, &'a str)>, name: &'a str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    pairs.retain(|(n, _)| *n != name);
    pairs.push((name, value));
    pairs
}

fn without<'a>(mut pairs: Vec<(&'a str, &'a str)>, name: &str) -> Vec<(&'a str, &'a str)> {
    pairs.retain(|(n, _)| *n != name);
    pairs
}

#[tokio::test]
async fn token_matches_the_seed_response_field_for_field() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // Seed 003's request, urlencoded, on every token path ePay has used.
        for path in ["/oauth2/token", "/epay2/oauth2/token", "/api/oauth2/token"] {
            let (status, body) = post_form(&gw, path, &base()).await;
            assert_eq!(status, 200, "{backend:?} {path}: {body}");
            assert_eq!(keys(&body), sorted(&["access_token", "expires_in", "refresh_token", "scope", "token_type"]));
            assert_eq!(body["expires_in"], Value::from(7200));
            assert_eq!(body["refresh_token"], "");
            assert_eq!(body["scope"], "payment");
            assert_eq!(body["token_type"], "Bearer");
            let token = body["access_token"].as_str().unwrap();
            // Self-contained, so longer than ePay's 22 characters, in the characters its
            // tokens use (docs/compatibility.md 2).
            assert!((22..5_000).contains(&token.len()), "{}", token.len());
            assert!(token.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-'));
        }
        // Multipart form-data, as the docs say ("Body: form-data"), with seed 000's transfer scope.
        let token = gw
            .client
            .token(&epay_client::TokenRequest {
                scope: "transfer".into(),
                ..epay_client::TokenRequest::payment(CLIENT, SECRET, "000000001", major("100"), "KZT", common::TERMINAL)
            })
            .await
            .unwrap();
        assert_eq!(token.scope, "transfer");
        // Aliases: invoiceId / terminalId, and the long service scope without an invoice.
        let aliased = vec![
            ("grant_type", "client_credentials"),
            ("scope", "payment"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("invoiceId", "000000002"),
            ("amount", "12.22"),
            ("terminalId", TERMINAL),
        ];
        let (status, body) = post_form(&gw, "/oauth2/token", &aliased).await;
        assert_eq!(status, 200, "{body}");
        let service = vec![
            ("grant_type", "client_credentials"),
            ("scope", "webapi usermanagement email_send verification statement statistics payment"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("terminal", TERMINAL),
        ];
        let (status, body) = post_form(&gw, "/oauth2/token", &service).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], "webapi usermanagement email_send verification statement statistics payment");
        // The token is stored only as a digest.
        let contents = gw.database_contents().await;
        assert!(!contents.contains(body["access_token"].as_str().unwrap()), "{backend:?}: token stored in clear");
        assert!(!contents.contains(SECRET), "{backend:?}: client secret stored in clear");
    }
}

#[tokio::test]
async fn token_errors_follow_rfc_6749_and_write_nothing() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let other_merchant_terminal = "11111111-2222-3333-4444-555555555555";
        let store = gw.store().await;
        store
            .upsert_merchant(
                &epay_store::Merchant {
                    id: "other".into(),
                    name: "Other".into(),
                    client_id: "other".into(),
                    secret_digest: epay_server::platform::keys::secret_digest("other-secret"),
                    webhook_secret: "whsec_c2VjcmV0".into(),
                    token_generation: 0,
                },
                &[epay_store::Terminal {
                    id: other_merchant_terminal.into(),
                    merchant_id: "other".into(),
                    pos_id: "90000001".into(),
                    name: "other".into(),
                    two_step: false,
                    three_ds: false,
                    transfers_allowed: false,
                    hold_period_secs: 3600,
                    ..Default::default()
                }],
            )
            .await
            .unwrap();
        // A refused request stores nothing of its own; only the shared guessing counters
        // (`abuse_counters`, issue 15 item 6) count wrong secrets, as they must across nodes.
        const DATA_TABLES: [&str; 7] =
            ["tokens", "spent_tokens", "payments", "merchants", "terminals", "idempotency_keys", "callback_events"];
        let mut before = Vec::new();
        for table in DATA_TABLES {
            before.push(gw.count_rows(table).await);
        }
        type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str, &'a str);
        let long_link = format!("http://127.0.0.1:9/{}", "a".repeat(1_100));
        let long_field = "a".repeat(300);
        let cases: Vec<Case> = vec![
            (with(base(), "client_secret", "wrong"), 401, "invalid_client", "authentication"),
            (with(base(), "client_id", "nobody"), 401, "invalid_client", "authentication"),
            (with(base(), "grant_type", "authorization_code"), 400, "unsupported_grant_type", "authorization_code"),
            (without(base(), "grant_type"), 400, "invalid_request", "grant_type"),
            (without(base(), "client_id"), 400, "invalid_request", "client_id"),
            (without(base(), "client_secret"), 400, "invalid_request", "client_secret"),
            (with(base(), "scope", "admin"), 400, "invalid_scope", "admin"),
            (with(base(), "scope", ""), 400, "invalid_scope", "scope"),
            (with(base(), "invoiceID", "12345"), 400, "invalid_request", "invoiceID"),
            (with(base(), "invoiceID", "1234567890123456"), 400, "invalid_request", "invoiceID"),
            (with(base(), "invoiceID", "12345a"), 400, "invalid_request", "invoiceID"),
            (with(base(), "amount", "-1"), 400, "invalid_request", "negative"),
            (with(base(), "amount", "1.234"), 400, "invalid_request", "decimal"),
            (with(base(), "amount", "10000000000"), 400, "invalid_request", "limit"),
            (with(base(), "amount", "NaN"), 400, "invalid_request", "number"),
            (with(base(), "amount", "abc"), 400, "invalid_request", "number"),
            (without(base(), "amount"), 400, "invalid_request", "amount"),
            (with(base(), "currency", "XYZ"), 400, "invalid_request", "currency"),
            (with(base(), "terminal", "00000000-0000-0000-0000-000000000000"), 400, "invalid_request", "terminal"),
            (with(base(), "terminal", other_merchant_terminal), 400, "invalid_request", "not found"),
            // The binding travels in the token: its long fields are bounded (compatibility 2).
            (with(base(), "postLink", &long_link), 400, "invalid_request", "postLink is longer than 1024"),
            (with(base(), "failurePostLink", &long_link), 400, "invalid_request", "failurePostLink is longer"),
            (with(base(), "accountId", &long_field), 400, "invalid_request", "accountId is longer than 256"),
            (with(base(), "secret_hash", &long_field), 400, "invalid_request", "secret_hash is longer than 256"),
        ];
        for (pairs, status, error, mentions) in cases {
            let (got, body) = post_form(&gw, "/oauth2/token", &pairs).await;
            assert_eq!(got, status, "{backend:?} {pairs:?}: {body}");
            assert_eq!(body["error"], error, "{backend:?} {pairs:?}: {body}");
            let description = body["error_description"].as_str().unwrap();
            assert!(description.contains(mentions), "{backend:?}: {description:?} should mention {mentions:?}");
        }
        // Garbage bodies are refused with invalid_request, never a 5xx.
        for (content_type, body) in [
            ("multipart/form-data; boundary=x", "not multipart at all"),
            ("application/json", "{not json"),
            ("application/x-www-form-urlencoded", "%%%"),
        ] {
            let response = gw
                .http
                .post(format!("{}/oauth2/token", gw.url))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_client_error(), "{backend:?} {content_type}: {}", response.status());
        }
        let mut after = Vec::new();
        for table in DATA_TABLES {
            after.push(gw.count_rows(table).await);
        }
        assert_eq!(after, before, "{backend:?}: a refused token request wrote data ({DATA_TABLES:?})");
    }
}
