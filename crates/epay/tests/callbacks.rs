//! postLink callbacks against a real local HTTP receiver: retries with one event id, failure
//! fallback, secret_hash, signatures, timeouts, SSRF refusals, several nodes, crash recovery.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use epay_client::TokenRequest;

const FAST: &[(&str, &str)] =
    &[("EPAY_CALLBACK_RETRY_SECS", "1,1,1"), ("EPAY_CALLBACK_POLL_MS", "50"), ("EPAY_CALLBACK_TIMEOUT_MS", "1000")];

/// Seed 002's success postLink example, key for key.
const SUCCESS_KEYS: &[&str] = &[
    "accountId",
    "amount",
    "approvalCode",
    "cardId",
    "cardMask",
    "cardType",
    "code",
    "currency",
    "dateTime",
    "description",
    "email",
    "id",
    "invoiceId",
    "ip",
    "ipCity",
    "ipCountry",
    "ipDistrict",
    "ipLatitude",
    "ipLongitude",
    "ipRegion",
    "issuer",
    "language",
    "name",
    "phone",
    "reason",
    "reasonCode",
    "reference",
    "secure",
    "secureDetails",
    "terminal",
];

/// Seed 002's failure postLink example, key for key.
const FAILURE_KEYS: &[&str] = &[
    "id",
    "dateTime",
    "invoiceId",
    "amount",
    "currency",
    "terminal",
    "accountId",
    "description",
    "language",
    "cardMask",
    "CardType",
    "issuer",
    "reference",
    "secure",
    "secureDetails",
    "tokenRecipient",
    "code",
    "reason",
    "reasonCode",
    "name",
    "email",
    "phone",
    "ip",
    "ipCountry",
    "ipCity",
    "ipRegion",
    "ipDistrict",
    "ipLongitude",
    "ipLatitude",
];

/// Pays `amount` with `card`, the token carrying the callback links and a secret_hash.
async fn pay(
    gw: &Gateway,
    card: (&str, &str, &str),
    post_link: &str,
    failure_post_link: &str,
) -> (String, Result<epay_client::PaymentResponse, epay_client::ClientError>) {
    let invoice = invoice();
    let token = gw
        .client
        .token(&TokenRequest {
            post_link: Some(post_link.into()),
            failure_post_link: Some(failure_post_link.into()),
            secret_hash: Some("HelloWorld123#".into()),
            ..TokenRequest::payment(CLIENT, SECRET, &invoice, major("100"), "KZT", TERMINAL)
        })
        .await
        .unwrap()
        .access_token;
    let request = gw.payment_request(&invoice, major("100"), card).await;
    let result = gw.client.cryptopay(&token, &request).await;
    (invoice, result)
}

fn verify(hit: &common::receiver::Hit, body: &[u8]) -> Result<(), epay_client::webhooks::WebhookError> {
    hit.verify_body(epay_server::runtime::seed::TEST_WEBHOOK_SECRET, body)
}

#[tokio::test]
async fn a_flaky_receiver_gets_one_event_three_times_signed_then_delivery_stops() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        let gw = Gateway::start_with(backend, FAST).await;
        let (invoice, paid) = pay(&gw, VISA, &format!("{}/flaky", receiver.url), "").await;
        let paid = paid.unwrap();
        let hits = receiver.wait_for("flaky", 3, Duration::from_secs(20)).await;
        assert_eq!(hits.len(), 3, "{backend:?}");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let hits = receiver.hits("flaky");
        assert_eq!(hits.len(), 3, "{backend:?}: delivery must stop after the 200");
        assert_eq!(hits.iter().map(|h| h.answered).collect::<Vec<_>>(), vec![500, 500, 200]);
        let id = hits[0].header("webhook-id").to_string();
        assert!(id.starts_with("msg_"));
        assert!(hits.iter().all(|h| h.header("webhook-id") == id), "the event id must not change between tries");
        assert!(hits.iter().all(|h| h.header("content-type") == "application/json"));

        let body = hits[2].json();
        let mut expected = sorted(SUCCESS_KEYS);
        expected.push("secret_hash".into());
        expected.sort();
        assert_eq!(keys(&body), expected, "{backend:?}: {body}");
        assert_eq!(body["code"], "ok");
        assert_eq!(body["reasonCode"], 0);
        assert_eq!(body["secret_hash"], "HelloWorld123#");
        assert_eq!(body["invoiceId"], invoice.as_str());
        assert_eq!(body["id"], paid.id.as_str());
        assert_eq!(body["amount"], 100);
        assert_eq!(body["cardMask"], "440563...5096");
        assert_eq!(body["cardType"], "VISA");
        assert_eq!(body["language"], "RUS");
        assert_eq!(body["secure"], "no");
        assert_eq!(body["terminal"], TERMINAL);

        // The signature verifies, and fails when one byte of the body changes.
        assert_eq!(verify(&hits[2], &hits[2].body), Ok(()));
        let mut altered = hits[2].body.to_vec();
        let last = altered.len() - 2;
        altered[last] ^= 1;
        assert!(verify(&hits[2], &altered).is_err());

        // The log shows every attempt.
        let token = gw.service_token(TERMINAL).await;
        let log: serde_json::Value = gw
            .http
            .get(format!("{}/callbacks/{}", gw.url, paid.id))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let event = &log["callbacks"][0];
        assert_eq!(event["status"], "delivered", "{log}");
        assert_eq!(event["kind"], "payment.success");
        assert_eq!(event["attempts"], 3);
        let statuses: Vec<_> =
            event["attemptLog"].as_array().unwrap().iter().map(|a| a["httpStatus"].clone()).collect();
        assert_eq!(statuses, vec![serde_json::json!(500), serde_json::json!(500), serde_json::json!(200)]);
        assert!(event["attemptLog"][0]["latencyMs"].is_number());
    }
}

#[tokio::test]
async fn failures_go_to_failure_post_link_or_fall_back_to_post_link() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        let gw = Gateway::start_with(backend, FAST).await;
        let locked = ("4003032704547597", "0920", "170");
        let (invoice, result) =
            pay(&gw, locked, &format!("{}/ok", receiver.url), &format!("{}/failed", receiver.url)).await;
        assert_eq!(result.unwrap_err().code(), Some(489));
        let hits = receiver.wait_for("failed", 1, Duration::from_secs(10)).await;
        assert_eq!(hits.len(), 1, "{backend:?}");
        let body = hits[0].json();
        let mut expected = sorted(FAILURE_KEYS);
        expected.extend(["cardType".to_string(), "invoiceIdAlt".to_string(), "secret_hash".to_string()]);
        expected.sort();
        assert_eq!(keys(&body), expected, "{backend:?}: {body}");
        assert_eq!(body["code"], "error");
        assert_eq!(body["reasonCode"], 489);
        assert_eq!(body["invoiceId"], invoice.as_str());
        assert_eq!(body["cardMask"], "4003...7597");
        assert_eq!(body["language"], "RU");
        assert_eq!(body["secret_hash"], "HelloWorld123#");
        assert!(receiver.hits("ok").is_empty(), "a failure must not go to postLink when failurePostLink is set");

        // No failurePostLink: the failure goes to postLink (seeds 000, 002).
        let (_, result) = pay(&gw, locked, &format!("{}/fallback", receiver.url), "").await;
        assert!(result.is_err());
        let hits = receiver.wait_for("fallback", 1, Duration::from_secs(10)).await;
        assert_eq!(hits.len(), 1, "{backend:?}");
        assert_eq!(hits[0].json()["code"], "error");
    }
}

#[tokio::test]
async fn an_event_that_never_succeeds_is_marked_failed_and_can_be_resent() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        let gw = Gateway::start_with(backend, FAST).await;
        let (_, paid) = pay(&gw, VISA, &format!("{}/fail", receiver.url), "").await;
        let paid = paid.unwrap();
        // One first try and three retries (EPAY_CALLBACK_RETRY_SECS=1,1,1), then it gives up.
        assert_eq!(receiver.wait_for("fail", 4, Duration::from_secs(20)).await.len(), 4, "{backend:?}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.hits("fail").len(), 4);
        let token = gw.service_token(TERMINAL).await;
        let log: serde_json::Value = gw
            .http
            .get(format!("{}/callbacks/{}", gw.url, paid.id))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let event = log["callbacks"][0].clone();
        assert_eq!(event["status"], "failed", "{log}");
        assert_eq!(event["attemptLog"].as_array().unwrap().len(), 4);
        // Re-send from the API (the cabinet's button).
        let id = event["id"].as_str().unwrap();
        let response =
            gw.http.post(format!("{}/callbacks/{id}/resend", gw.url)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(receiver.wait_for("fail", 5, Duration::from_secs(10)).await.len(), 5);
        let unknown =
            gw.http.post(format!("{}/callbacks/msg_nope/resend", gw.url)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(unknown.status(), 400);
    }
}

#[tokio::test]
async fn a_hanging_receiver_is_cut_off_and_redirects_are_not_followed() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        let gw = Gateway::start_with(backend, FAST).await;
        let (_, paid) = pay(&gw, VISA, &format!("{}/redirect", receiver.url), "").await;
        let paid = paid.unwrap();
        receiver.wait_for("redirect", 1, Duration::from_secs(10)).await;
        let (_, hung) = pay(&gw, MASTERCARD, &format!("{}/hang", receiver.url), "").await;
        let hung = hung.unwrap();
        let token = gw.service_token(TERMINAL).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let log: serde_json::Value = gw
                .http
                .get(format!("{}/callbacks/{}", gw.url, hung.id))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(first) = log["callbacks"][0]["attemptLog"].as_array().and_then(|a| a.first()) {
                assert_eq!(first["error"], "timed out", "{backend:?}: {log}");
                assert!(first["latencyMs"].as_i64().unwrap() < 5_000, "{log}");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{backend:?}: no attempt recorded: {log}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let log: serde_json::Value = gw
            .http
            .get(format!("{}/callbacks/{}", gw.url, paid.id))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let first = &log["callbacks"][0]["attemptLog"][0];
        assert_eq!(first["httpStatus"], 302, "a 3xx is a failed attempt: {log}");
        assert_eq!(log["callbacks"][0]["status"], "pending");
    }
}

/// The top-level keys of an operation callback (docs/callbacks.md): nothing a payment handler
/// acts on (`invoiceId`, `id`, `amount`, `reasonCode`), and `code` "operation".
const OPERATION_KEYS: &[&str] =
    &["code", "currency", "dateTime", "operation", "operationAmount", "payment", "secret_hash"];

/// The keys of an operation callback's nested `payment`.
const OPERATION_PAYMENT_KEYS: &[&str] = &[
    "accountId",
    "amount",
    "approvalCode",
    "cardMask",
    "cardType",
    "currency",
    "description",
    "id",
    "invoiceId",
    "orgAmount",
    "reference",
    "statusName",
    "terminal",
];

/// Authorizes three payments of 100 on the two-step terminal with callbacks to `link`, then:
/// the first is charged 80 and refunded 30 and then the rest, the second is cancelled, and the
/// third expires when the sandbox clock passes the hold period. Returns the three payment ids.
async fn operate_on_three_payments(gw: &Gateway, link: &str) -> (String, String, String) {
    let (_, charged) = pay(gw, VISA, link, "").await;
    let (_, cancelled) = pay(gw, MASTERCARD, link, "").await;
    let (_, expired) = pay(gw, VISA, link, "").await;
    let (charged, cancelled, expired) = (charged.unwrap().id, cancelled.unwrap().id, expired.unwrap().id);
    let token = gw.service_token(TERMINAL).await;
    assert_eq!(gw.operation(&token, &charged, "charge", "?amount=80", None).await.0, 200);
    assert_eq!(gw.operation(&token, &charged, "refund", "?amount=30", None).await.0, 200);
    assert_eq!(gw.operation(&token, &charged, "refund", "", None).await.0, 200, "the rest");
    assert_eq!(gw.operation(&token, &cancelled, "cancel", "", None).await.0, 200);
    // Past the seeded terminal's 7-day hold period.
    let (status, clock) = gw.advance_clock(8 * 86_400).await;
    assert_eq!((status, clock["expired"].as_i64()), (200, Some(1)), "{clock}");
    assert_eq!(gw.transaction_of(&charged).await["statusName"], "REFUND");
    assert_eq!(gw.transaction_of(&cancelled).await["statusName"], "CANCEL");
    assert_eq!(gw.transaction_of(&expired).await["statusName"], "CANCEL_OLD");
    (charged, cancelled, expired)
}

/// Checks `body` is exactly the payment success callback of seed 002 for `payment_id`.
fn assert_payment_success(body: &serde_json::Value, payment_id: &str) {
    let mut expected = sorted(SUCCESS_KEYS);
    expected.push("secret_hash".into());
    expected.sort();
    assert_eq!(keys(body), expected, "{body}");
    assert_eq!((body["code"].as_str(), body["reasonCode"].as_i64()), (Some("ok"), Some(0)), "{body}");
    assert_eq!((body["id"].as_str(), body["amount"].as_i64()), (Some(payment_id), Some(100)), "{body}");
    assert_eq!(body["reason"], "success");
}

#[tokio::test]
async fn by_default_operations_send_no_callback_that_looks_like_a_payment() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        let gw = Gateway::start_with(backend, FAST).await;
        let link = format!("{}/shop", receiver.url);
        let (charged, cancelled, expired) = operate_on_three_payments(&gw, &link).await;
        // A later payment's callback: once it has arrived, the callbacks written before it were
        // due before it, and would have been delivered too.
        let (_, later) = pay(&gw, MASTERCARD, &link, "").await;
        let later = later.unwrap().id;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !receiver.hits("shop").iter().any(|h| h.json()["id"] == later.as_str()) {
            assert!(tokio::time::Instant::now() < deadline, "{backend:?}: the later payment's callback never came");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        // The shop heard of each payment exactly once, in ePay's shape; a charge, two refunds, a
        // cancel and an expiry sent nothing, let alone a second `"code":"ok"`.
        let hits = receiver.hits("shop");
        let mut heard: Vec<String> = hits.iter().map(|h| h.json()["id"].as_str().unwrap_or("").to_string()).collect();
        heard.sort();
        let mut paid = vec![charged, cancelled, expired, later];
        paid.sort();
        assert_eq!(heard, paid, "{backend:?}: {:?}", hits.iter().map(|h| h.json()).collect::<Vec<_>>());
        for hit in &hits {
            let body = hit.json();
            assert_payment_success(&body, body["id"].as_str().unwrap());
        }
        // Nothing was even queued: the outbox holds the four payments' callbacks only.
        assert_eq!(gw.count_rows("callback_events").await, 4, "{backend:?}");
    }
}

#[tokio::test]
async fn operations_emit_their_own_callbacks() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        let gw = Gateway::start_with(backend, FAST).await;
        let (ok, out) = gw.run_cli(&["terminal", "update", TERMINAL, "--operation-callbacks", "on"]);
        assert!(ok && out.contains("operation callbacks: on"), "{out}");
        let link = format!("{}/ops", receiver.url);
        let (charged, cancelled, expired) = operate_on_three_payments(&gw, &link).await;
        // Three payments, then a charge, two refunds, a cancel and an expiry.
        let hits = receiver.wait_for("ops", 8, Duration::from_secs(20)).await;
        assert_eq!(hits.len(), 8, "{backend:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.hits("ops").len(), 8, "{backend:?}: one callback per payment and per operation");
        let ids: std::collections::HashSet<_> = hits.iter().map(|h| h.header("webhook-id").to_string()).collect();
        assert_eq!(ids.len(), 8, "each event has its own id");
        // Delivery order is not guaranteed (events are sent concurrently): sort them by kind.
        let (payments, operations): (Vec<_>, Vec<_>) = hits.iter().partition(|h| h.json()["code"] == "ok");
        // Each payment's own callback is ePay's, unchanged.
        let mut paid: Vec<_> = payments.iter().map(|h| h.json()["id"].as_str().unwrap().to_string()).collect();
        paid.sort();
        let mut expected_paid = vec![charged.clone(), cancelled.clone(), expired.clone()];
        expected_paid.sort();
        assert_eq!(paid, expected_paid, "{backend:?}");
        for hit in &payments {
            let body = hit.json();
            assert_payment_success(&body, body["id"].as_str().unwrap());
        }
        // The operations, each in the documented shape: (operation, payment, operationAmount,
        // statusName after it, what the payment is worth now).
        let mut seen: Vec<(String, String, i64, String, i64)> = Vec::new();
        for hit in &operations {
            assert_eq!(verify(hit, &hit.body), Ok(()), "signed like every callback");
            let body = hit.json();
            assert_eq!(keys(&body), sorted(OPERATION_KEYS), "{backend:?}: {body}");
            assert_eq!(keys(&body["payment"]), sorted(OPERATION_PAYMENT_KEYS), "{backend:?}: {body}");
            assert_eq!(body["code"], "operation", "{body}");
            assert_eq!(body["secret_hash"], "HelloWorld123#");
            assert_eq!(body["currency"], "KZT");
            let payment = &body["payment"];
            assert_eq!((payment["orgAmount"].as_i64(), payment["terminal"].as_str()), (Some(100), Some(TERMINAL)));
            let invoice = gw.store().await.payment_by_id(payment["id"].as_str().unwrap()).await.unwrap().unwrap();
            assert_eq!(payment["invoiceId"], invoice.invoice_id.as_str());
            seen.push((
                body["operation"].as_str().unwrap().to_string(),
                payment["id"].as_str().unwrap().to_string(),
                body["operationAmount"].as_i64().unwrap(),
                payment["statusName"].as_str().unwrap().to_string(),
                payment["amount"].as_i64().unwrap(),
            ));
        }
        seen.sort();
        let mut expected = vec![
            ("charge".to_string(), charged.clone(), 80, "CHARGE".to_string(), 80),
            ("refund".to_string(), charged.clone(), 30, "CHARGE".to_string(), 50),
            ("refund".to_string(), charged.clone(), 50, "REFUND".to_string(), 0),
            ("cancel".to_string(), cancelled.clone(), 100, "CANCEL".to_string(), 100),
            ("expire".to_string(), expired.clone(), 100, "CANCEL_OLD".to_string(), 100),
        ];
        expected.sort();
        assert_eq!(seen, expected, "{backend:?}");
    }
}

#[tokio::test]
async fn production_mode_refuses_internal_callback_targets() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        // Production has no built-in test card: pay with an issued one.
        let cards = std::env::temp_dir().join(format!("epay-prod-cards-{}", uuid::Uuid::new_v4()));
        let card = issue_card(&cards, false);
        let cards_file = cards.join("issued-cards.toml");
        let gw = Gateway::start_with(
            backend,
            &[
                ("EPAY_MODE", "production"),
                ("EPAY_CARDS_FILE", cards_file.to_str().unwrap()),
                FAST[0],
                FAST[1],
                FAST[2],
            ],
        )
        .await;
        // The merchant must exist in production: create one with a terminal.
        let store = gw.store().await;
        let terminal = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
        store
            .upsert_merchant(
                &epay_store::Merchant {
                    id: "prod-merchant".into(),
                    name: "Prod".into(),
                    client_id: "prod".into(),
                    secret_digest: epay_server::platform::keys::secret_digest("prod-secret"),
                    webhook_secret: "whsec_c2VjcmV0".into(),
                    token_generation: 0,
                },
                &[epay_store::Terminal {
                    id: terminal.into(),
                    merchant_id: "prod-merchant".into(),
                    pos_id: "90000003".into(),
                    name: "prod".into(),
                    two_step: false,
                    three_ds: false,
                    transfers_allowed: false,
                    hold_period_secs: 3600,
                    ..Default::default()
                }],
            )
            .await
            .unwrap();
        for link in [
            format!("{}/ok", receiver.url),
            "http://localhost:9/x".to_string(),
            "http://169.254.169.254/latest/meta-data".to_string(),
            "http://10.0.0.1/x".to_string(),
            "http://[::1]:9/x".to_string(),
            "file:///etc/passwd".to_string(),
        ] {
            let result = gw
                .client
                .token(&TokenRequest {
                    post_link: Some(link.clone()),
                    ..TokenRequest::payment("prod", "prod-secret", &invoice(), major("100"), "KZT", terminal)
                })
                .await;
            let err = result.expect_err(&link);
            assert_eq!(err.status(), Some(400), "{backend:?} {link}: {err}");
            assert!(err.to_string().contains("postLink"), "{err}");
        }
        // A target that only turns out to be internal when resolved is refused at delivery time.
        let invoice = invoice();
        let token = gw.token_on_as("prod", "prod-secret", &invoice, major("100"), terminal).await;
        let card = (card.0.as_str(), card.1.as_str(), card.2.as_str());
        let request = epay_client::PaymentRequest::new(&invoice, major("100"), gw.cryptogram(card, terminal).await);
        let paid = gw.client.cryptopay(&token, &request).await.unwrap();
        gw.execute_sql(&format!(
            "INSERT INTO callback_events (id, merchant_id, payment_id, kind, url, payload, status, attempts,
                 next_attempt_at, locked_until, claim_id, created_at, delivered_at)
             VALUES ('msg_ssrf', 'prod-merchant', '{}', 'payment.success', 'http://localhost:1/x',
                 '{{}}', 'pending', 0, 0, 0, '', 0, NULL)",
            paid.id
        ))
        .await;
        let service =
            gw.client.token(&TokenRequest::service("prod", "prod-secret", terminal)).await.unwrap().access_token;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log: serde_json::Value = gw
                .http
                .get(format!("{}/callbacks/{}", gw.url, paid.id))
                .bearer_auth(&service)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(first) = log["callbacks"][0]["attemptLog"].as_array().and_then(|a| a.first()) {
                assert!(first["httpStatus"].is_null(), "{log}");
                // Stored targets are checked again at delivery (the resolver's own filtering of
                // names that resolve to internal addresses is unit-tested in epay-server).
                assert!(first["error"].as_str().unwrap().contains("may not be sent"), "{log}");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{backend:?}: {log}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(receiver.all().is_empty());
    }
}

#[tokio::test]
async fn three_nodes_on_one_postgres_deliver_each_event_exactly_once() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let receiver = Receiver::start().await;
    let first = Gateway::start_with(Backend::Postgres, FAST).await;
    let url = first.database_url.clone();
    let shared = [("DATABASE_URL", url.as_str()), FAST[0], FAST[1], FAST[2]];
    let second = Gateway::start_with(Backend::Postgres, &shared).await;
    let third = Gateway::start_with(Backend::Postgres, &shared).await;
    let nodes = [&first, &second, &third];
    let post_link = format!("{}/ok", receiver.url);
    const PAYMENTS: usize = 500;
    let mut ids = std::collections::HashSet::new();
    for chunk in (0..PAYMENTS).collect::<Vec<_>>().chunks(25) {
        let results = futures::future::join_all(chunk.iter().map(|i| {
            let gw = nodes[i % 3];
            let post_link = post_link.clone();
            async move { pay(gw, VISA, &post_link, "").await.1.unwrap().id }
        }))
        .await;
        ids.extend(results);
    }
    assert_eq!(ids.len(), PAYMENTS);
    let hits = receiver.wait_for("ok", PAYMENTS, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hits_after = receiver.hits("ok");
    assert_eq!(hits.len(), PAYMENTS);
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for hit in &hits_after {
        *per_event.entry(hit.header("webhook-id").to_string()).or_default() += 1;
    }
    let duplicates: Vec<_> = per_event.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "events delivered more than once: {duplicates:?}");
    assert_eq!(per_event.len(), PAYMENTS);
    let paid: std::collections::HashSet<String> =
        hits_after.iter().map(|h| h.json()["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(paid, ids);
}

#[tokio::test]
async fn callbacks_due_when_the_server_is_killed_are_sent_after_restart() {
    for backend in backends() {
        // A port with nothing listening yet: every attempt is refused until the receiver starts.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut gw =
            Gateway::start_with(backend, &[("EPAY_CALLBACK_RETRY_SECS", "1,1,1,1,1,1,1,1,1,1"), FAST[1], FAST[2]])
                .await;
        let mut invoices = Vec::new();
        for _ in 0..5 {
            let (invoice, paid) = pay(&gw, VISA, &format!("http://127.0.0.1:{port}/late"), "").await;
            paid.unwrap();
            invoices.push(invoice);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        gw.kill().await;
        let receiver = Receiver::start_on(&format!("127.0.0.1:{port}")).await;
        let restarted = Gateway::launch(
            backend,
            &[],
            &[
                ("DATABASE_URL", gw.database_url.as_str()),
                ("EPAY_CALLBACK_RETRY_SECS", "1,1,1,1,1,1,1,1,1,1"),
                FAST[1],
                FAST[2],
            ],
        )
        .await;
        let hits = receiver.wait_for("late", 5, Duration::from_secs(40)).await;
        assert_eq!(hits.len(), 5, "{backend:?}");
        let delivered: std::collections::HashSet<_> =
            hits.iter().map(|h| h.json()["invoiceId"].as_str().unwrap().to_string()).collect();
        assert_eq!(delivered, invoices.into_iter().collect());
        drop(restarted);
    }
}

/// The test merchant's webhook secret as the database holds it.
async fn stored_secret(gw: &Gateway) -> epay_domain::Secret {
    gw.store().await.merchant_by_client_id(CLIENT).await.unwrap().unwrap().webhook_secret
}

/// A webhook secret as a gateway from before sealing kept it: in clear in `merchants`.
const OLD_CLEAR_SECRET: &str = "whsec_YW4gb2xkZXIgZ2F0ZXdheSBrZXB0IHRoaXMgY2xlYXI=";

#[tokio::test]
async fn webhook_secrets_are_sealed_at_rest_and_a_clear_one_is_sealed_at_the_next_start() {
    use epay_server::platform::keys::Keys;
    use epay_server::runtime::seed::TEST_WEBHOOK_SECRET;
    for backend in backends() {
        let receiver = Receiver::start().await;
        let mut gw = Gateway::start_with(backend, FAST).await;
        // The seeded merchant's secret, public as it is, is stored sealed like any other.
        assert!(Keys::is_sealed(stored_secret(&gw).await.expose()), "{backend:?}");
        let key_part = TEST_WEBHOOK_SECRET.trim_start_matches("whsec_");
        assert!(!gw.database_contents().await.contains(key_part), "{backend:?}");

        // A row as an older gateway wrote it, into the database of a stopped gateway.
        gw.kill().await;
        gw.execute_sql(&format!(
            "UPDATE merchants SET webhook_secret = '{OLD_CLEAR_SECRET}' WHERE client_id = '{CLIENT}'"
        ))
        .await;
        assert_eq!(stored_secret(&gw).await.expose(), OLD_CLEAR_SECRET);
        // Two nodes start on it at once: the row is sealed, and neither fails to start.
        let shared = [("DATABASE_URL", gw.database_url.as_str()), FAST[0], FAST[1], FAST[2]];
        let (first, second) =
            tokio::join!(Gateway::launch(backend, &[], &shared), Gateway::launch(backend, &[], &shared));
        let sealed = stored_secret(&gw).await;
        assert!(Keys::is_sealed(sealed.expose()), "{backend:?}: sealed at start");
        // Callbacks are signed with the same secret as before, by either node.
        for node in [&first, &second] {
            let (_, paid) = pay(node, VISA, &format!("{}/ok", receiver.url), "").await;
            paid.unwrap();
        }
        let hits = receiver.wait_for("ok", 2, Duration::from_secs(20)).await;
        assert_eq!(hits.len(), 2, "{backend:?}");
        assert!(hits.iter().all(|hit| hit.signed_with(OLD_CLEAR_SECRET)), "{backend:?}");
        // A later start finds nothing left in clear and leaves the sealed value as it is. (The
        // old bytes may linger in the files' free space until reused: docs/security.md.)
        drop((first, second));
        gw.restart_with(FAST).await;
        assert_eq!(stored_secret(&gw).await, sealed, "{backend:?}");
    }
}
