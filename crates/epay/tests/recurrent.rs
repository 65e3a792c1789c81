//! Recurrent payments and subscriptions (docs/api.md "Recurrent payments and subscriptions"):
//! the cardholder's agreement, `/recurrent/subscribe` and its management, and the scheduler
//! charging each period once on the sandbox clock, with real callbacks, on one and two nodes.

mod common;

use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use epay_client::TokenRequest;
use epay_server::runtime::seed::{test_merchant, ONE_STEP_TERMINAL};
use serde_json::{json, Value};

/// Approved while its balance of 100 lasts, then 484 (docs/test-cards.md).
const CARD_100: (&str, &str, &str) = ("4000000000000069", "1230", "123");

/// Pays `amount` on the one-step terminal with `card`, saving it for `account`, with
/// `recurrent` as given; the callback links go to `links` (postLink, failurePostLink).
/// Returns (payment id, card id).
async fn save_card(
    gw: &Gateway,
    account: &str,
    card: (&str, &str, &str),
    amount: &str,
    recurrent: bool,
    links: Option<(&str, &str)>,
) -> (String, String) {
    let invoice = invoice();
    let mut request = TokenRequest::payment(CLIENT, SECRET, &invoice, major(amount), "KZT", ONE_STEP_TERMINAL);
    if let Some((ok, failed)) = links {
        request.post_link = Some(ok.into());
        request.failure_post_link = Some(failed.into());
        request.secret_hash = Some("HelloWorld123#".into());
    }
    let token = gw.client.token(&request).await.unwrap().access_token;
    let body = json!({"amount": amount.parse::<f64>().unwrap(), "currency": "KZT", "name": "CARD HOLDER",
        "invoiceId": invoice, "description": "subscription", "accountId": account, "cardSave": true,
        "recurrent": recurrent, "cryptogram": gw.cryptogram(card, ONE_STEP_TERMINAL).await});
    let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "CHARGE", "{answer}");
    (answer["id"].as_str().unwrap().to_string(), answer["cardID"].as_str().unwrap().to_string())
}

/// `POST /payments/cards/auth` for `account`'s card, `recurrent` as given: (status, answer).
async fn pay_with_card(gw: &Gateway, account: &str, card_id: &str, recurrent: bool) -> (u16, Value) {
    let invoice = invoice();
    let token = gw.token_on(&invoice, major("5"), ONE_STEP_TERMINAL).await;
    let body = json!({"amount": 5, "currency": "KZT", "name": "CARD HOLDER", "invoiceId": invoice,
        "description": "repeat", "accountId": account, "paymentType": "cardId", "recurrent": recurrent,
        "cardId": {"id": card_id}, "terminalId": ONE_STEP_TERMINAL});
    gw.post_json("/payments/cards/auth", Some(&token), &body.to_string()).await
}

async fn subscribe(gw: &Gateway, token: &str, body: Value) -> (u16, Value) {
    gw.post_json("/recurrent/subscribe", Some(token), &body.to_string()).await
}

async fn get(gw: &Gateway, url: &str, path: &str, token: &str) -> (u16, Value) {
    let response = gw.http.get(format!("{url}{path}")).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A subscription as the API answers it, read with a fresh service token (moving the clock
/// expires the tokens issued before).
async fn read_subscription(gw: &Gateway, id: &str) -> Value {
    let token = gw.service_token(ONE_STEP_TERMINAL).await;
    let (status, read) = get(gw, &gw.url, &format!("/recurrent/subscriptions/{id}"), &token).await;
    assert_eq!(status, 200, "{read}");
    read
}

/// Moves one node's sandbox clock (each node has its own) and runs its jobs.
async fn advance_on(gw: &Gateway, url: &str, days: i64) -> Value {
    let token = gw.service_token(TERMINAL).await;
    let response = gw
        .http
        .post(format!("{url}/sandbox/clock/advance?seconds={}", days * 86_400))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A `yyyy-MM-dd'T'HH:mm:ss.SSSSSSSZ` date (facts §10.4): `2026-11-30T17:05:01.1230000+0500`.
fn is_subscription_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 32
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[20..27].iter().all(u8::is_ascii_digit)
        && (b[27] == b'+' || b[27] == b'-')
        && b[28..].iter().all(u8::is_ascii_digit)
}

/// The payments recorded for a subscription's period `n`, any status.
async fn period_payments(gw: &Gateway, subscription_id: &str, n: i64) -> Vec<epay_store::Payment> {
    let store = gw.store().await;
    let (merchant, _) = test_merchant();
    let s = store.subscription(&merchant.id, subscription_id).await.unwrap().unwrap();
    store.invoice_attempts(&merchant.id, &s.terminal_id, &s.period_invoice(n)).await.unwrap()
}

/// A new merchant with a terminal, by the operator's CLI; a service token of it.
async fn other_merchants_service_token(gw: &Gateway) -> String {
    let client_id = format!("shop-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let out = gw.run_epay(&["merchant", "create", "--name", "Other shop", "--client-id", &client_id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |out: &str, name: &str| {
        out.lines().find_map(|l| l.trim().strip_prefix(name)).map(|v| v.trim().to_string()).unwrap()
    };
    let secret = field(&out, "client secret:");
    let created =
        gw.run_epay(&["terminal", "create", "--client-id", &client_id, "--pos-id", "77700009", "--two-step", "false"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let terminal = field(&String::from_utf8_lossy(&created.stdout), "terminal id:");
    tokio::time::sleep(epay_store::CONFIG_STALENESS).await;
    gw.client.token(&TokenRequest::service(&client_id, &secret, &terminal)).await.unwrap().access_token
}

#[tokio::test]
async fn a_recurrent_agreement_allows_repeats_and_subscriptions_are_managed() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let (agreed_payment, agreed_card) = save_card(&gw, "alice", VISA, "10", true, None).await;
        let (plain_payment, plain_card) = save_card(&gw, "bob", MASTERCARD, "10", false, None).await;

        // The agreement is in the card's history; the other card has none.
        let store = gw.store().await;
        let (merchant, _) = test_merchant();
        let history = store.card_events(&merchant.id, &agreed_card).await.unwrap();
        assert_eq!(history.len(), 1, "{b}");
        assert_eq!((history[0].kind.as_str(), history[0].payment_id.as_str()), ("recurrent_agreed", &*agreed_payment));
        assert!(store.card_events(&merchant.id, &plain_card).await.unwrap().is_empty(), "{b}");

        // A recurrent repeat: refused without the agreement (nothing recorded), paid with it.
        let (status, answer) = pay_with_card(&gw, "bob", &plain_card, true).await;
        assert_eq!(status, 400, "{b}: {answer}");
        assert_eq!(answer["code"], -1, "{b}");
        assert!(answer["message"].as_str().unwrap().contains("no recurrent agreement"), "{b}: {answer}");
        let (status, answer) = pay_with_card(&gw, "alice", &agreed_card, true).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("CHARGE")), "{b}: {answer}");
        // Without `recurrent` a saved card pays as before.
        let (status, _) = pay_with_card(&gw, "bob", &plain_card, false).await;
        assert_eq!(status, 200, "{b}");

        let service = gw.service_token(ONE_STEP_TERMINAL).await;
        // Bad inputs: each refused in ePay's error shape, nothing written.
        let unknown = uuid::Uuid::new_v4().to_string();
        let other = other_merchants_service_token(&gw).await;
        let payment_token = gw.token_on(&invoice(), major("10"), ONE_STEP_TERMINAL).await;
        let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
            (
                "unknown transaction",
                &service,
                json!({"transactionId": unknown, "paymentFrequency": "MONTHLY"}),
                400,
                "not found",
            ),
            (
                "another merchant's",
                &other,
                json!({"transactionId": agreed_payment, "paymentFrequency": "MONTHLY"}),
                400,
                "not found",
            ),
            (
                "bad frequency",
                &service,
                json!({"transactionId": agreed_payment, "paymentFrequency": "DAILY"}),
                400,
                "paymentFrequency",
            ),
            ("no frequency", &service, json!({"transactionId": agreed_payment}), 400, "paymentFrequency"),
            ("no transaction", &service, json!({"paymentFrequency": "WEEKLY"}), 400, "transactionId"),
            (
                "no agreement",
                &service,
                json!({"transactionId": plain_payment, "paymentFrequency": "MONTHLY"}),
                400,
                "recurrent agreement",
            ),
            (
                "a payment token",
                &payment_token,
                json!({"transactionId": agreed_payment, "paymentFrequency": "MONTHLY"}),
                403,
                "service token",
            ),
        ];
        for (what, token, body, expected, says) in cases {
            let (status, answer) = subscribe(&gw, token, body).await;
            assert_eq!(status, expected, "{b}: {what}: {answer}");
            assert_eq!(answer["code"], -1, "{b}: {what}: {answer}");
            assert!(answer["message"].as_str().unwrap_or("").contains(says), "{b}: {what}: {answer}");
        }
        let (status, _) = gw.post_json("/recurrent/subscribe", Some(&service), "[1,").await;
        assert_eq!(status, 400, "{b}: a body that is no JSON");
        assert_eq!(gw.count_rows("subscriptions").await, 0, "{b}: a refused subscribe writes nothing");

        // Subscribe: the shape of facts §10.4.
        let (status, s) =
            subscribe(&gw, &service, json!({"transactionId": agreed_payment, "paymentFrequency": "MONTHLY"})).await;
        assert_eq!(status, 200, "{b}: {s}");
        for key in [
            "createdDate",
            "paymentFrequency",
            "lastPaymentDate",
            "clientId",
            "invoiceId",
            "amount",
            "currency",
            "reference",
        ] {
            assert!(s.get(key).is_some(), "{b}: no {key} in {s}");
        }
        assert!(is_subscription_date(s["createdDate"].as_str().unwrap()), "{b}: {s}");
        assert!(is_subscription_date(s["lastPaymentDate"].as_str().unwrap()), "{b}: {s}");
        assert_eq!((s["paymentFrequency"].as_str(), s["clientId"].as_str()), (Some("MONTHLY"), Some(CLIENT)), "{b}");
        assert_eq!(
            (s["amount"].as_f64(), s["currency"].as_str(), s["status"].as_str()),
            (Some(10.0), Some("KZT"), Some("ACTIVE"))
        );
        assert_eq!(s["reference"].as_str().unwrap().len(), 12, "{b}: {s}");
        let id = s["id"].as_str().unwrap().to_string();
        let (status, again) =
            subscribe(&gw, &service, json!({"transactionId": agreed_payment, "paymentFrequency": "WEEKLY"})).await;
        assert_eq!(status, 400, "{b}: one subscription per transaction: {again}");

        // List, read; another merchant sees none of it.
        let (status, list) = get(&gw, &gw.url, "/recurrent/subscriptions", &service).await;
        assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)), "{b}: {list}");
        let (status, list) = get(&gw, &gw.url, "/recurrent/subscriptions?accountId=bob", &service).await;
        assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(0)), "{b}: {list}");
        let (_, theirs) = get(&gw, &gw.url, "/recurrent/subscriptions", &other).await;
        assert_eq!(theirs, json!([]), "{b}");
        let (status, _) = get(&gw, &gw.url, &format!("/recurrent/subscriptions/{id}"), &other).await;
        assert_eq!(status, 400, "{b}: another merchant's subscription is not found");
        let (status, _) = gw.post_json(&format!("/recurrent/subscriptions/{id}/cancel"), Some(&other), "").await;
        assert_eq!(status, 400, "{b}: nor can it be cancelled by them");
        let (status, read) = get(&gw, &gw.url, &format!("/recurrent/subscriptions/{id}"), &service).await;
        assert_eq!((status, read["id"].as_str()), (200, Some(id.as_str())), "{b}");

        // Pause, resume, cancel; moves that are not allowed are refused.
        let path = |what: &str| format!("/recurrent/subscriptions/{id}/{what}");
        let steps = [
            ("resume", 400, "ACTIVE"),
            ("pause", 200, "PAUSED"),
            ("pause", 400, "PAUSED"),
            ("resume", 200, "ACTIVE"),
            ("cancel", 200, "CANCELLED"),
            ("resume", 400, "CANCELLED"),
            ("cancel", 400, "CANCELLED"),
        ];
        for (what, expected, then) in steps {
            let (status, answer) = gw.post_json(&path(what), Some(&service), "").await;
            assert_eq!(status, expected, "{b}: {what}: {answer}");
            let (_, read) = get(&gw, &gw.url, &format!("/recurrent/subscriptions/{id}"), &service).await;
            assert_eq!(read["status"], then, "{b}: after {what}");
        }
        // A cancelled subscription is never charged.
        advance_on(&gw, &gw.url, 40).await;
        assert!(period_payments(&gw, &id, 1).await.is_empty(), "{b}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn three_months_are_charged_once_each_with_a_declined_period_retried() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let (ok, declined) = (format!("{}/ok", receiver.url), format!("{}/declined", receiver.url));
        // 30 of the card's 100: two more months fit, the third is declined (484).
        let (original, _) = save_card(&gw, "carol", CARD_100, "30", true, Some((&ok, &declined))).await;
        let service = gw.service_token(ONE_STEP_TERMINAL).await;
        let (status, s) =
            subscribe(&gw, &service, json!({"transactionId": original, "paymentFrequency": "MONTHLY"})).await;
        assert_eq!(status, 200, "{b}: {s}");
        let id = s["id"].as_str().unwrap().to_string();

        // Nothing is due before its month.
        advance_on(&gw, &gw.url, 20).await;
        assert!(period_payments(&gw, &id, 1).await.is_empty(), "{b}: charged before it was due");
        // Months 1 and 2: charged, once each.
        for n in 1..=2 {
            advance_on(&gw, &gw.url, if n == 1 { 11 } else { 31 }).await;
            let paid = period_payments(&gw, &id, n).await;
            assert_eq!(paid.len(), 1, "{b}: period {n}");
            assert_eq!(paid[0].status.as_str(), "CHARGE", "{b}: period {n}: {:?}", paid[0].reason);
        }
        // Month 3: the balance left (10) is short: declined, the subscription waits for its retry.
        advance_on(&gw, &gw.url, 31).await;
        let third = period_payments(&gw, &id, 3).await;
        assert_eq!(third.len(), 1, "{b}");
        assert_eq!((third[0].status.as_str(), third[0].reason_code), ("REJECT", 484), "{b}");
        let read = read_subscription(&gw, &id).await;
        assert_eq!((read["status"].as_str(), read["nextPeriod"].as_i64()), (Some("ACTIVE"), Some(3)), "{b}: {read}");
        // The merchant refunds the original payment: the card has 40 again, the retry a day
        // later takes 30 of it.
        let service = gw.service_token(ONE_STEP_TERMINAL).await;
        let (status, refund) = gw.operation(&service, &original, "refund", "", None).await;
        assert_eq!(status, 200, "{b}: {refund}");
        advance_on(&gw, &gw.url, 1).await;
        let third = period_payments(&gw, &id, 3).await;
        assert_eq!(third.len(), 2, "{b}: the retry is a second attempt at the period's invoice");
        assert_eq!(third[1].status.as_str(), "CHARGE", "{b}: {:?}", third[1].reason);
        let read = read_subscription(&gw, &id).await;
        assert_eq!((read["status"].as_str(), read["nextPeriod"].as_i64()), (Some("ACTIVE"), Some(4)), "{b}: {read}");

        // Every period has its own invoice and its callbacks, at the original payment's links.
        let mut invoices = Vec::new();
        for n in 1..=3 {
            invoices.push(period_payments(&gw, &id, n).await[0].invoice_id.clone());
        }
        let oks = receiver.wait_for("ok", 4, Duration::from_secs(20)).await;
        let fails = receiver.wait_for("declined", 1, Duration::from_secs(20)).await;
        for invoice in &invoices {
            let hits: Vec<Value> = oks.iter().map(|h| h.json()).filter(|j| j["invoiceId"] == *invoice).collect();
            assert_eq!(hits.len(), 1, "{b}: one success callback for {invoice}");
            assert_eq!(hits[0]["secret_hash"], "HelloWorld123#", "{b}");
            assert_eq!(hits[0]["accountId"], "carol", "{b}");
        }
        assert_eq!(fails.len(), 1, "{b}");
        assert_eq!(
            (fails[0].json()["invoiceId"].as_str(), fails[0].json()["reasonCode"].as_i64()),
            (Some(invoices[2].as_str()), Some(484))
        );
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn a_declined_period_is_retried_on_schedule_then_the_subscription_pauses() {
    for backend in backends() {
        let receiver = Receiver::start().await;
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let (ok, declined) = (format!("{}/ok", receiver.url), format!("{}/declined", receiver.url));
        // 60 of the card's 100: every repeat is declined (484).
        let (original, _) = save_card(&gw, "dave", CARD_100, "60", true, Some((&ok, &declined))).await;
        let service = gw.service_token(ONE_STEP_TERMINAL).await;
        let (_, s) = subscribe(&gw, &service, json!({"transactionId": original, "paymentFrequency": "WEEKLY"})).await;
        let id = s["id"].as_str().unwrap().to_string();
        // The week, then the retries after 1 and 3 days.
        for (days, tries) in [(7, 1), (1, 2), (3, 3)] {
            advance_on(&gw, &gw.url, days).await;
            assert_eq!(period_payments(&gw, &id, 1).await.len(), tries, "{b}: after {days} more days");
        }
        let read = read_subscription(&gw, &id).await;
        assert_eq!(read["status"], "PAUSED", "{b}: {read}");
        // The original payment's failure callback is not one of them (it was approved).
        let fails = receiver.wait_for("declined", 3, Duration::from_secs(20)).await;
        assert_eq!(fails.len(), 3, "{b}: every declined try has its failure callback, the last one too");
        // Paused: nothing more is charged.
        advance_on(&gw, &gw.url, 30).await;
        assert_eq!(period_payments(&gw, &id, 1).await.len(), 3, "{b}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn a_deactivated_card_stops_its_subscription() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let (original, card) = save_card(&gw, "erin", VISA, "10", true, None).await;
        let service = gw.service_token(ONE_STEP_TERMINAL).await;
        let (_, s) = subscribe(&gw, &service, json!({"transactionId": original, "paymentFrequency": "WEEKLY"})).await;
        let id = s["id"].as_str().unwrap().to_string();
        let (status, _) = gw.post_json(&format!("/card/deactivate/{card}"), Some(&service), "").await;
        assert_eq!(status, 200, "{b}");
        let (_, read) = get(&gw, &gw.url, &format!("/recurrent/subscriptions/{id}"), &service).await;
        assert_eq!(read["status"], "STOPPED", "{b}: {read}");
        let (status, _) = gw.post_json(&format!("/recurrent/subscriptions/{id}/resume"), Some(&service), "").await;
        assert_eq!(status, 400, "{b}: a stopped subscription cannot be resumed");
        advance_on(&gw, &gw.url, 30).await;
        for n in 1..=4 {
            assert!(period_payments(&gw, &id, n).await.is_empty(), "{b}: period {n} charged on a deactivated card");
        }
        // A new subscription on the deactivated card is refused.
        let service = gw.service_token(ONE_STEP_TERMINAL).await;
        let (status, answer) =
            subscribe(&gw, &service, json!({"transactionId": original, "paymentFrequency": "MONTHLY"})).await;
        assert_eq!(status, 400, "{b}");
        assert!(answer["message"].as_str().unwrap().contains("deactivated"), "{b}: {answer}");
    }
}

#[tokio::test]
async fn two_nodes_racing_never_charge_a_period_twice() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let second = gw.second_node().await;
        let b = format!("{backend:?}");
        let service = gw.service_token(ONE_STEP_TERMINAL).await;
        let mut ids = Vec::new();
        for i in 0..6 {
            let (original, _) = save_card(&gw, &format!("racer{i}"), VISA, "10", true, None).await;
            let (status, s) =
                subscribe(&gw, &service, json!({"transactionId": original, "paymentFrequency": "WEEKLY"})).await;
            assert_eq!(status, 200, "{b}: {s}");
            ids.push(s["id"].as_str().unwrap().to_string());
        }
        // Both nodes' clocks move at once, and both run the scheduler at once, three times.
        for _ in 0..3 {
            let (a, c) = tokio::join!(advance_on(&gw, &gw.url, 7), advance_on(&gw, &second.url, 7));
            assert!(a["subscriptionCharges"].is_number() && c["subscriptionCharges"].is_number(), "{b}");
        }
        for id in &ids {
            for n in 1..=3 {
                let paid = period_payments(&gw, id, n).await;
                assert_eq!(paid.len(), 1, "{b}: subscription {id} period {n}: {} payments", paid.len());
                assert_eq!(paid[0].status.as_str(), "CHARGE", "{b}");
            }
            assert!(period_payments(&gw, id, 4).await.is_empty(), "{b}: period 4 is not due yet");
        }
        gw.assert_ledger_sound();
    }
}

/// A period's invoice id taken by a payment of the merchant's own (the id is the
/// subscription's prefix and the period's number, visible in every period's payment): the
/// period can never be charged, so the subscription pauses with that reason instead of staying
/// due at the head of every scheduler pass (where enough of them would starve all the others).
#[tokio::test]
async fn a_period_whose_invoice_id_is_taken_pauses_its_subscription() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let (original, _) = save_card(&gw, "frank", VISA, "10", true, None).await;
        let (other_original, _) = save_card(&gw, "grace", VISA, "10", true, None).await;
        let service = gw.service_token(ONE_STEP_TERMINAL).await;
        let (_, s) = subscribe(&gw, &service, json!({"transactionId": original, "paymentFrequency": "WEEKLY"})).await;
        let id = s["id"].as_str().unwrap().to_string();
        let (_, s) =
            subscribe(&gw, &service, json!({"transactionId": other_original, "paymentFrequency": "WEEKLY"})).await;
        let other = s["id"].as_str().unwrap().to_string();
        let (merchant, _) = test_merchant();
        let taken = gw.store().await.subscription(&merchant.id, &id).await.unwrap().unwrap().period_invoice(1);
        // The merchant pays that invoice id itself, on the subscription's terminal.
        let token = gw.token_on(&taken, major("10"), ONE_STEP_TERMINAL).await;
        let body = json!({"amount": 10, "currency": "KZT", "name": "CARD HOLDER", "invoiceId": taken,
            "description": "taken", "cryptogram": gw.cryptogram(VISA, ONE_STEP_TERMINAL).await});
        let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        advance_on(&gw, &gw.url, 7).await;
        let read = read_subscription(&gw, &id).await;
        assert_eq!(read["status"], "PAUSED", "{b}: {read}");
        assert!(read["statusReason"].as_str().unwrap().contains("already used"), "{b}: {read}");
        assert_eq!(period_payments(&gw, &id, 1).await.len(), 1, "{b}: only the merchant's own payment");
        // The other subscription is charged as usual.
        assert_eq!(read_subscription(&gw, &other).await["nextPeriod"], 2, "{b}");
        // A token of the merchant's other terminal reaches none of this terminal's subscriptions.
        let elsewhere = gw.service_token(TERMINAL).await;
        let (status, _) = get(&gw, &gw.url, &format!("/recurrent/subscriptions/{other}"), &elsewhere).await;
        assert_eq!(status, 400, "{b}: another terminal's token reads it");
        let (status, _) = gw.post_json(&format!("/recurrent/subscriptions/{other}/cancel"), Some(&elsewhere), "").await;
        assert_eq!(status, 400, "{b}: another terminal's token cancels it");
        let (_, listed) = get(&gw, &gw.url, "/recurrent/subscriptions", &elsewhere).await;
        assert_eq!(listed.as_array().map(Vec::len), Some(0), "{b}: {listed}");
        let (status, _) =
            subscribe(&gw, &elsewhere, json!({"transactionId": original, "paymentFrequency": "MONTHLY"})).await;
        assert_eq!(status, 400, "{b}: another terminal's token subscribes its payment");
        assert_eq!(read_subscription(&gw, &other).await["status"], "ACTIVE", "{b}");
        gw.assert_ledger_sound();
    }
}
