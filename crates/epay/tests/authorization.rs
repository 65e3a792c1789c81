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
        let token = gw.payment_token(&invoice, 100.0).await;
        let mut request = gw.payment_request(&invoice, 100.0, VISA).await;
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
        let keys = gw.vault_keys().await;
        let other =
            epay_server::services::admin::create_merchant(store.as_ref(), &keys, "Other", "other-shop").await.unwrap();
        let settings = epay_server::services::admin::TerminalSettings {
            pos_id: Some("55500001".into()),
            transfers_allowed: Some(true),
            ..Default::default()
        };
        let other_terminal =
            epay_server::services::admin::create_terminal(store.as_ref(), "other-shop", None, &settings).await.unwrap();
        let token_of = |client: &str, secret: &str, terminal: &str, scope: &str, order: Option<&str>| {
            let request = TokenRequest {
                scope: scope.into(),
                client_id: client.into(),
                client_secret: secret.into(),
                terminal: Some(terminal.into()),
                invoice_id: order.map(String::from),
                amount: order.map(|_| 10.0),
                currency: order.map(|_| "KZT".into()),
                ..Default::default()
            };
            let client = gw.client.clone();
            async move { client.token(&request).await.unwrap().access_token }
        };
        let service = "webapi usermanagement email_send verification statement statistics payment";
        // Expired: issued now, then the sandbox clock passes their lifetime.
        let expired = token_of(CLIENT, SECRET, TERMINAL, service, None).await;
        assert_eq!(gw.advance_clock(7300).await.0, 200);

        let new_invoice = common::invoice();
        let pay_body = serde_json::to_string(&gw.payment_request(&new_invoice, 10.0, MASTERCARD).await).unwrap();
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
                Some(token_of("other-shop", &other.client_secret, &other_terminal.id, service, None).await),
            ),
            (
                "another merchant's payment token",
                Some(
                    token_of("other-shop", &other.client_secret, &other_terminal.id, "payment", Some(&new_invoice))
                        .await,
                ),
            ),
            (
                "a transfer token for a payment",
                Some(token_of(CLIENT, SECRET, P2P, "transfer", Some(&new_invoice)).await),
            ),
            ("another terminal's service token", Some(token_of(CLIENT, SECRET, P2P, service, None).await)),
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
        let (merchant, _) = epay_server::seed::test_merchant();
        assert_eq!(store.saved_cards(&merchant.id, "auth-user").await.unwrap().len(), 1);
        assert!(store.payment_by_invoice(TERMINAL, &new_invoice).await.unwrap().is_none());
        gw.assert_ledger_sound();
    }
}
