//! Callbacks never target the gateway itself (issue 15, item 14): a `postLink` of
//! `http://<gateway>/sandbox/clock/advance?...` would make every payment's callback move the
//! sandbox clock. Such links are refused when a token request or payment hands them in, and a
//! stored one is refused again at delivery.

mod common;

use std::time::Duration;

use common::*;
use epay_client::TokenRequest;

async fn clock_offset(gw: &Gateway) -> serde_json::Value {
    gw.sandbox_clock().await["offsetSeconds"].clone()
}

#[tokio::test]
async fn callback_links_to_the_gateway_itself_are_refused_and_the_clock_does_not_move() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let before = clock_offset(&gw).await;
        let port = gw.url.rsplit(':').next().unwrap().to_string();
        let advance = "/sandbox/clock/advance?seconds=86400";
        let own_links = [
            format!("{}{advance}", gw.url),
            format!("http://localhost:{port}{advance}"),
            format!("http://shop.localhost:{port}{advance}"),
            format!("http://127.0.0.2:{port}{advance}"),
            format!("http://[::1]:{port}{advance}"),
            format!("http://[::ffff:127.0.0.1]:{port}{advance}"),
            format!("http://0.0.0.0:{port}{advance}"),
        ];
        for link in &own_links {
            let request = TokenRequest {
                post_link: Some(link.clone()),
                ..TokenRequest::payment(CLIENT, SECRET, &invoice(), major("100"), "KZT", TERMINAL)
            };
            let err = gw.client.token(&request).await.expect_err(link);
            assert_eq!(err.status(), Some(400), "{backend:?} {link}: {err}");
            assert!(err.to_string().contains("gateway itself"), "{err}");

            let invoice = invoice();
            let token = gw.payment_token(&invoice, major("100")).await;
            let mut payment = gw.payment_request(&invoice, major("100"), VISA).await;
            payment.post_link = Some(link.clone());
            let (status, body) =
                gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&payment).unwrap()).await;
            assert_eq!(status, 400, "{backend:?} {link}: {body}");
            assert!(body.to_string().contains("gateway itself"), "{body}");
        }
        // A merchant's receiver on another loopback port is still fine in the sandbox.
        let other = TokenRequest {
            post_link: Some("http://127.0.0.1:1/callback".into()),
            ..TokenRequest::payment(CLIENT, SECRET, &invoice(), major("100"), "KZT", TERMINAL)
        };
        gw.client.token(&other).await.unwrap();

        // A link stored before this check existed is refused at delivery.
        let paid = gw.authorized_payment(major("100")).await;
        let merchant = epay_server::runtime::seed::test_merchant().0.id;
        gw.execute_sql(&format!(
            "INSERT INTO callback_events (id, merchant_id, payment_id, kind, url, payload, status, attempts,
                 next_attempt_at, locked_until, claim_id, created_at, delivered_at)
             VALUES ('msg_own', '{merchant}', '{paid}', 'payment.success', 'http://localhost:{port}{advance}',
                 '{{}}', 'pending', 0, 0, 0, '', 0, NULL)"
        ))
        .await;
        let service = gw.service_token(TERMINAL).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log: serde_json::Value = gw
                .http
                .get(format!("{}/callbacks/{paid}", gw.url))
                .bearer_auth(&service)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let attempts = log["callbacks"].as_array().into_iter().flatten().filter(|c| c["id"] == "msg_own");
            if let Some(first) = attempts.filter_map(|c| c["attemptLog"].as_array()?.first().cloned()).next() {
                assert!(first["error"].as_str().unwrap().contains("gateway itself"), "{log}");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{backend:?}: {log}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(clock_offset(&gw).await, before, "{backend:?}: the clock did not move");
    }
}
