//! Authorization over every bearer-protected route, table-driven: no token, a forged one, an
//! expired one, another merchant's, another terminal's and a wrong-scope token are all refused,
//! leak nothing of the merchant's data, and change nothing.

mod common;

use common::*;
use epay_client::TokenRequest;
use serde_json::json;

const P2P: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";

/// One protected route with a request that would succeed with the right token.
struct Route {
    name: &'static str,
    method: &'static str,
    path: String,
    body: String,
}

/// The scope public clients request for everything (facts §3): with an invoice, a payment token.
const LONG_SCOPE: &str = "webapi usermanagement email_send verification statement statistics payment";

/// A token of `client` on `terminal`; bound to `order` (amount 10) when one is given.
async fn token_of(
    gw: &Gateway,
    client: &str,
    secret: &str,
    terminal: &str,
    scope: &str,
    order: Option<&str>,
) -> String {
    let request = TokenRequest {
        scope: scope.into(),
        client_id: client.into(),
        client_secret: secret.into(),
        terminal: Some(terminal.into()),
        invoice_id: order.map(String::from),
        amount: order.map(|_| major("10")),
        currency: order.map(|_| "KZT".into()),
        ..Default::default()
    };
    gw.client.token(&request).await.unwrap().access_token
}

/// A second merchant (client id `other-shop`) with a terminal that allows transfers.
async fn other_merchant(gw: &Gateway) -> (epay_server::services::admin::NewMerchant, epay_store::Terminal) {
    let store = gw.store().await;
    let keys = gw.vault_keys().await;
    let other =
        epay_server::services::admin::create_merchant(store.as_ref(), &keys, "Other", "other-shop").await.unwrap();
    let settings = epay_server::services::admin::TerminalSettings {
        pos_id: Some("55500001".into()),
        transfers_allowed: Some(true),
        ..Default::default()
    };
    let terminal =
        epay_server::services::admin::create_terminal(store.as_ref(), "other-shop", None, &settings).await.unwrap();
    (other, terminal)
}

/// Every route that takes a bearer token, aimed at the first merchant's data.
fn routes(payment_id: &str, invoice: &str, card_id: &str, pay_body: &str, transfer_body: &str) -> Vec<Route> {
    let post = |name, path: String, body: String| Route { name, method: "POST", path, body };
    let get = |name, path: String| Route { name, method: "GET", path, body: String::new() };
    vec![
        post("cryptopay", "/payment/cryptopay".into(), pay_body.into()),
        post(
            "saved-card pay",
            "/payments/cards/auth".into(),
            json!({"amount": 10, "currency": "KZT",
            "invoiceID": invoice, "terminalId": TERMINAL, "cardId": {"id": card_id}})
            .to_string(),
        ),
        post("3DS confirm", "/payment/cryptopay/confirm".into(), json!({"MD": "eA==", "PaRes": "eA"}).to_string()),
        get("status", format!("/check-status/payment/transaction/{invoice}")),
        post("charge", format!("/operation/{payment_id}/charge"), String::new()),
        post("cancel", format!("/operation/{payment_id}/cancel"), String::new()),
        post("refund", format!("/operation/{payment_id}/refund"), String::new()),
        get("cards", "/cards/auth-user".into()),
        post("deactivate", format!("/card/deactivate/{card_id}"), String::new()),
        post("p2p", "/p2p/transfer".into(), transfer_body.into()),
        post("aft", "/chdebit/transfer".into(), transfer_body.into()),
        post("oct", "/chpayment/transfer".into(), transfer_body.into()),
        get("callback log", format!("/callbacks/{payment_id}")),
        post("callback resend", format!("/callbacks/{payment_id}/resend"), json!({"id": "msg_x"}).to_string()),
    ]
}

#[tokio::test]
async fn every_protected_route_refuses_wrong_tokens_and_changes_nothing() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // The first merchant's data: an authorized payment with a saved card.
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let mut request = gw.payment_request(&invoice, major("100"), VISA).await;
        request.card_save = true;
        request.account_id = Some("auth-user".into());
        let paid = gw.client.cryptopay(&token, &request).await.unwrap();
        let payment_id = paid.id.clone();
        let card_id = paid.card_id.clone();
        let reference = paid.reference.clone();
        assert!(!reference.is_empty());
        assert!(!card_id.is_empty());

        // A second merchant with its own terminal.
        let store = gw.store().await;
        let (other, other_terminal) = other_merchant(&gw).await;
        // Expired: issued now, then the sandbox clock passes their lifetime.
        let expired = token_of(&gw, CLIENT, SECRET, TERMINAL, LONG_SCOPE, None).await;
        assert_eq!(gw.advance_clock(7300).await.0, 200);

        let new_invoice = common::invoice();
        let pay_body = serde_json::to_string(&gw.payment_request(&new_invoice, major("10"), MASTERCARD).await).unwrap();
        let order = common::invoice();
        let transfer_body = json!({
            "order": {"id": order, "amount": 10, "currency": "KZT"},
            "card": {"sender": {"transferType": "TYPEPAN", "cardCred": MASTERCARD.0, "cvc": MASTERCARD.2,
                                "expire": {"month": "01", "year": "27"}},
                     "receiver": {"transferType": "TYPEPAN", "cardCred": "4003032704547597"}},
        })
        .to_string();
        let wrong_tokens: Vec<(&str, Option<String>)> = vec![
            ("no token", None),
            ("forged token", Some("Zm9yZ2VkLXRva2Vu".into())),
            ("expired token", Some(expired)),
            (
                "another merchant's service token",
                Some(
                    token_of(&gw, "other-shop", other.client_secret.expose(), &other_terminal.id, LONG_SCOPE, None)
                        .await,
                ),
            ),
            (
                "another merchant's payment token",
                Some(
                    token_of(
                        &gw,
                        "other-shop",
                        other.client_secret.expose(),
                        &other_terminal.id,
                        "payment",
                        Some(&new_invoice),
                    )
                    .await,
                ),
            ),
            (
                "a transfer token for a payment",
                Some(token_of(&gw, CLIENT, SECRET, P2P, "transfer", Some(&new_invoice)).await),
            ),
            ("another terminal's service token", Some(token_of(&gw, CLIENT, SECRET, P2P, LONG_SCOPE, None).await)),
        ];
        let ledger_before = store.ledger_transfers_of(&payment_id).await.unwrap().len();
        let mut checked = 0;
        for (who, token) in &wrong_tokens {
            for route in routes(&payment_id, &invoice, &card_id, &pay_body, &transfer_body) {
                // Saved cards belong to the merchant, not to a terminal: a customer's card saved on
                // the payments terminal pays P2P on another (docs/compatibility.md).
                if *who == "another terminal's service token" && ["cards", "deactivate"].contains(&route.name) {
                    checked += 1;
                    continue;
                }
                // A transfer token is the right scope for transfer routes; a payment token on a
                // transfer route, and service tokens on payment routes, are the wrong ones.
                let url = format!("{}{}", gw.url, route.path);
                let mut request = match route.method {
                    "GET" => gw.http.get(url),
                    _ => gw.http.post(url).header("content-type", "application/json").body(route.body.clone()),
                };
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                // What only the merchant may see: the card mask and the payment's reference (ids the
                // caller itself sent may be echoed in an error message).
                let leaked = text.contains("440563...5096") || text.contains(&reference);
                let allowed = !(200..300).contains(&status)
                    // Status of someone else's invoice answers 200 with "not found" (ePay's shape).
                    || (route.name == "status" && text.contains(r#""resultCode":"102""#))
                    // Another merchant's view of a customer id is an empty list.
                    || (route.name == "cards" && text.trim() == "[]");
                assert!(allowed && !leaked, "{backend:?}: {who} on {}: {status} {text}", route.name);
                checked += 1;
            }
        }
        assert_eq!(checked, wrong_tokens.len() * 14);
        // Nothing changed: the payment is still AUTH with its one hold, the card still active.
        assert_eq!(gw.transaction_of(&payment_id).await["statusName"], "AUTH");
        assert_eq!(store.ledger_transfers_of(&payment_id).await.unwrap().len(), ledger_before);
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        assert_eq!(store.saved_cards(&merchant.id, "auth-user").await.unwrap().len(), 1);
        assert!(store.payment_by_invoice(TERMINAL, &new_invoice).await.unwrap().is_none());
        gw.assert_ledger_sound();
    }
}

/// `POST /operation/:id/<op><query>` with `token`: (HTTP status, the answer's `code`). A refusal
/// of the token must say how to get one that works.
async fn operate(gw: &Gateway, token: &str, id: &str, op: &str, query: &str) -> (u16, i64) {
    let (status, body) = gw.operation(token, id, op, query, None).await;
    if status == 401 {
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains("service token"), "{op}{query}: {body}");
    }
    (status, body["code"].as_i64().unwrap_or(-999))
}

/// What an operation could change about a payment: its status, amounts and ledger entries.
async fn money_of(gw: &Gateway, id: &str) -> (String, i64, i64, usize) {
    let store = gw.store().await;
    let (merchant, _) = epay_server::runtime::seed::test_merchant();
    let p = store.payment(&merchant.id, id).await.unwrap().unwrap();
    (p.status.to_string(), p.charged_minor, p.refunded_minor, store.ledger_transfers_of(id).await.unwrap().len())
}

/// Pays `invoice` (100, AUTH) with `page_token`, the token a hosted page would carry; returns the id.
async fn pay_with(gw: &Gateway, page_token: &str, invoice: &str) -> String {
    let paid = gw.client.cryptopay(page_token, &gw.payment_request(invoice, major("100"), VISA).await).await.unwrap();
    assert_eq!(paid.status, "AUTH");
    paid.id
}

/// A token for `invoice` requested by the shop after the payment, as public clients do to
/// charge or refund it (docs/compatibility.md 47).
async fn fresh_token(gw: &Gateway, invoice: &str) -> String {
    // Issued strictly after the payment was decided (times are in milliseconds).
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    token_of(gw, CLIENT, SECRET, TERMINAL, LONG_SCOPE, Some(invoice)).await
}

#[tokio::test]
async fn an_invoice_token_operates_only_when_issued_after_the_payment() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (other, other_terminal) = other_merchant(&gw).await;
        let invoice = invoice();
        // Two tokens for the invoice before it is paid: the page's, and one never used. Either
        // may have been on the page, in the shopper's hands.
        let page_token = gw.payment_token(&invoice, major("100")).await;
        let unused_early = token_of(&gw, CLIENT, SECRET, TERMINAL, LONG_SCOPE, Some(&invoice)).await;
        let id = pay_with(&gw, &page_token, &invoice).await;

        let another_invoice = fresh_token(&gw, &common::invoice()).await;
        let refused: Vec<(&str, String)> = vec![
            ("the token that paid (the page's)", page_token.clone()),
            ("an unused token issued before the payment", unused_early.clone()),
            ("another invoice's token", another_invoice),
            (
                "this invoice's token on another terminal",
                token_of(&gw, CLIENT, SECRET, P2P, LONG_SCOPE, Some(&invoice)).await,
            ),
            (
                "another merchant's token for this invoice",
                token_of(
                    &gw,
                    "other-shop",
                    other.client_secret.expose(),
                    &other_terminal.id,
                    LONG_SCOPE,
                    Some(&invoice),
                )
                .await,
            ),
            (
                "a token for this invoice whose scope names transfer",
                token_of(&gw, CLIENT, SECRET, TERMINAL, "payment transfer", Some(&invoice)).await,
            ),
        ];
        let before = money_of(&gw, &id).await;
        for (who, token) in &refused {
            for (op, query) in
                [("charge", ""), ("charge", "?amount=1"), ("cancel", ""), ("refund", ""), ("refund", "?amount=10")]
            {
                assert_eq!(operate(&gw, token, &id, op, query).await, (401, 100), "{backend:?}: {who}: {op}{query}");
            }
        }
        assert_eq!(money_of(&gw, &id).await, before, "{backend:?}: refused tokens changed the payment");
        // Status: any token of this invoice reads it, the page's included; another's reads nothing.
        for token in [&page_token, &unused_early] {
            let status = gw.client.status(token, &invoice).await.unwrap();
            assert_eq!(
                (status.result_code.as_str(), status.transaction.unwrap().status_name.as_str()),
                ("100", "AUTH")
            );
        }

        // A token the shop requests now, for the same invoice: status, a partial charge, refunds.
        let fresh = fresh_token(&gw, &invoice).await;
        let status = gw.client.status(&fresh, &invoice).await.unwrap();
        assert_eq!((status.result_code.as_str(), status.transaction.unwrap().status_name.as_str()), ("100", "AUTH"));
        assert_eq!(operate(&gw, &fresh, &id, "charge", "?amount=60").await, (200, 0), "{backend:?}");
        assert_eq!(money_of(&gw, &id).await.0, "CHARGE");
        // Charged: the page's token and the early one still move nothing.
        let charged = money_of(&gw, &id).await;
        for token in [&page_token, &unused_early] {
            assert_eq!(operate(&gw, token, &id, "refund", "?amount=10").await, (401, 100), "{backend:?}");
            assert_eq!(operate(&gw, token, &id, "refund", "").await, (401, 100), "{backend:?}");
        }
        assert_eq!(money_of(&gw, &id).await, charged, "{backend:?}");
        assert_eq!(operate(&gw, &fresh, &id, "refund", "?amount=20").await, (200, 0), "{backend:?}");
        assert_eq!(operate(&gw, &fresh, &id, "refund", "").await, (200, 0), "{backend:?}: the rest");
        let (status, charged, refunded, _) = money_of(&gw, &id).await;
        assert_eq!((status.as_str(), charged, refunded), ("REFUND", 6_000, 6_000), "{backend:?}");

        // A full charge, and a cancel, each with a token fetched after its payment.
        let full = common::invoice();
        let full_id = pay_with(&gw, &gw.payment_token(&full, major("100")).await, &full).await;
        assert_eq!(operate(&gw, &fresh_token(&gw, &full).await, &full_id, "charge", "").await, (200, 0));
        assert_eq!(money_of(&gw, &full_id).await.1, 10_000, "{backend:?}");
        let cancel = common::invoice();
        let cancel_page = gw.payment_token(&cancel, major("100")).await;
        let cancel_id = pay_with(&gw, &cancel_page, &cancel).await;
        assert_eq!(operate(&gw, &cancel_page, &cancel_id, "cancel", "").await, (401, 100), "{backend:?}");
        // The fresh token of the first invoice is refused on this one.
        assert_eq!(operate(&gw, &fresh, &cancel_id, "cancel", "").await, (401, 100), "{backend:?}");
        assert_eq!(money_of(&gw, &cancel_id).await.0, "AUTH");
        assert_eq!(operate(&gw, &fresh_token(&gw, &cancel).await, &cancel_id, "cancel", "").await, (200, 0));
        assert_eq!(money_of(&gw, &cancel_id).await.0, "CANCEL", "{backend:?}");
        gw.assert_ledger_sound();
    }
}
