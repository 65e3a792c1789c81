//! Idempotency-Key through crashes, clients that leave, failed authentication and time (issue
//! 15, items 7 and 16): a key's answer commits with its operation, a key whose operation did not
//! commit is free again, and no key is kept for a stranger or for longer than 24 hours.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use rand::Rng;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

/// A keyed refund's answer: (status, replayed, body); status 0 when the gateway did not answer.
async fn refund(http: &reqwest::Client, url: &str, token: &str, payment: &str, key: &str) -> (u16, bool, String) {
    let sent = http
        .post(format!("{url}/operation/{payment}/refund?amount=10"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .send()
        .await;
    let Ok(response) = sent else { return (0, false, String::new()) };
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    (status, replayed, response.text().await.unwrap_or_default())
}

/// Retries a keyed refund while its key is leased to a request that is still running (or that
/// died); the first other answer.
async fn settle(gw: &Gateway, token: &str, payment: &str, key: &str) -> (u16, bool, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answer = refund(&gw.http, &gw.url, token, payment, key).await;
        if answer.0 != 409 || tokio::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A payment of `amount` authorized and fully charged; its id.
async fn charged_payment(gw: &Gateway, token: &str, amount: Amount) -> String {
    let p = gw.authorized_payment(amount).await;
    let (status, body) = gw.operation(token, &p, "charge", "", None).await;
    assert_eq!(status, 200, "{body}");
    p
}

/// How many Idempotency-Keys the database holds.
async fn stored_keys(gw: &Gateway) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM idempotency_keys";
    match gw.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&gw.database_url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&gw.database_url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut conn).await.unwrap()
        }
    }
}

const LEASE: (&str, &str) = ("EPAY_IDEMPOTENCY_LEASE_SECS", "2");

#[tokio::test]
async fn sigkill_during_keyed_refunds_leaves_every_key_replayed_or_run_anew_never_twice() {
    const PAYMENTS: usize = 6;
    const KEYS_PER_PAYMENT: usize = 4;
    for backend in backends() {
        let mut gw = Gateway::start_with(backend, &[LEASE]).await;
        let token = gw.service_token(TERMINAL).await;
        let mut keys = Vec::new();
        for i in 0..PAYMENTS {
            let p = charged_payment(&gw, &token, major("100")).await;
            keys.extend((0..KEYS_PER_PAYMENT).map(|j| (p.clone(), format!("crash-{i}-{j}"))));
        }
        // A burst of keyed refunds, a few milliseconds apart, and SIGKILL as soon as the first
        // one is answered: some are answered, some in flight, some not yet sent.
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let first_answer = std::sync::Arc::new(tokio::sync::Notify::new());
        let burst: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, (p, key))| {
                let (http, url, token, p, key) = (http.clone(), gw.url.clone(), token.clone(), p.clone(), key.clone());
                let first_answer = first_answer.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(3 * i as u64)).await;
                    let answer = refund(&http, &url, &token, &p, &key).await;
                    if answer.0 == 200 {
                        first_answer.notify_one();
                    }
                    answer
                })
            })
            .collect();
        tokio::time::timeout(Duration::from_secs(30), first_answer.notified()).await.expect("no refund answered");
        tokio::time::sleep(Duration::from_millis(rand::thread_rng().gen_range(0..10))).await;
        gw.restart_with(&[LEASE]).await;
        let mut answered = HashSet::new();
        for ((_, key), answer) in keys.iter().zip(burst) {
            if answer.await.unwrap().0 == 200 {
                answered.insert(key.clone());
            }
        }
        assert!(!answered.is_empty(), "{backend:?}");
        // Every key now answers: the committed answer replayed, or (nothing committed) run anew.
        let mut replayed = 0;
        for (p, key) in &keys {
            let (status, was_replayed, body) = settle(&gw, &token, p, key).await;
            assert_eq!(status, 200, "{backend:?}: key {key} after the crash: {body}");
            assert_eq!(body, r#"{"code":0,"message":""}"#, "{backend:?}: {key}");
            if answered.contains(key) {
                assert!(was_replayed, "{backend:?}: {key} was answered before the crash, so it must replay");
            }
            replayed += usize::from(was_replayed);
        }
        // Each key refunded exactly once: none lost, none twice.
        let store = gw.store().await;
        for (p, _) in keys.iter().step_by(KEYS_PER_PAYMENT) {
            let payment = store.payment_by_id(p).await.unwrap().unwrap();
            assert_eq!(payment.refunded_minor, 1_000 * KEYS_PER_PAYMENT as i64, "{backend:?}: {p}");
            assert_eq!(store.refunds_of(p).await.unwrap().len(), KEYS_PER_PAYMENT, "{backend:?}: {p}");
        }
        gw.assert_ledger_sound();
        println!("{backend:?}: {} answered before the SIGKILL, {replayed} replayed after it", answered.len());
    }
}

/// Sends a keyed refund on a raw socket and resets the connection after `wait`, without
/// reading the answer: a client that gives up mid-request.
async fn refund_and_hang_up(gw: &Gateway, token: &str, payment: &str, key: &str, wait: Duration) {
    let address = gw.url.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // A zero linger resets the connection on drop (and so never blocks, which the deprecation
    // warns about): the gateway sees the client gone at once.
    #[allow(deprecated)]
    stream.set_linger(Some(Duration::ZERO)).unwrap();
    let mut stream = stream;
    let request = format!(
        "POST /operation/{payment}/refund?amount=10 HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: {key}\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(wait).await;
    drop(stream);
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_request_leaves_its_key_usable() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let p = charged_payment(&gw, &token, major("100")).await;
        // Clients that hang up at every moment of their request.
        let keys: Vec<String> = (0..8).map(|i| format!("gone-{i}")).collect();
        for (i, key) in keys.iter().enumerate() {
            refund_and_hang_up(&gw, &token, &p, key, Duration::from_millis(i as u64 * 3)).await;
        }
        if backend == Backend::Postgres {
            // Deterministic: the refund waits on the payment's row lock while its client leaves;
            // then the lock goes and the refund must still end, and answer its key.
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&gw.database_url).await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("SELECT id FROM payments WHERE id = $1 FOR UPDATE").bind(&p).execute(&mut *tx).await.unwrap();
            refund_and_hang_up(&gw, &token, &p, "gone-locked", Duration::from_millis(500)).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            tx.rollback().await.unwrap();
            let (status, replayed, body) = settle(&gw, &token, &p, "gone-locked").await;
            assert_eq!((status, replayed), (200, true), "{backend:?}: the refund ran to its end: {body}");
        }
        for key in &keys {
            let (status, _, body) = settle(&gw, &token, &p, key).await;
            assert_eq!(status, 200, "{backend:?}: {key} is not blocked: {body}");
        }
        let refunds = keys.len() + usize::from(backend == Backend::Postgres);
        let payment = gw.store().await.payment_by_id(&p).await.unwrap().unwrap();
        assert_eq!(payment.refunded_minor, 1_000 * refunds as i64, "{backend:?}: one refund per key");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn keys_of_unauthenticated_or_refused_requests_are_never_stored() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let p = charged_payment(&gw, &token, major("100")).await;
        for bad in ["not-a-token", ""] {
            let (status, _, body) = refund(&gw.http, &gw.url, bad, &p, "stranger").await;
            assert_eq!(status, 401, "{backend:?}: {body}");
        }
        assert_eq!(stored_keys(&gw).await, 0, "{backend:?}: a 401 stored its key");
        // A refusal writes nothing, so it keeps nothing: the key is free for the corrected request.
        let over = gw
            .http
            .post(format!("{}/operation/{p}/refund?amount=500", gw.url))
            .bearer_auth(&token)
            .header("Idempotency-Key", "fix-me")
            .send()
            .await
            .unwrap();
        assert_eq!(over.status(), 400, "{backend:?}");
        assert_eq!(stored_keys(&gw).await, 0, "{backend:?}: a refusal stored its key");
        let (status, replayed, _) = refund(&gw.http, &gw.url, &token, &p, "fix-me").await;
        assert_eq!((status, replayed), (200, false), "{backend:?}: the key was free again");
        assert_eq!(stored_keys(&gw).await, 1, "{backend:?}: the committed answer is kept");
    }
}

#[tokio::test]
async fn keys_expire_after_24_hours_on_the_sandbox_clock() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_EXPIRY_INTERVAL_SECS", "1")]).await;
        let advance = |hours: i64| gw.advance_clock(hours * 3600);
        let token = gw.service_token(TERMINAL).await;
        let p = charged_payment(&gw, &token, major("100")).await;
        for key in ["day-1", "day-1-other"] {
            assert_eq!(refund(&gw.http, &gw.url, &token, &p, key).await.0, 200);
        }
        assert_eq!(advance(23).await.0, 200);
        // Within 24 h the key replays, also for a client that had to renew its token.
        let token = gw.service_token(TERMINAL).await;
        let (status, replayed, _) = refund(&gw.http, &gw.url, &token, &p, "day-1").await;
        assert_eq!((status, replayed), (200, true), "{backend:?}: within 24 h");
        assert_eq!(advance(2).await.0, 200);
        // After 24 h the background job purges the keys, and a key runs as new.
        let token = gw.service_token(TERMINAL).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while stored_keys(&gw).await > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(stored_keys(&gw).await, 0, "{backend:?}: expired keys were not purged");
        let (status, replayed, _) = refund(&gw.http, &gw.url, &token, &p, "day-1").await;
        assert_eq!((status, replayed), (200, false), "{backend:?}: after 24 h the key is new");
        let payment = gw.store().await.payment_by_id(&p).await.unwrap().unwrap();
        assert_eq!(payment.refunded_minor, 3_000, "{backend:?}: two keys, then one key again");
    }
}

#[tokio::test]
async fn a_60_kb_order_id_gets_a_short_error_and_leaves_nothing_behind() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let huge = "7".repeat(60 * 1024);
        let before = stored_keys(&gw).await;
        // A transfer whose order.id is 60 KB: its error repeats the id, but cut short.
        let id = invoice();
        let token = gw
            .client
            .token(&epay_client::TokenRequest {
                scope: "transfer".into(),
                ..epay_client::TokenRequest::payment(CLIENT, SECRET, &id, major("100"), "KZT", TERMINAL)
            })
            .await
            .unwrap()
            .access_token;
        let body = json!({"order": {"id": huge, "amount": 100, "currency": "KZT"}, "card": {}}).to_string();
        let response = gw
            .http
            .post(format!("{}/p2p/transfer", gw.url))
            .bearer_auth(&token)
            .header("Idempotency-Key", "huge-transfer")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{backend:?}");
        let text = response.text().await.unwrap();
        assert!(text.len() < 1024, "{backend:?}: {} bytes answered", text.len());
        let answer: Value = serde_json::from_str(&text).unwrap();
        let echoed = answer["invoiceId"].as_str().unwrap();
        assert_eq!(echoed, format!("{}…", "7".repeat(64)), "{backend:?}");
        // A saved-card payment with a 60 KB card id: the same in the payment error shape.
        let pay_id = invoice();
        let pay_token = gw.payment_token(&pay_id, major("100")).await;
        let body = json!({"amount": 100, "currency": "KZT", "name": "TEST TEST", "invoiceId": pay_id, "terminalId": TERMINAL,
                          "accountId": "testUser1", "paymentType": "cardId", "cardId": {"id": huge}});
        let (status, answer) = gw.post_json("/payments/cards/auth", Some(&pay_token), &body.to_string()).await;
        assert_eq!(status, 400, "{backend:?}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.chars().count() <= 256 + 1, "{backend:?}: {} characters", message.len());
        assert!(!message.contains(&"7".repeat(65)), "{backend:?}: the card id is repeated at length");
        // Nothing of it was kept: no key row, and not even 1 KB of the id anywhere in the database.
        assert_eq!(stored_keys(&gw).await, before, "{backend:?}");
        assert!(!gw.database_contents().await.contains(&huge[..1024]), "{backend:?}: the id was stored");
    }
}
