//! Guessing and oracles (issue 15): the cryptogram padding oracle, locking a merchant out of its
//! token endpoint, racing the cabinet lockout and telling its e-mails apart, phone lookups that
//! tell who has a card, and tokens that outlive a rotated secret. Each through the real server,
//! on both databases. Distinct loopback addresses (127.0.0.x) stand for distinct clients: the
//! gateway takes the client's address from the socket.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use epay_client::cryptogram::encrypt_raw;
use epay_client::{CardData, PaymentRequest};
use epay_server::runtime::seed::{CABINET_EMAIL, CABINET_PASSWORD, P2P_TERMINAL, PAYOUT_TERMINAL};
use serde_json::{json, Value};

/// An HTTP client whose connections come from `address` (a loopback address), not following
/// redirects.
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One token request with `secret`, from `http`'s address to `base`; the status.
async fn token_status(http: &reqwest::Client, base: &str, secret: &str) -> u16 {
    http.post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "payment"),
            ("client_id", CLIENT),
            ("client_secret", secret),
            ("terminal", TERMINAL),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A cryptogram payment of 100 KZT for `invoice` with `token`, from `http`; status and raw body.
async fn cryptopay_raw(
    http: &reqwest::Client,
    gw: &Gateway,
    token: &str,
    invoice: &str,
    cryptogram: &str,
) -> (u16, String) {
    let body = serde_json::to_string(&PaymentRequest::new(invoice, major("100"), cryptogram.to_string())).unwrap();
    let response = http
        .post(format!("{}/payment/cryptopay", gw.url))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The cryptograms a padding oracle tells apart, each with what it is.
fn bad_cryptograms(pem: &str, size: usize) -> Vec<(&'static str, String)> {
    // c = 1 decrypts to m = 1: 00 00 … 01, never a valid PKCS#1 v1.5 block.
    let mut one = vec![0u8; size];
    one[size - 1] = 1;
    // Arbitrary bytes below the modulus: almost surely badly padded too.
    let arbitrary: Vec<u8> = (0..size).map(|i| if i == 0 { 0 } else { (i * 151 % 251) as u8 }).collect();
    let card = |value: Value| encrypt_raw(pem, value.to_string().as_bytes()).unwrap();
    vec![
        ("bad padding (c = 1)", STANDARD.encode(one)),
        ("bad padding (arbitrary)", STANDARD.encode(arbitrary)),
        ("good padding, not JSON", encrypt_raw(pem, b"this is not JSON").unwrap()),
        ("good padding, no cvc", card(json!({"hpan": VISA.0, "expDate": VISA.1, "terminalId": TERMINAL}))),
        ("good padding, bad hpan", card(json!({"hpan": "1234", "expDate": VISA.1, "cvc": VISA.2}))),
        (
            "good padding, another terminal",
            epay_client::encrypt_cryptogram(pem, &CardData::new(VISA.0, VISA.1, VISA.2, P2P_TERMINAL)).unwrap(),
        ),
    ]
}

#[tokio::test]
async fn every_bad_cryptogram_gets_one_answer_and_a_token_allows_three_tries() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_CRYPTOGRAM_FAILURES_PER_IP", "10")]).await;
        let pem = gw.public_key().await;
        let size = STANDARD.decode(gw.cryptogram(VISA, TERMINAL).await).unwrap().len();
        let probes = bad_cryptograms(&pem, size);

        // Each probe on a fresh token: one status and one body, byte for byte.
        let mut answers = Vec::new();
        for (what, cryptogram) in &probes {
            let invoice = invoice();
            let token = gw.payment_token(&invoice, major("100")).await;
            answers.push((what, cryptopay_raw(&gw.http, &gw, &token, &invoice, cryptogram).await));
        }
        let first = &answers[0].1;
        assert_eq!(first.0, 400, "{backend:?}: {answers:?}");
        for (what, answer) in &answers {
            assert_eq!(answer, first, "{backend:?}: {what} is answered differently");
        }

        // Three failures spend the token: a valid cryptogram is refused after them, and nothing
        // is written.
        let spent = invoice();
        let token = gw.payment_token(&spent, major("100")).await;
        for (what, cryptogram) in probes.iter().take(3) {
            let answer = cryptopay_raw(&gw.http, &gw, &token, &spent, cryptogram).await;
            assert_eq!(&answer, first, "{backend:?}: {what}");
        }
        let valid = gw.cryptogram(VISA, TERMINAL).await;
        let (status, body) = cryptopay_raw(&gw.http, &gw, &token, &spent, &valid).await;
        assert_eq!(status, 401, "{backend:?}: {body}");
        assert!(body.contains("already been used"), "{body}");
        assert!(gw.store().await.payment_by_invoice(TERMINAL, &spent).await.unwrap().is_none());

        // The address has failed 9 times; the 10th failure blocks it, even for a valid
        // cryptogram, while another address still pays.
        let invoice_10 = invoice();
        let token = gw.payment_token(&invoice_10, major("100")).await;
        assert_eq!(&cryptopay_raw(&gw.http, &gw, &token, &invoice_10, &probes[2].1).await, first);
        let invoice_11 = invoice();
        let token = gw.payment_token(&invoice_11, major("100")).await;
        let (status, body) = cryptopay_raw(&gw.http, &gw, &token, &invoice_11, &valid).await;
        assert_eq!(status, 429, "{backend:?}: {body}");
        let (status, body) = cryptopay_raw(&client_from("127.0.0.2"), &gw, &token, &invoice_11, &valid).await;
        assert_eq!(status, 200, "{backend:?}: {body}");

        // Timing, reported rather than asserted (a shared machine is noisy): bad padding against
        // good padding with bad content, each from its own address and token.
        let (mut bad_padding, mut bad_content) = (Vec::new(), Vec::new());
        for n in 0..12 {
            let http = client_from(&format!("127.0.1.{}", n + 1));
            for (which, cryptogram) in [(&mut bad_padding, &probes[0].1), (&mut bad_content, &probes[2].1)] {
                let invoice = invoice();
                let token = gw.payment_token(&invoice, major("100")).await;
                let started = Instant::now();
                let answer = cryptopay_raw(&http, &gw, &token, &invoice, cryptogram).await;
                which.push(started.elapsed());
                assert_eq!(&answer, first);
            }
        }
        println!(
            "{backend:?}: cryptopay median, bad padding {:?}, good padding with bad content {:?}",
            median(bad_padding),
            median(bad_content)
        );
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn guessing_from_one_address_does_not_lock_the_merchant_out_from_another() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (attacker, merchant) = (client_from("127.0.0.2"), client_from("127.0.0.3"));
        for _ in 0..10 {
            assert_eq!(token_status(&attacker, &gw.url, "wrong-secret").await, 401);
        }
        // The attacker is slowed down: refused before any secret is looked at.
        assert_eq!(token_status(&attacker, &gw.url, "wrong-secret").await, 429, "{backend:?}");
        assert_eq!(token_status(&attacker, &gw.url, SECRET).await, 429, "{backend:?}");
        // The merchant, from its own address, is not.
        assert_eq!(token_status(&merchant, &gw.url, SECRET).await, 200, "{backend:?}");
        assert_eq!(token_status(&gw.http, &gw.url, SECRET).await, 200, "{backend:?}");
    }
}

#[tokio::test]
async fn two_gateway_nodes_on_one_database_share_the_guessing_counts() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let second = gw.second_node().await;
        let attacker = client_from("127.0.0.2");
        for _ in 0..5 {
            assert_eq!(token_status(&attacker, &gw.url, "wrong-secret").await, 401);
            assert_eq!(token_status(&attacker, &second.url, "wrong-secret").await, 401);
        }
        // Ten failures in all, five on each node: both nodes refuse.
        assert_eq!(token_status(&attacker, &second.url, "wrong-secret").await, 429, "{backend:?}");
        assert_eq!(token_status(&attacker, &gw.url, "wrong-secret").await, 429, "{backend:?}");
        assert_eq!(token_status(&client_from("127.0.0.3"), &second.url, SECRET).await, 200);
    }
}

/// One cabinet sign-in from a fresh login form; its status.
async fn sign_in_status(gw: &Gateway, email: &str, password: &str) -> u16 {
    let http = client_from("127.0.0.1");
    let page = http.get(format!("{}/cabinet/login", gw.url)).send().await.unwrap();
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("epay_cabinet_login="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("the login form sets its CSRF cookie");
    let html = page.text().await.unwrap();
    let start = html.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    let csrf = html[start..].split('"').next().unwrap().to_string();
    let response = http
        .post(format!("{}/cabinet/login", gw.url))
        .header("cookie", cookie)
        .form(&[("email", email), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn parallel_sign_ins_check_at_most_five_passwords_and_unknown_emails_answer_alike() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let statuses =
            futures::future::join_all((0..40).map(|_| sign_in_status(&gw, CABINET_EMAIL, "wrong-password"))).await;
        let checked = statuses.iter().filter(|s| **s == 401).count();
        assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{backend:?}: {statuses:?}");
        assert!(checked <= 4, "{backend:?}: {checked} wrong passwords answered as checked: {statuses:?}");
        assert_eq!(sign_in_status(&gw, CABINET_EMAIL, CABINET_PASSWORD).await, 429, "{backend:?}: locked");

        // After the window, a known and an unknown e-mail get the same answers in the same order.
        let (status, body) = gw.advance_clock(901).await;
        assert_eq!(status, 200, "{body}");
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        let (mut known_time, mut unknown_time) = (Vec::new(), Vec::new());
        for _ in 0..6 {
            let started = Instant::now();
            known.push(sign_in_status(&gw, CABINET_EMAIL, "wrong-password").await);
            known_time.push(started.elapsed());
            let started = Instant::now();
            unknown.push(sign_in_status(&gw, "nobody@example.kz", "wrong-password").await);
            unknown_time.push(started.elapsed());
        }
        assert_eq!(known, vec![401, 401, 401, 401, 429, 429], "{backend:?}");
        assert_eq!(unknown, known, "{backend:?}: an unknown e-mail answers like a known one");
        println!(
            "{backend:?}: sign-in (form and post) median, known e-mail {:?}, unknown e-mail {:?}",
            median(known_time[..4].to_vec()),
            median(unknown_time[..4].to_vec())
        );
    }
}

/// A token for a payout of `amount` on the payout terminal (transferKind=oct, which the gateway
/// may require for payouts).
async fn payout_token(gw: &Gateway, order: &str, amount: &str) -> String {
    let response = gw
        .http
        .post(format!("{}/oauth2/token", gw.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "transfer"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("invoiceID", order),
            ("amount", amount),
            ("currency", "KZT"),
            ("terminal", PAYOUT_TERMINAL),
            ("transferKind", "oct"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string()
}

async fn payout_to_phone(gw: &Gateway, token: &str, order: &str, amount: f64, phone: &str, iin: &str) -> (u16, String) {
    let body = json!({
        "order": {"amount": amount, "currency": "KZT", "description": "payout", "id": order, "terminalId": PAYOUT_TERMINAL},
        "card": {"receiver": {"transferType": "TYPEPHONE", "phone": phone, "iin": iin}},
    });
    let response = gw
        .http
        .post(format!("{}/chpayment/transfer", gw.url))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The test card registered to a phone (docs/api.md), and its mask.
const PHONE: &str = "77771234567";
const IIN: &str = "900101300123";
const MASK_END: &str = "5096";

#[tokio::test]
async fn phone_lookups_answer_alike_are_limited_and_show_no_card_before_the_payout() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_PHONE_FAILURES_PER_TERMINAL", "4")]).await;
        let order = invoice();
        let token = payout_token(&gw, &order, "150").await;
        // An unknown phone and a known phone with another IIN: one answer.
        let unknown = payout_to_phone(&gw, &token, &order, 150.0, "77000000001", IIN).await;
        let other_iin = payout_to_phone(&gw, &token, &order, 150.0, PHONE, "900101300999").await;
        assert_eq!(unknown.0, 400, "{backend:?}: {unknown:?}");
        assert_eq!(unknown, other_iin, "{backend:?}");
        // The third failure uses the token's lookups up: then even the right pair is refused,
        // before the network is asked, and nothing is written.
        assert_eq!(payout_to_phone(&gw, &token, &order, 150.0, "77000000002", IIN).await, unknown);
        let (status, body) = payout_to_phone(&gw, &token, &order, 150.0, PHONE, IIN).await;
        assert_eq!(status, 429, "{backend:?}: {body}");
        assert!(!body.contains(MASK_END), "{body}");
        assert!(gw.store().await.payment_by_invoice(PAYOUT_TERMINAL, &order).await.unwrap().is_none());

        // The terminal counts too: its 4th failure (on a fresh token) blocks every token of it.
        let order = invoice();
        let token = payout_token(&gw, &order, "150").await;
        let (status, body) = payout_to_phone(&gw, &token, &order, 150.0, "77000000003", IIN).await;
        assert_eq!(status, 400, "{backend:?}: {body}");
        assert!(body.contains(r#""code":2357"#), "{backend:?}: {body}");
        let order = invoice();
        let token = payout_token(&gw, &order, "150").await;
        assert_eq!(payout_to_phone(&gw, &token, &order, 150.0, PHONE, IIN).await.0, 429, "{backend:?}");
    }
    // A right phone + IIN whose payout is refused (more than the merchant's balance) shows no
    // card mask; a paid one does.
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let order = invoice();
        let token = payout_token(&gw, &order, "2000000").await;
        let (status, body) = payout_to_phone(&gw, &token, &order, 2_000_000.0, PHONE, IIN).await;
        assert_eq!(status, 400, "{backend:?}: {body}");
        assert!(!body.contains(MASK_END), "{backend:?}: {body}");
        let order = invoice();
        let token = payout_token(&gw, &order, "150").await;
        let (status, body) = payout_to_phone(&gw, &token, &order, 150.0, PHONE, IIN).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert!(body.contains(MASK_END), "{backend:?}: {body}");
    }
}

#[tokio::test]
async fn rotating_the_client_secret_revokes_the_tokens_issued_under_the_old_one() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let order = invoice();
        let payment = gw.payment_token(&order, major("100")).await;
        let service = gw.service_token(TERMINAL).await;
        let status_path = format!("{}/check-status/payment/transaction/{order}", gw.url);
        let before = gw.http.get(&status_path).bearer_auth(&service).send().await.unwrap();
        assert_ne!(before.status(), 401, "{backend:?}: the service token works before");

        let (ok, out) = gw.run_cli(&["secret", "rotate", "--client-id", CLIENT]);
        assert!(ok, "{out}");

        let after = gw.http.get(&status_path).bearer_auth(&service).send().await.unwrap();
        assert_eq!(after.status(), 401, "{backend:?}: the service token is revoked");
        let valid = gw.cryptogram(VISA, TERMINAL).await;
        let (status, body) = cryptopay_raw(&gw.http, &gw, &payment, &order, &valid).await;
        assert_eq!(status, 401, "{backend:?}: the payment token is revoked: {body}");
    }
}
