//! Abuse limits: secret guessing at the token endpoint, card testing at the payment and
//! transfer endpoints, oversized bodies, slow clients. Each answers clearly and writes nothing.

mod common;

use std::time::Duration;

use common::*;
use epay_client::TokenRequest;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn token_attempt(gw: &Gateway, client: &str, secret: &str) -> reqwest::Response {
    gw.http
        .post(format!("{}/oauth2/token", gw.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "payment"),
            ("client_id", client),
            ("client_secret", secret),
            ("terminal", TERMINAL),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn guessing_a_client_secret_is_stopped_per_client_and_per_address() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // Taken before the client is locked out: moving the clock needs a service token.
        let clock_token = gw.service_token(TERMINAL).await;
        for _ in 0..10 {
            assert_eq!(token_attempt(&gw, CLIENT, "wrong-secret").await.status(), 401);
        }
        // The 11th try is refused before the secret is even looked at, the right secret too.
        let refused = token_attempt(&gw, CLIENT, SECRET).await;
        assert_eq!(refused.status(), 429, "{backend:?}");
        let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=300).contains(&retry), "{retry}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "too_many_requests", "{body}");
        // When the window has passed, the right secret works again.
        assert_eq!(gw.advance_clock_with(&clock_token, 301).await.0, 200);
        assert_eq!(token_attempt(&gw, CLIENT, SECRET).await.status(), 200);
    }
    // Per address: many client ids from one address.
    let gw = Gateway::start_with(
        Backend::Sqlite,
        &[("EPAY_TOKEN_FAILURES_PER_CLIENT", "0"), ("EPAY_TOKEN_FAILURES_PER_IP", "3")],
    )
    .await;
    for n in 0..3 {
        assert_eq!(token_attempt(&gw, &format!("guess-{n}"), "x").await.status(), 401);
    }
    assert_eq!(token_attempt(&gw, CLIENT, SECRET).await.status(), 429, "the address is blocked");
}

#[tokio::test]
async fn card_testing_is_stopped_per_card_and_per_terminal_and_writes_nothing() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // Guessing a CVC: five declines of one card.
        for _ in 0..5 {
            let invoice = invoice();
            let token = gw.payment_token(&invoice, major("10")).await;
            let request = gw.payment_request(&invoice, major("10"), (VISA.0, VISA.1, "999")).await;
            let err = gw.client.cryptopay(&token, &request).await.unwrap_err();
            assert!(err.code().is_some_and(|c| c > 0), "{err:?}");
        }
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("10")).await;
        let request = serde_json::to_string(&gw.payment_request(&invoice, major("10"), VISA).await).unwrap();
        let refused = gw
            .http
            .post(format!("{}/payment/cryptopay", gw.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(request.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 429, "{backend:?}: the card is blocked, right CVC or not");
        assert!(refused.headers().contains_key("retry-after"));
        let store = gw.store().await;
        assert!(store.payment_by_invoice(TERMINAL, &invoice).await.unwrap().is_none(), "nothing recorded");
        // Another card still pays; the blocked one pays again after the window, with the same token.
        let other = common::invoice();
        let other_token = gw.payment_token(&other, major("10")).await;
        let other_request = gw.payment_request(&other, major("10"), MASTERCARD).await;
        assert_eq!(gw.client.cryptopay(&other_token, &other_request).await.unwrap().status, "AUTH");
        assert_eq!(gw.advance_clock(601).await.0, 200);
        let (status, body) = gw.post_json("/payment/cryptopay", Some(&token), &request).await;
        assert_eq!(status, 200, "{body}");
        gw.assert_ledger_sound();
    }
    // Many cards on one terminal: declines of unknown cards add up per terminal.
    let gw = Gateway::start_with(Backend::Sqlite, &[("EPAY_CARD_FAILURES_PER_TERMINAL", "3")]).await;
    for pan in ["4111111111111111", "4012888888881881", "4222222222222"] {
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("10")).await;
        let request = gw.payment_request(&invoice, major("10"), (pan, "1230", "123")).await;
        assert!(gw.client.cryptopay(&token, &request).await.is_err());
    }
    let invoice = invoice();
    let token = gw.payment_token(&invoice, major("10")).await;
    let request = gw.payment_request(&invoice, major("10"), VISA).await;
    assert_eq!(gw.client.cryptopay(&token, &request).await.unwrap_err().status(), Some(429));
    // Transfers count the sending card the same way (a declined transfer spends its token).
    const P2P: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";
    let mut last = (0, Value::Null, String::new());
    for _ in 0..6 {
        let order = common::invoice();
        let request = TokenRequest {
            scope: "transfer".into(),
            ..TokenRequest::payment(CLIENT, SECRET, &order, major("100"), "KZT", P2P)
        };
        let token = gw.client.token(&request).await.unwrap().access_token;
        let body = serde_json::json!({
            "order": {"id": order, "amount": 100, "currency": "KZT", "terminalId": P2P},
            "card": {"sender": {"transferType": "TYPEPAN", "cardCred": "4111111111111111", "cvc": "123",
                                "expire": {"month": "12", "year": "30"}},
                     "receiver": {"transferType": "TYPEPAN", "cardCred": MASTERCARD.0}},
        });
        let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
        last = (status, answer, order);
    }
    let (status, answer, order) = last;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["invoiceId"], order.as_str(), "seed-001 error shape: {answer}");
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let gw = Gateway::start_with(Backend::Sqlite, &[("EPAY_MAX_BODY_BYTES", "4096")]).await;
    let invoice = invoice();
    let token = gw.payment_token(&invoice, major("10")).await;
    let big = format!(r#"{{"invoiceId":"000001","padding":"{}"}}"#, "x".repeat(10_000));
    let (status, body) = gw.post_json("/payment/cryptopay", Some(&token), &big).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["message"].as_str().unwrap().contains("4096"), "{body}");
    // Chunked, with no declared length: cut off while reading.
    let address = gw.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /payment/cryptopay HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..20 {
        // Each chunk: its size in hex, the bytes; the server may hang up before the last.
        if stream.write_all(format!("400\r\n{}\r\n", "x".repeat(1024)).as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":-1"#), "{answer}");
    // Nothing was written: the token still pays.
    let request = gw.payment_request(&invoice, major("10"), VISA).await;
    assert_eq!(gw.client.cryptopay(&token, &request).await.unwrap().status, "AUTH");
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let gw =
        Gateway::start_with(Backend::Sqlite, &[("EPAY_HEADER_TIMEOUT_SECS", "1"), ("EPAY_REQUEST_TIMEOUT_SECS", "1")])
            .await;
    let address = gw.url.trim_start_matches("http://").to_string();
    // Headers that never end (slowloris).
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream.write_all(b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection is closed within the header timeout");
    // A body that never arrives.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"POST /payment/cryptopay HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"inv")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":-1"#), "{answer}");
    // The server is fine afterwards.
    assert_eq!(gw.http.get(format!("{}/healthz", gw.url)).send().await.unwrap().status(), 200);
}
