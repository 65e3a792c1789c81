//! Attempts at one invoice (issue 16 item 3, docs/compatibility.md §48): after a decline the
//! same invoice may be paid again with a new token, up to the terminal's limit of attempts
//! (reason 2740 past it); only one attempt can ever succeed, also when several pay at once.
//! On SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use epay_client::TokenRequest;
use serde_json::{json, Value};

/// The Visa test card with a mistyped CVC: declined with 2872.
const WRONG_CVC: (&str, &str, &str) = ("4405639704015096", "0127", "999");
/// Outcome cards of the simulator (docs/test-cards.md), one decline each, so that no card meets
/// the card-testing limit (5 declines per card in 10 minutes) within a test.
const DECLINED: [(&str, &str, &str); 4] = [
    ("4000000000000002", "1230", "123"), // 466
    ("4000000000009987", "1230", "123"), // 481
    ("4000000000009979", "1230", "123"), // 483
    ("4000000000000119", "1230", "123"), // 493
];

/// The JSON body of a 100-tenge cryptogram payment with `card` on the payments terminal.
async fn body(gw: &Gateway, invoice: &str, card: (&str, &str, &str)) -> String {
    serde_json::to_string(&gw.payment_request(invoice, major("100"), card).await).unwrap()
}

/// `POST /payment/cryptopay` for `card` on the payments terminal; (status, body).
async fn pay(gw: &Gateway, token: &str, invoice: &str, card: (&str, &str, &str)) -> (u16, Value) {
    gw.post_json("/payment/cryptopay", Some(token), &body(gw, invoice, card).await).await
}

async fn attempts_of(gw: &Gateway, terminal: &str, invoice: &str) -> Vec<epay_store::Payment> {
    let (merchant, _) = epay_server::runtime::seed::test_merchant();
    gw.store().await.invoice_attempts(&merchant.id, terminal, invoice).await.unwrap()
}

async fn status_of(gw: &Gateway, invoice: &str) -> Value {
    let token = gw.service_token(TERMINAL).await;
    let response = gw
        .http
        .get(format!("{}/check-status/payment/transaction/{invoice}", gw.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    response.json::<Value>().await.unwrap()["transaction"].clone()
}

fn set_max_attempts(gw: &Gateway, terminal: &str, n: &str) -> (bool, String) {
    gw.run_cli(&["terminal", "update", terminal, "--max-attempts", n])
}

#[tokio::test]
async fn a_declined_invoice_is_paid_with_a_new_token_and_the_decline_stays_in_the_history() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_CALLBACK_POLL_MS", "50")]).await;
        let receiver = Receiver::start().await;
        let invoice = invoice();
        let token = || async {
            let request = TokenRequest {
                post_link: Some(format!("{}/paid", receiver.url)),
                failure_post_link: Some(format!("{}/declined", receiver.url)),
                ..TokenRequest::payment(CLIENT, SECRET, &invoice, major("100"), "KZT", TERMINAL)
            };
            gw.client.token(&request).await.unwrap().access_token
        };

        // The shopper mistypes the CVC: declined and recorded, as ever.
        let first = token().await;
        let (status, declined) = pay(&gw, &first, &invoice, WRONG_CVC).await;
        assert_eq!((status, &declined["code"]), (400, &json!(2872)), "{backend:?}: {declined}");
        // The API spends its token whatever the outcome (docs/api.md): a retry takes a new one.
        let (status, body) = pay(&gw, &first, &invoice, VISA).await;
        assert_eq!(status, 401, "{backend:?}: {body}");

        // A new token for the same invoice pays it; before, this was 409 "already exists".
        let second = token().await;
        let (status, paid) = pay(&gw, &second, &invoice, VISA).await;
        assert_eq!(status, 200, "{backend:?}: {paid}");
        assert_eq!(paid["status"], "AUTH");
        assert_ne!(paid["id"], declined["id"]);

        // Status shows the latest attempt; the declined one stays, numbered, in the history.
        let tx = status_of(&gw, &invoice).await;
        assert_eq!((&tx["id"], &tx["statusName"]), (&paid["id"], &json!("AUTH")), "{backend:?}: {tx}");
        let attempts = attempts_of(&gw, TERMINAL, &invoice).await;
        let summary: Vec<(i32, &str, i32)> =
            attempts.iter().map(|p| (p.attempt, p.status.as_str(), p.reason_code)).collect();
        assert_eq!(summary, [(1, "REJECT", 2872), (2, "AUTH", 0)], "{backend:?}");
        assert_eq!(attempts[0].id, declined["id"].as_str().unwrap());

        // Each attempt has its own callback: the decline's failure callback is kept and sent.
        let failures = receiver.wait_for("declined", 1, Duration::from_secs(10)).await;
        let successes = receiver.wait_for("paid", 1, Duration::from_secs(10)).await;
        assert_eq!((failures.len(), successes.len()), (1, 1), "{backend:?}");
        assert_eq!(failures[0].json()["id"], declined["id"]);
        assert_eq!(failures[0].json()["reasonCode"].to_string().trim_matches('"'), "2872");
        assert_eq!(successes[0].json()["id"], paid["id"]);
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let log = gw.store().await.callbacks_of(&merchant.id, &attempts[0].id).await.unwrap();
        assert_eq!(log.len(), 1, "{backend:?}: the decline's callback is in the callback log");

        // After a success the invoice is taken, as before: a new token is refused with 409 and
        // writes nothing.
        let third = token().await;
        let (status, body) = pay(&gw, &third, &invoice, MASTERCARD).await;
        assert_eq!(status, 409, "{backend:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains("already exists"), "{body}");
        assert_eq!(attempts_of(&gw, TERMINAL, &invoice).await.len(), 2);
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_its_decline_and_a_new_key_makes_a_new_attempt() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let keyed = |token: String, key: &'static str, body: String| {
            let gw = &gw;
            async move {
                let response = gw
                    .http
                    .post(format!("{}/payment/cryptopay", gw.url))
                    .bearer_auth(token)
                    .header("Idempotency-Key", key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            }
        };
        let declining = body(&gw, &invoice, DECLINED[0]).await;
        let declined = keyed(gw.payment_token(&invoice, major("100")).await, "order-1", declining.clone()).await;
        assert_eq!(declined.0, 400, "{backend:?}: {declined:?}");
        // The same key and request, even with a new token for the invoice, is the same request:
        // its stored answer comes back and nothing new is tried (the key's scope is the merchant,
        // terminal and invoice, not the token).
        let replayed = keyed(gw.payment_token(&invoice, major("100")).await, "order-1", declining).await;
        assert_eq!(replayed, declined, "{backend:?}");
        assert_eq!(attempts_of(&gw, TERMINAL, &invoice).await.len(), 1);
        // A new key is a new attempt.
        let paying = body(&gw, &invoice, VISA).await;
        let paid = keyed(gw.payment_token(&invoice, major("100")).await, "order-2", paying).await;
        assert_eq!(paid.0, 200, "{backend:?}: {paid:?}");
        assert_eq!(attempts_of(&gw, TERMINAL, &invoice).await.len(), 2);
    }
}

#[tokio::test]
async fn past_the_terminal_limit_payments_and_transfers_answer_2740_and_write_nothing() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // The limit is a terminal setting; bad values are refused and change nothing.
        for bad in ["0", "11", "-1", "three"] {
            let (ok, out) = set_max_attempts(&gw, TERMINAL, bad);
            assert!(!ok, "{backend:?}: --max-attempts {bad} accepted: {out}");
        }
        let store = gw.store().await;
        assert_eq!(store.terminal(TERMINAL).await.unwrap().unwrap().max_attempts.get(), 3, "the default");
        let (ok, out) = set_max_attempts(&gw, TERMINAL, "2");
        assert!(ok && out.contains("max attempts:    2"), "{backend:?}: {out}");

        let invoice = invoice();
        for card in &DECLINED[..2] {
            let (status, body) = pay(&gw, &gw.payment_token(&invoice, major("100")).await, &invoice, *card).await;
            assert_eq!(status, 400, "{backend:?}: {body}");
        }
        let latest = status_of(&gw, &invoice).await;
        let third = gw.payment_token(&invoice, major("100")).await;
        let (status, body) = pay(&gw, &third, &invoice, VISA).await;
        assert_eq!(status, 400, "{backend:?}: {body}");
        assert_eq!(body["code"], 2740, "{backend:?}: {body}");
        assert!(body["message"].as_str().unwrap().starts_with("Too many failed payment attempts"), "{body}");
        assert!(body.get("id").is_none_or(Value::is_null), "nothing recorded: {body}");
        assert_eq!(attempts_of(&gw, TERMINAL, &invoice).await.len(), 2, "{backend:?}");
        assert_eq!(status_of(&gw, &invoice).await, latest, "status still shows the last attempt");
        // The refusal spent nothing: the same token gets the same answer, not 401.
        assert_eq!(pay(&gw, &third, &invoice, VISA).await.1["code"], 2740);

        // A raised limit lets the invoice go on; a success at the last attempt still makes a
        // new token a duplicate (409), not 2740.
        assert!(set_max_attempts(&gw, TERMINAL, "3").0);
        let (status, body) = pay(&gw, &third, &invoice, VISA).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        let (status, body) = pay(&gw, &gw.payment_token(&invoice, major("100")).await, &invoice, VISA).await;
        assert_eq!(status, 409, "{backend:?}: {body}");

        // Transfers share the rule: an order id declined as often as the terminal allows.
        let p2p = epay_server::runtime::seed::P2P_TERMINAL;
        assert!(set_max_attempts(&gw, p2p, "1").0);
        let order = common::invoice();
        let transfer = |sender: (&'static str, &'static str, &'static str)| {
            let (gw, order) = (&gw, order.clone());
            async move {
                let token = gw
                    .client
                    .token(&TokenRequest {
                        scope: "transfer".into(),
                        ..TokenRequest::payment(CLIENT, SECRET, &order, major("100"), "KZT", p2p)
                    })
                    .await
                    .unwrap()
                    .access_token;
                let body = json!({
                    "order": {"id": order, "amount": 100, "currency": "KZT", "description": "retry", "terminalId": p2p},
                    "card": {
                        "sender": {"transferType": "TYPEPAN", "cardCred": sender.0, "cvc": sender.2, "name": "ARMAN ALI",
                                   "expire": {"month": &sender.1[..2], "year": &sender.1[2..]}},
                        "receiver": {"transferType": "TYPEPAN", "cardCred": MASTERCARD.0},
                    },
                });
                gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await
            }
        };
        let (status, body) = transfer(DECLINED[2]).await;
        assert_eq!((status, &body["code"]), (400, &json!(483)), "{backend:?}: {body}");
        let (status, body) = transfer(VISA).await;
        assert_eq!((status, &body["code"]), (400, &json!(2740)), "{backend:?}: {body}");
        assert_eq!(body["invoiceId"], json!(order), "the transfer shape: {body}");
        assert_eq!(body["id"], "", "nothing recorded: {body}");
        assert_eq!(attempts_of(&gw, p2p, &order).await.len(), 1);
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn concurrent_attempts_at_one_invoice_have_one_winner() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let store = gw.store().await;

        // Eight tokens for one invoice pay at the same moment: exactly one succeeds, the others
        // are refused (409) and write nothing.
        let invoice = invoice();
        let mut requests = Vec::new();
        for _ in 0..8 {
            requests.push((gw.payment_token(&invoice, major("100")).await, body(&gw, &invoice, VISA).await));
        }
        let answers = futures::future::join_all(
            requests.iter().map(|(token, body)| gw.post_json("/payment/cryptopay", Some(token), body)),
        )
        .await;
        let won: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
        assert_eq!(won.len(), 1, "{backend:?}: {answers:?}");
        for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
            let message = body["message"].as_str().unwrap_or_default();
            assert_eq!(*status, 409, "{backend:?}: {body}");
            assert!(message.contains("already exists") || message.contains("same moment"), "{body}");
        }
        let attempts = store.invoice_attempts(&merchant.id, TERMINAL, &invoice).await.unwrap();
        assert_eq!(attempts.len(), 1, "{backend:?}: refused attempts wrote nothing");
        assert_eq!(store.ledger_transfers_of(&attempts[0].id).await.unwrap().len(), 1, "one hold");
        assert_eq!(status_of(&gw, &invoice).await["id"], won[0]["id"]);

        // Declines and approvals at once, on a terminal allowing 10 attempts: at most one
        // success; every recorded attempt has its own number, 1..n; all but one are declines.
        assert!(set_max_attempts(&gw, TERMINAL, "10").0);
        let invoice = common::invoice();
        let mut requests = Vec::new();
        for card in DECLINED.iter().chain([VISA; 4].iter()) {
            requests.push((gw.payment_token(&invoice, major("100")).await, body(&gw, &invoice, *card).await));
        }
        let answers = futures::future::join_all(
            requests.iter().map(|(token, body)| gw.post_json("/payment/cryptopay", Some(token), body)),
        )
        .await;
        let successes = answers.iter().filter(|(s, _)| *s == 200).count();
        let recorded = answers.iter().filter(|(s, b)| *s == 200 || (*s == 400 && b["id"].is_string())).count();
        assert!(successes <= 1, "{backend:?}: {answers:?}");
        for (status, body) in &answers {
            assert!([200, 400, 409].contains(status), "{backend:?}: a clear answer, not {status} {body}");
        }
        let attempts = store.invoice_attempts(&merchant.id, TERMINAL, &invoice).await.unwrap();
        assert_eq!(attempts.len(), recorded, "{backend:?}: {answers:?}");
        let numbers: Vec<i32> = attempts.iter().map(|p| p.attempt).collect();
        assert_eq!(numbers, (1..=recorded as i32).collect::<Vec<_>>(), "{backend:?}");
        let holding = attempts.iter().filter(|p| !["REJECT", "FAILED"].contains(&p.status.as_str())).count();
        assert_eq!(holding, successes, "{backend:?}");
        // Whatever the interleaving, the invoice ends paid once.
        if successes == 0 {
            let (status, body) = pay(&gw, &gw.payment_token(&invoice, major("100")).await, &invoice, VISA).await;
            assert_eq!(status, 200, "{backend:?}: {body}");
        }
        gw.assert_ledger_sound();
    }
}

/// One token sent by eight payments at the same moment (a double-clicked form, a replayed
/// request) pays once: the payment's transaction spends the token before it takes the card's
/// funds, and the others are refused as a used token (401), having written nothing. (The
/// per-token cryptogram limit is raised: past it, the gateway burns the token, and eight tries
/// at once would pass it before the winner commits.)
#[tokio::test]
async fn one_token_racing_itself_pays_once() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_CRYPTOGRAM_ATTEMPTS_PER_TOKEN", "20")]).await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let store = gw.store().await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let mut bodies = Vec::new();
        for _ in 0..8 {
            bodies.push(body(&gw, &invoice, VISA).await);
        }
        let answers =
            futures::future::join_all(bodies.iter().map(|body| gw.post_json("/payment/cryptopay", Some(&token), body)))
                .await;
        let won: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
        assert_eq!(won.len(), 1, "{backend:?}: {answers:?}");
        for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
            assert_eq!(*status, 401, "{backend:?}: a used token, not {body}");
        }
        let attempts = store.invoice_attempts(&merchant.id, TERMINAL, &invoice).await.unwrap();
        assert_eq!(attempts.len(), 1, "{backend:?}: the refused payments wrote nothing");
        assert_eq!(store.ledger_transfers_of(&attempts[0].id).await.unwrap().len(), 1, "one hold");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn the_transfer_form_tries_again_only_with_a_token_bound_to_its_order() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let p2p = epay_server::runtime::seed::P2P_TERMINAL;
        for bound in [true, false] {
            let order = common::invoice();
            let token = gw
                .client
                .token(&TokenRequest {
                    scope: "transfer".into(),
                    client_id: CLIENT.into(),
                    client_secret: SECRET.into(),
                    terminal: Some(p2p.into()),
                    invoice_id: bound.then(|| order.clone()),
                    amount: bound.then_some(major("100")),
                    currency: bound.then(|| "KZT".into()),
                    ..Default::default()
                })
                .await
                .unwrap()
                .access_token;
            let params = epay_server::edge::page::params::encode(
                &[
                    ("invoiceId", order.clone()),
                    ("backLink", format!("{}/demo/success", gw.url)),
                    ("failureBackLink", format!("{}/demo/failure", gw.url)),
                    ("language", "EN".into()),
                    ("terminal", p2p.into()),
                    ("amount", "100".into()),
                    ("currency", "KZT".into()),
                ],
                &[("access_token", token)],
            );
            let submit = |sender: (&'static str, &'static str, &'static str)| {
                let (gw, params) = (&gw, params.clone());
                async move {
                    let form = [
                        ("params", params.as_str()),
                        ("kind", "p2p"),
                        ("pan", sender.0),
                        ("expiry", &format!("{}/{}", &sender.1[..2], &sender.1[2..])),
                        ("cvc", sender.2),
                        ("name", "ARMAN ALI"),
                        ("receiver_pan", MASTERCARD.0),
                    ]
                    .map(|(k, v)| (k, v.to_string()));
                    gw.http
                        .post(format!("{}/payform/transfer", gw.url))
                        .form(&form)
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                }
            };
            let declined = submit(DECLINED[0]).await;
            let paid = submit(VISA).await;
            let statuses: Vec<String> =
                attempts_of(&gw, p2p, &order).await.into_iter().map(|p| p.status.to_string()).collect();
            if bound {
                // The form again, with the reason and the attempts left; the same token pays.
                assert!(declined.contains(r#"id="transfer-form""#), "{backend:?}: {declined}");
                assert!(declined.contains("(466). Attempts left: 2"), "{backend:?}: {declined}");
                assert!(paid.contains(r#"data-success="true""#), "{backend:?}: {paid}");
                assert_eq!(statuses, ["REJECT", "CHARGE"], "{backend:?}");
            } else {
                // A token bound to no order id would try cards on any number of them: a decline
                // spends it, as on the API.
                assert!(declined.contains(r#"data-success="false""#), "{backend:?}: {declined}");
                assert!(paid.contains("already been used"), "{backend:?}: {paid}");
                assert_eq!(statuses, ["REJECT"], "{backend:?}");
            }
        }
        gw.assert_ledger_sound();
    }
}
