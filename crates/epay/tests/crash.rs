//! Crash safety: clients pay, charge and refund while the gateway is killed with SIGKILL at
//! random moments and restarted ten times. Afterwards every operation that was answered with
//! success is there with that outcome, the ledger is sound (nothing half-done), and every
//! outcome's callback was delivered.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use epay_client::{encrypt_cryptogram, CardData, PaymentRequest, TokenRequest};
use rand::Rng;
use serde_json::Value;

/// What the gateway confirmed to a client: from here on it must never be lost.
#[derive(Debug, Default, Clone)]
struct Confirmed {
    invoice: String,
    authorized: bool,
    charged: bool,
    /// Sum of refunds answered with success, in tenge.
    refunded: i64,
}

const CLIENTS: usize = 6;
const KILLS: usize = 10;
const FAST_RETRIES: (&str, &str) = ("EPAY_CALLBACK_RETRY_SECS", "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1");
const FAST_POLL: (&str, &str) = ("EPAY_CALLBACK_POLL_MS", "50");

/// One client's loop: token, payment (AUTH), full charge, a partial refund — recording each
/// step the gateway answered with success. Errors (the gateway is down) just move on.
async fn client_loop(
    url: String,
    public_key: String,
    post_link: String,
    stop: Arc<AtomicBool>,
    confirmed: Arc<Mutex<HashMap<String, Confirmed>>>,
) {
    let client = epay_client::Client::new(&url);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut service: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        let invoice = invoice();
        let request = TokenRequest {
            post_link: Some(post_link.clone()),
            ..TokenRequest::payment(CLIENT, SECRET, &invoice, major("100"), "KZT", TERMINAL)
        };
        let Ok(token) = client.token(&request).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Cards with a large balance, so declines do not hide lost money.
        let card = if rand::thread_rng().gen_bool(0.5) { VISA } else { MASTERCARD };
        let cryptogram = encrypt_cryptogram(&public_key, &CardData::new(card.0, card.1, card.2, TERMINAL)).unwrap();
        let Ok(paid) =
            client.cryptopay(&token.access_token, &PaymentRequest::new(&invoice, major("100"), cryptogram)).await
        else {
            continue;
        };
        let id = paid.id.clone();
        confirmed
            .lock()
            .unwrap()
            .insert(id.clone(), Confirmed { invoice: invoice.clone(), authorized: true, ..Default::default() });
        if service.is_none() {
            service = client.token(&TokenRequest::service(CLIENT, SECRET, TERMINAL)).await.ok().map(|t| t.access_token);
        }
        let Some(service_token) = service.clone() else { continue };
        let operation = |op: &str| {
            let request = http.post(format!("{url}/operation/{id}/{op}")).bearer_auth(&service_token);
            async move { request.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        };
        if operation("charge").await != 200 {
            continue;
        }
        confirmed.lock().unwrap().get_mut(&id).unwrap().charged = true;
        if operation("refund?amount=10").await == 200 {
            confirmed.lock().unwrap().get_mut(&id).unwrap().refunded += 10;
        }
    }
}

#[tokio::test]
async fn sigkill_at_random_moments_loses_no_answered_operation() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        let post_link = format!("{}/crash", receiver.url);
        let env = [FAST_RETRIES, FAST_POLL];
        let mut gw = Gateway::start_with(backend, &env).await;
        let public_key = gw.public_key().await;
        let stop = Arc::new(AtomicBool::new(false));
        let confirmed: Arc<Mutex<HashMap<String, Confirmed>>> = Arc::default();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                tokio::spawn(client_loop(
                    gw.url.clone(),
                    public_key.clone(),
                    post_link.clone(),
                    stop.clone(),
                    confirmed.clone(),
                ))
            })
            .collect();
        for _ in 0..KILLS {
            let pause = rand::thread_rng().gen_range(200..700);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            gw.restart_with(&env).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        let confirmed = confirmed.lock().unwrap().clone();
        assert!(confirmed.len() >= 10, "{backend:?}: too little traffic to prove anything: {}", confirmed.len());
        assert!(confirmed.values().any(|c| c.refunded > 0), "{backend:?}: no refund got through");

        // 1. Every answered success is there with that outcome.
        let service = gw.service_token(TERMINAL).await;
        for (id, c) in &confirmed {
            let status = gw.client.status(&service, &c.invoice).await.unwrap();
            let tx = status.transaction.unwrap_or_else(|| panic!("{backend:?}: payment {id} lost"));
            let t: Value = serde_json::to_value(&tx).unwrap();
            let name = t["statusName"].as_str().unwrap().to_string();
            assert!(c.authorized && ["AUTH", "CHARGE", "REFUND"].contains(&name.as_str()), "{id}: {name}");
            if c.charged {
                assert_eq!(name, "CHARGE", "{backend:?}: {id} was charged (a 10 refund keeps CHARGE): {t}");
            }
            let store = gw.store().await;
            let payment = store.payment_by_id(id).await.unwrap().unwrap();
            if c.charged {
                assert_eq!(payment.charged_minor, 10_000, "{id}");
            }
            // A refund may have committed without its answer reaching the client, never the reverse.
            assert!(payment.refunded_minor >= c.refunded * 100, "{backend:?}: {id} refund lost");
            assert!(payment.refunded_minor <= 1_000, "{backend:?}: {id} refunded twice");
        }
        // 2. Nothing half-done: every ledger invariant holds.
        gw.assert_ledger_sound();
        // 3. Every outcome's callback is delivered after the last restart.
        let store = gw.store().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while store.pending_callbacks().await.unwrap() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(store.pending_callbacks().await.unwrap(), 0, "{backend:?}: callbacks left undelivered");
        let delivered: std::collections::HashSet<String> = receiver
            .hits("crash")
            .iter()
            .filter(|h| h.json()["code"] == "ok")
            .filter_map(|h| h.json()["id"].as_str().map(String::from))
            .collect();
        for id in confirmed.keys() {
            assert!(delivered.contains(id), "{backend:?}: no success callback for {id}");
        }
        assert_eq!(
            gw.log().matches("store ready").count(),
            KILLS + 1,
            "{backend:?}: started once, restarted {KILLS} times"
        );
        let refunds = confirmed.values().filter(|c| c.refunded > 0).count();
        println!("{backend:?}: {} payments confirmed ({refunds} refunded) across {KILLS} SIGKILLs", confirmed.len());
    }
}
