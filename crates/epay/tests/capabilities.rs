//! A token is a capability (DESIGN §5a): the shopper holds the page's token, so nothing the page
//! or a request body says can widen it. Issue 15, items 1–4 and the token-scope low items, by API
//! and on the page, on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use epay_server::runtime::seed::{ONE_STEP_TERMINAL, P2P_TERMINAL as P2P, PAYOUT_TERMINAL as PAYOUT};
use serde_json::{json, Value};

/// `POST /oauth2/token` with exactly these form fields (plus the test merchant's credentials).
async fn token_with(gw: &Gateway, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials"), ("client_id", CLIENT), ("client_secret", SECRET)];
    form.extend_from_slice(fields);
    let response = gw.http.post(format!("{}/oauth2/token", gw.url)).form(&form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn access_token(gw: &Gateway, fields: &[(&str, &str)]) -> String {
    let (status, body) = token_with(gw, fields).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// A token of `scope` for one KZT order; `extra` adds fields such as `transferKind`,
/// `accountId`, `postLink` or `secret_hash`.
async fn order_token(
    gw: &Gateway,
    scope: &str,
    order: &str,
    amount: &str,
    terminal: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut fields =
        vec![("scope", scope), ("invoiceID", order), ("amount", amount), ("currency", "KZT"), ("terminal", terminal)];
    fields.extend_from_slice(extra);
    access_token(gw, &fields).await
}

async fn transfer_token(gw: &Gateway, order: &str, amount: &str, terminal: &str, extra: &[(&str, &str)]) -> String {
    order_token(gw, "transfer", order, amount, terminal, extra).await
}

/// A payment token for one order on the one-step terminal.
async fn payment_token(gw: &Gateway, order: &str, amount: &str, extra: &[(&str, &str)]) -> String {
    order_token(gw, "payment", order, amount, ONE_STEP_TERMINAL, extra).await
}

fn order(id: &str, amount: &str, terminal: &str, account: &str) -> Value {
    json!({"id": id, "amount": amount, "currency": "KZT", "description": "Top-up", "accountID": account,
           "terminalId": terminal})
}

fn pan_side(card: (&str, &str, &str), save: bool) -> Value {
    json!({"transferType": "TYPEPAN", "cardCred": card.0, "cvc": card.2, "save": save, "name": "ARMAN ALI",
           "expire": {"month": &card.1[..2], "year": &card.1[2..]}})
}

fn receiver_pan(pan: &str, save: bool) -> Value {
    json!({"transferType": "TYPEPAN", "cardCred": pan, "save": save})
}

fn by_id(id: &str) -> Value {
    json!({"transferType": "TYPECARDID", "cardCred": id})
}

/// Whether anything was recorded for `invoice` on `terminal` (every ledger posting hangs off a
/// recorded transaction, so `false` also means no money moved).
async fn recorded(gw: &Gateway, terminal: &str, invoice: &str) -> bool {
    gw.store().await.payment_by_invoice(terminal, invoice).await.unwrap().is_some()
}

/// Page `params` as payment-api.js builds them, around `access_token`.
fn page_params(fields: &[(&str, String)], access_token: &str, scope: &str) -> String {
    epay_server::edge::page::params::encode(
        fields,
        &[("access_token", access_token.to_string()), ("expires_in", "7200".into()), ("scope", scope.into())],
    )
}

async fn post_form(gw: &Gateway, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = gw.http.post(format!("{}{path}", gw.url)).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn a_transfer_token_makes_only_the_kind_the_merchant_asked_for() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");

        // The merchant asks for an AFT top-up: the shopper pays the merchant 300.
        let top_up = invoice();
        let aft = transfer_token(&gw, &top_up, "300", PAYOUT, &[("transferKind", "aft")]).await;
        // The shopper turns it into a payout to their own card, by API…
        let payout = json!({"order": order(&top_up, "300", PAYOUT, ""), "card": {"receiver": receiver_pan(MASTERCARD.0, false)}});
        let (status, body) = gw.post_json("/chpayment/transfer", Some(&aft), &payout.to_string()).await;
        assert_eq!(status, 403, "{b}: an AFT token never pays out: {body}");
        assert!(body["message"].as_str().unwrap().contains("transferKind=oct"), "{b}: {body}");
        // …or into a P2P between two of their cards.
        let p2p = json!({"order": order(&top_up, "300", PAYOUT, ""),
                         "card": {"sender": pan_side(VISA, false), "receiver": receiver_pan(MASTERCARD.0, false)}});
        let (status, body) = gw.post_json("/p2p/transfer", Some(&aft), &p2p.to_string()).await;
        assert_eq!(status, 403, "{b}: {body}");
        // …or on the page, with kind=oct in the form.
        let params = page_params(
            &[
                ("invoiceId", top_up.clone()),
                ("amount", "300".into()),
                ("currency", "KZT".into()),
                ("terminal", PAYOUT.into()),
                ("description", "Top-up".into()),
            ],
            &aft,
            "transfer",
        );
        let (status, page) = post_form(
            &gw,
            "/payform/transfer",
            &[("params", &params), ("kind", "oct"), ("receiver_pan", MASTERCARD.0)],
        )
        .await;
        assert_eq!(status, 400, "{b}: {page}");
        assert!(!recorded(&gw, PAYOUT, &top_up).await, "{b}: nothing written, no money moved");

        // The top-up itself works.
        let top_up_body =
            json!({"order": order(&top_up, "300", PAYOUT, ""), "card": {"sender": pan_side(VISA, false)}});
        let (status, body) = gw.post_json("/chdebit/transfer", Some(&aft), &top_up_body.to_string()).await;
        assert_eq!(status, 200, "{b}: {body}");
        assert_eq!(body["status"], "CHARGE");

        // A token whose kind the merchant did not name makes P2P transfers only.
        let open = invoice();
        let unnamed = transfer_token(&gw, &open, "150", PAYOUT, &[]).await;
        let payout =
            json!({"order": order(&open, "150", PAYOUT, ""), "card": {"receiver": receiver_pan(MASTERCARD.0, false)}});
        let (status, _) = gw.post_json("/chpayment/transfer", Some(&unnamed), &payout.to_string()).await;
        assert_eq!(status, 403, "{b}: no payout without transferKind=oct");
        let aft_body = json!({"order": order(&open, "150", PAYOUT, ""), "card": {"sender": pan_side(VISA, false)}});
        let (status, _) = gw.post_json("/chdebit/transfer", Some(&unnamed), &aft_body.to_string()).await;
        assert_eq!(status, 403, "{b}: no AFT without transferKind=aft");
        assert!(!recorded(&gw, PAYOUT, &open).await, "{b}");
        let p2p = json!({"order": order(&open, "150", PAYOUT, ""),
                         "card": {"sender": pan_side(VISA, false), "receiver": receiver_pan(MASTERCARD.0, false)}});
        let (status, body) = gw.post_json("/p2p/transfer", Some(&unnamed), &p2p.to_string()).await;
        assert_eq!(status, 200, "{b}: P2P needs no kind (seed 001): {body}");

        // A payout the merchant asked for works, and its amount is fixed by the token request.
        let paid_out = invoice();
        let oct = transfer_token(&gw, &paid_out, "500", PAYOUT, &[("transferKind", "OCT")]).await;
        let payout = json!({"order": order(&paid_out, "500", PAYOUT, ""), "card": {"receiver": receiver_pan(MASTERCARD.0, false)}});
        let (status, body) = gw.post_json("/chpayment/transfer", Some(&oct), &payout.to_string()).await;
        assert_eq!(status, 200, "{b}: {body}");

        // Bad kinds are refused when the token is requested.
        for (fields, why) in [
            (vec![("scope", "transfer"), ("terminal", PAYOUT), ("transferKind", "oct")], "a payout needs its order"),
            (vec![("scope", "transfer"), ("terminal", PAYOUT), ("transferKind", "cash")], "unknown kind"),
            (vec![("scope", "payment"), ("terminal", PAYOUT), ("transferKind", "p2p")], "not a transfer token"),
        ] {
            let (status, body) = token_with(&gw, &fields).await;
            assert_eq!(status, 400, "{b}: {why}: {body}");
            assert_eq!(body["error"], "invalid_request", "{b}: {why}");
        }
        gw.assert_ledger_sound();
    }
}

/// Saves `card` for `account` with an approved cryptogram payment (cardSave); returns its id.
async fn save_card_for(gw: &Gateway, account: &str, card: (&str, &str, &str)) -> String {
    let invoice = invoice();
    let token = gw.token_on(&invoice, major("10"), ONE_STEP_TERMINAL).await;
    let body = json!({"amount": 10, "currency": "KZT", "name": "CARD HOLDER", "invoiceId": invoice,
                      "description": "saving", "accountId": account, "cardSave": true,
                      "cryptogram": gw.cryptogram(card, ONE_STEP_TERMINAL).await});
    let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let card_id = answer["cardID"].as_str().unwrap().to_string();
    assert!(!card_id.is_empty(), "{answer}");
    card_id
}

fn saved_card_payment(invoice: &str, card_id: &str, account: Option<&str>) -> Value {
    let mut body = json!({"amount": 25, "currency": "KZT", "name": "SHOPPER", "invoiceId": invoice,
                          "description": "order", "paymentType": "cardId", "cardId": {"id": card_id},
                          "terminalId": ONE_STEP_TERMINAL});
    if let Some(account) = account {
        body["accountId"] = json!(account);
    }
    body
}

#[tokio::test]
async fn a_page_token_cannot_spend_another_customers_saved_card() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let alice_card = save_card_for(&gw, "alice", VISA).await;

        // Bob holds a page token for his own order and knows Alice's card id.
        let order_id = invoice();
        let bob = gw.token_on(&order_id, major("25"), ONE_STEP_TERMINAL).await;
        let body = saved_card_payment(&order_id, &alice_card, None);
        let (status, answer) = gw.post_json("/payments/cards/auth", Some(&bob), &body.to_string()).await;
        assert_eq!(status, 400, "{b}: a card id alone pays nothing: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("accountId is required"), "{b}: {answer}");
        let body = saved_card_payment(&order_id, &alice_card, Some("bob"));
        let (status, _) = gw.post_json("/payments/cards/auth", Some(&bob), &body.to_string()).await;
        assert_eq!(status, 400, "{b}: not Bob's card");
        assert!(!recorded(&gw, ONE_STEP_TERMINAL, &order_id).await, "{b}");

        // A token bound to Bob cannot be pointed at Alice.
        let bound = payment_token(&gw, &order_id, "25", &[("accountId", "bob")]).await;
        let body = saved_card_payment(&order_id, &alice_card, Some("alice"));
        let (status, answer) = gw.post_json("/payments/cards/auth", Some(&bound), &body.to_string()).await;
        assert_eq!(status, 400, "{b}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("does not match the token's accountId"), "{b}");

        // The merchant's own token for Alice pays with her card.
        let alices_order = invoice();
        let for_alice = payment_token(&gw, &alices_order, "25", &[("accountId", "alice")]).await;
        let body = saved_card_payment(&alices_order, &alice_card, None);
        let (status, answer) = gw.post_json("/payments/cards/auth", Some(&for_alice), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: the token's customer is the request's: {answer}");
        assert_eq!(answer["accountId"], "alice");

        // Transfers: a saved sender card needs the customer, by API…
        let p2p_order = invoice();
        let token = transfer_token(&gw, &p2p_order, "100", P2P, &[]).await;
        let body = json!({"order": order(&p2p_order, "100", P2P, ""),
                          "card": {"sender": by_id(&alice_card), "receiver": receiver_pan(MASTERCARD.0, false)}});
        let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
        assert_eq!(status, 400, "{b}: {answer}");
        // …and on the page only the token's customer: params naming Alice list nothing and pay
        // nothing from her cards.
        let page_order = invoice();
        let token = transfer_token(&gw, &page_order, "100", P2P, &[]).await;
        let params = page_params(
            &[
                ("invoiceId", page_order.clone()),
                ("amount", "100".into()),
                ("currency", "KZT".into()),
                ("terminal", P2P.into()),
                ("accountId", "alice".into()),
            ],
            &token,
            "transfer",
        );
        let page = gw.http.get(format!("{}/payform/?params={params}&isTransfer=true", gw.url)).send().await.unwrap();
        let page = page.text().await.unwrap();
        assert!(page.contains("receiver_pan"), "{b}: the transfer form is shown");
        assert!(!page.contains(&alice_card) && !page.contains("440563...5096"), "{b}: Alice's card is not listed");
        let (status, _) = post_form(
            &gw,
            "/payform/transfer",
            &[("params", &params), ("kind", "p2p"), ("sender_card_id", &alice_card), ("receiver_pan", MASTERCARD.0)],
        )
        .await;
        assert_eq!(status, 400, "{b}");
        assert!(!recorded(&gw, P2P, &page_order).await, "{b}: nothing paid from Alice's card");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn the_page_lists_and_uses_only_the_customer_the_token_names() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let alice_card = save_card_for(&gw, "alice", VISA).await;
        let bob_card = save_card_for(&gw, "bob", MASTERCARD).await;
        let browser = common::browser::Browser::start().await;

        let link = |order: &str, token: &str, account: &str| {
            let params = page_params(
                &[
                    ("invoiceId", order.to_string()),
                    ("amount", "100".into()),
                    ("currency", "KZT".into()),
                    ("terminal", P2P.into()),
                    ("accountId", account.into()),
                    ("backLink", format!("{}/demo/success?invoiceId={order}", gw.url)),
                    ("language", "EN".into()),
                ],
                token,
                "transfer",
            );
            format!("{}/payform/?params={params}&isTransfer=true", gw.url)
        };
        // The merchant names Bob; the shopper rewrites the params to Alice: refused outright.
        let order_id = invoice();
        let token = transfer_token(&gw, &order_id, "100", P2P, &[("accountId", "bob")]).await;
        browser.goto(&link(&order_id, &token, "alice")).await;
        let source = browser.source().await;
        assert!(!source.contains("440563...5096") && !source.contains(&alice_card), "{b}: Alice's card stays hidden");
        assert!(browser.find("#transfer-submit").await.is_none(), "{b}: no form for another customer");

        // With Bob's own params, only Bob's card is offered, and it pays.
        browser.goto(&link(&order_id, &token, "bob")).await;
        browser.wait("#transfer-submit", 10).await;
        let source = browser.source().await;
        assert!(source.contains("552204...6736"), "{b}: Bob's card is offered");
        assert!(!source.contains("440563...5096"), "{b}: Alice's is not");
        browser.select("#sender_card_id", &bob_card).await;
        browser.type_into("#receiver_pan", VISA.0).await;
        browser.click("#transfer-submit").await;
        browser.wait_url("/demo/success", 30).await;
        let service = gw.service_token(P2P).await;
        let tx = gw.client.status(&service, &order_id).await.unwrap().transaction.unwrap();
        assert_eq!(tx.status_name, "CHARGE", "{b}");
        assert_eq!(tx.card_mask, "552204...6736", "{b}: paid from Bob's saved card");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn a_card_saved_as_a_receiver_can_only_receive() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        // The attacker sends 1 tenge to the victim's card number and asks to save it.
        let first = invoice();
        let token = transfer_token(&gw, &first, "1", P2P, &[]).await;
        let body = json!({"order": order(&first, "1", P2P, "mule"),
                          "card": {"sender": pan_side(VISA, false), "receiver": receiver_pan(MASTERCARD.0, true)}});
        let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        let victim = answer["receiverCardID"].as_str().unwrap().to_string();
        assert!(!victim.is_empty(), "{b}: the receiver may be saved, to receive again");

        // The same for a payout.
        let payout = invoice();
        let oct = transfer_token(&gw, &payout, "1", PAYOUT, &[("transferKind", "oct")]).await;
        let body = json!({"order": order(&payout, "1", PAYOUT, "mule2"), "card": {"receiver": receiver_pan(MASTERCARD.0, true)}});
        let (status, answer) = gw.post_json("/chpayment/transfer", Some(&oct), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        let victim_by_payout = answer["receiverCardID"].as_str().unwrap().to_string();

        for (card, account) in [(&victim, "mule"), (&victim_by_payout, "mule2")] {
            // As a P2P sender: refused, nothing written.
            let order_id = invoice();
            let token = transfer_token(&gw, &order_id, "50000", P2P, &[]).await;
            let body = json!({"order": order(&order_id, "50000", P2P, account),
                              "card": {"sender": by_id(card), "receiver": receiver_pan(VISA.0, false)}});
            let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
            assert_eq!(status, 400, "{b}: {answer}");
            assert!(answer["message"].as_str().unwrap().contains("can only receive"), "{b}: {answer}");
            assert!(!recorded(&gw, P2P, &order_id).await, "{b}");
            // As a saved card on /payments/cards/auth: refused.
            let order_id = invoice();
            let token = gw.token_on(&order_id, major("25"), ONE_STEP_TERMINAL).await;
            let body = saved_card_payment(&order_id, card, Some(account));
            let (status, answer) = gw.post_json("/payments/cards/auth", Some(&token), &body.to_string()).await;
            assert_eq!(status, 400, "{b}: {answer}");
            assert!(!recorded(&gw, ONE_STEP_TERMINAL, &order_id).await, "{b}");
            // It still receives.
            let order_id = invoice();
            let token = transfer_token(&gw, &order_id, "10", P2P, &[]).await;
            let body = json!({"order": order(&order_id, "10", P2P, account),
                              "card": {"sender": pan_side(VISA, false), "receiver": by_id(card)}});
            let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
            assert_eq!(status, 200, "{b}: a receive-only card receives: {answer}");
        }

        // Once the card's holder pays with it (expiry and CVC), the saved card may pay, under a
        // new id: the one the receiver's saver learned stays unable to pay.
        let proven = save_card_for(&gw, "mule", MASTERCARD).await;
        assert_ne!(proven, victim, "{b}: a proven card gets an id its receiver-saver never saw");
        let pay_with = |card: String| {
            let gw = &gw;
            async move {
                let order_id = invoice();
                let token = gw.token_on(&order_id, major("25"), ONE_STEP_TERMINAL).await;
                let body = saved_card_payment(&order_id, &card, Some("mule"));
                gw.post_json("/payments/cards/auth", Some(&token), &body.to_string()).await
            }
        };
        let (status, answer) = pay_with(proven.clone()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        let (status, _) = pay_with(victim.clone()).await;
        assert_eq!(status, 400, "{b}: the old id pays nothing");

        // Saving a customer's card number as a receiver never reveals the id of their payable card.
        let alice_card = save_card_for(&gw, "alice", VISA).await;
        let order_id = invoice();
        let token = transfer_token(&gw, &order_id, "1", P2P, &[]).await;
        let body = json!({"order": order(&order_id, "1", P2P, "alice"),
                          "card": {"sender": pan_side(MASTERCARD, false), "receiver": receiver_pan(VISA.0, true)}});
        let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        assert_eq!(answer["receiverCardID"], "", "{b}: Alice's card id stays hidden");
        assert!(!answer.to_string().contains(&alice_card), "{b}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn the_page_cannot_send_callbacks_or_the_secret_hash_elsewhere() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let merchant = Receiver::start().await;
        // The shopper's server, on an address the merchant never vouched for.
        let attacker = Receiver::start_on("0.0.0.0:0").await;
        let attacker_url = attacker.url.clone();

        // The token binds the merchant's links and secret_hash; the page names the shopper's.
        let order_id = invoice();
        let merchant_link = format!("{}/ok", merchant.url);
        let token =
            payment_token(&gw, &order_id, "100", &[("postLink", &merchant_link), ("secret_hash", "MERCHANT-SECRET")])
                .await;
        let evil = format!("{}/steal", merchant.url.replace("127.0.0.1", "localhost"));
        let params = page_params(
            &[
                ("invoiceId", order_id.clone()),
                ("amount", "100".into()),
                ("currency", "KZT".into()),
                ("terminal", ONE_STEP_TERMINAL.into()),
                ("description", "order".into()),
                ("postLink", evil.clone()),
                ("failurePostLink", evil.clone()),
            ],
            &token,
            "payment",
        );
        // A declined card: the failure callback is the one a shopper gets without paying.
        let (status, _) = post_form(
            &gw,
            "/payform/pay",
            &[("params", &params), ("pan", "4000000000000002"), ("expiry", "01/27"), ("cvc", "123"), ("name", "X")],
        )
        .await;
        assert_eq!(status, 200, "{b}: the decline is shown");
        let hits = merchant.wait_for("ok", 1, Duration::from_secs(10)).await;
        assert_eq!(hits.len(), 1, "{b}: the callback goes to the token's postLink");
        assert_eq!(hits[0].json()["secret_hash"], "MERCHANT-SECRET");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(merchant.hits("steal").is_empty(), "{b}: nothing reaches the page's link");

        // Without links in the token, a link on an origin the merchant never vouched for is
        // refused before anything is written…
        let order_id = invoice();
        let token = payment_token(&gw, &order_id, "100", &[("secret_hash", "MERCHANT-SECRET")]).await;
        let stolen = format!("{attacker_url}/steal");
        let body = json!({"amount": 100, "currency": "KZT", "name": "X", "invoiceId": order_id, "description": "o",
                          "postLink": stolen, "cryptogram": gw.cryptogram(VISA, ONE_STEP_TERMINAL).await});
        let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), &body.to_string()).await;
        assert_eq!(status, 400, "{b}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("not accepted from the request"), "{b}: {answer}");
        assert!(!recorded(&gw, ONE_STEP_TERMINAL, &order_id).await, "{b}");
        // …and accepted once the merchant registers that origin for the terminal.
        let origin = attacker_url.clone();
        let (ok, out) = gw.run_cli(&["terminal", "update", ONE_STEP_TERMINAL, "--callback-origin", &origin]);
        assert!(ok, "{b}: {out}");
        let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        let hits = attacker.wait_for("steal", 1, Duration::from_secs(10)).await;
        assert_eq!(hits.len(), 1, "{b}: a vouched-for origin gets its callback");
        assert!(attacker.hits("steal").iter().all(|h| h.json()["secret_hash"] == "MERCHANT-SECRET"));
    }
}

#[tokio::test]
async fn tokens_read_and_do_only_what_their_binding_names() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let paid = gw.authorized_payment(major("100")).await;
        let paid_invoice = gw.transaction_of(&paid).await["invoiceID"].as_str().unwrap().to_string();

        // Seed 002's page token: scope transfer, a terminal, no invoice.
        let page_token =
            access_token(&gw, &[("scope", "transfer"), ("terminal", TERMINAL), ("secret_hash", "S")]).await;
        let status = gw
            .http
            .get(format!("{}/check-status/payment/transaction/{paid_invoice}", gw.url))
            .bearer_auth(&page_token)
            .send()
            .await
            .unwrap();
        let status: Value = status.json().await.unwrap();
        assert_ne!(status["resultCode"], "100", "{b}: a transfer page token reads no invoice: {status}");
        assert!(status["transaction"].is_null(), "{b}");
        // Nor does a token that names both scopes.
        let mixed = access_token(&gw, &[("scope", "payment transfer"), ("terminal", TERMINAL)]).await;
        let (code, _) = gw.operation(&mixed, &paid, "cancel", "", None).await;
        assert_ne!(code, 200, "{b}: a token that reaches the page cannot cancel");
        assert_eq!(gw.transaction_of(&paid).await["statusName"], "AUTH", "{b}");

        // A terminal-bound service token resends only its own terminal's callbacks.
        let receiver = Receiver::start().await;
        let other_invoice = invoice();
        let token = payment_token(&gw, &other_invoice, "10", &[("postLink", &format!("{}/ok", receiver.url))]).await;
        let body = json!({"amount": 10, "currency": "KZT", "name": "X", "invoiceId": other_invoice, "description": "o",
                          "cryptogram": gw.cryptogram(VISA, ONE_STEP_TERMINAL).await});
        let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        receiver.wait_for("ok", 1, Duration::from_secs(10)).await;
        let payment_id = answer["id"].as_str().unwrap().to_string();
        let own = gw.service_token(ONE_STEP_TERMINAL).await;
        let log = gw.http.get(format!("{}/callbacks/{payment_id}", gw.url)).bearer_auth(&own).send().await.unwrap();
        let log: Value = log.json().await.unwrap();
        let event = log["callbacks"][0]["id"].as_str().unwrap_or_else(|| panic!("{b}: {log}")).to_string();
        let other_terminal = gw.service_token(TERMINAL).await;
        let resend = |token: String| {
            let url = format!("{}/callbacks/{event}/resend", gw.url);
            let http = gw.http.clone();
            async move { http.post(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
        };
        assert_ne!(resend(other_terminal).await, 200, "{b}: another terminal's token cannot resend");
        assert_eq!(resend(own).await, 200, "{b}: its own terminal's token can");
    }
}

/// `cardId` in `/payments/cards/auth` may be a plain string as well as seed 003's `{"id": …}`;
/// either way the card must be the request's customer's, and the token's when it names one.
#[tokio::test]
async fn a_saved_card_id_may_be_a_plain_string() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let alice_card = save_card_for(&gw, "alice", VISA).await;
        // Seed 003's body with `cardId` (or `cardID`) set to `card`.
        let with_card = |order_id: &str, field: &str, card: Value, account: Option<&str>| {
            let mut body = saved_card_payment(order_id, "", account);
            body.as_object_mut().unwrap().remove("cardId");
            body[field] = card;
            body.to_string()
        };
        let by_string =
            |order_id: &str, card: Value, account: Option<&str>| with_card(order_id, "cardId", card, account);
        let pay = |token: String, body: String| {
            let gw = &gw;
            async move { gw.post_json("/payments/cards/auth", Some(&token), &body).await }
        };
        // Alice's own order, by either spelling of the field: paid with her card.
        for field in ["cardId", "cardID"] {
            let order_id = invoice();
            let token = gw.token_on(&order_id, major("25"), ONE_STEP_TERMINAL).await;
            let (status, answer) = pay(token, with_card(&order_id, field, json!(alice_card), Some("alice"))).await;
            assert_eq!(status, 200, "{b}: {field}: {answer}");
            assert_eq!(answer["cardID"], alice_card.as_str(), "{b}");
            assert_eq!(answer["accountId"], "alice", "{b}");
        }

        // Bob's order naming Alice's card by string: refused, as with the object.
        let order_id = invoice();
        let token = gw.token_on(&order_id, major("25"), ONE_STEP_TERMINAL).await;
        for account in [None, Some("bob")] {
            let (status, answer) = pay(token.clone(), by_string(&order_id, json!(alice_card), account)).await;
            assert_eq!((status, answer["code"].clone()), (400, json!(-1)), "{b}: {account:?}: {answer}");
        }
        // A token bound to Bob cannot name Alice.
        let bound = payment_token(&gw, &order_id, "25", &[("accountId", "bob")]).await;
        let (status, answer) = pay(bound, by_string(&order_id, json!(alice_card), Some("alice"))).await;
        assert_eq!(status, 400, "{b}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("does not match the token's accountId"), "{b}");
        // Neither a string nor an object with an id: a clear 400.
        for bad in [json!(42), json!([alice_card]), json!(""), json!("  "), json!({"id": ""}), json!({}), json!(true)] {
            let (status, answer) = pay(token.clone(), by_string(&order_id, bad.clone(), Some("alice"))).await;
            assert_eq!(status, 400, "{b}: {bad}: {answer}");
            assert!(answer["message"].as_str().unwrap().contains("cardId"), "{b}: {bad}: {answer}");
        }
        assert!(!recorded(&gw, ONE_STEP_TERMINAL, &order_id).await, "{b}: nothing was paid");
        gw.assert_ledger_sound();
    }
}

/// The value of the form control matching `css` (a `<select>`'s chosen option).
async fn value_of(browser: &common::browser::Browser, css: &str) -> String {
    let script = format!("return document.querySelector('{css}').value;");
    browser.execute(&script).await.as_str().unwrap_or_default().to_string()
}

/// Seed 000's "transfer by saved cards": `senderCardId` / `receiverCardId` in the page's payment
/// object pre-select saved cards on the transfer form, only the token's customer's. An id the
/// form does not offer (another customer's, unknown, a receive-only card as the sender) is
/// ignored and shows nothing.
#[tokio::test]
async fn the_transfer_page_preselects_the_saved_cards_seed_000_names() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let alice_visa = save_card_for(&gw, "alice", VISA).await;
        let bob_card = save_card_for(&gw, "bob", MASTERCARD).await;
        // Alice's AMEX, saved as a transfer's receiver: it may receive, never pay.
        let first = invoice();
        let token = transfer_token(&gw, &first, "10", P2P, &[]).await;
        let body = json!({"order": order(&first, "10", P2P, "alice"),
                          "card": {"sender": pan_side(MASTERCARD, false), "receiver": receiver_pan(AMEX.0, true)}});
        let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        let alice_amex = answer["receiverCardID"].as_str().unwrap().to_string();
        assert!(!alice_amex.is_empty(), "{b}: {answer}");

        let link = |order: &str, token: &str, sender: &str, receiver: &str| {
            let params = page_params(
                &[
                    ("invoiceId", order.to_string()),
                    ("amount", "100".into()),
                    ("currency", "KZT".into()),
                    ("terminal", P2P.into()),
                    ("accountId", "alice".into()),
                    ("senderCardId", sender.into()),
                    ("receiverCardId", receiver.into()),
                    ("backLink", format!("{}/demo/success?invoiceId={order}", gw.url)),
                    ("language", "EN".into()),
                ],
                token,
                "transfer",
            );
            format!("{}/payform/?params={params}&isTransfer=true", gw.url)
        };
        let browser = common::browser::Browser::start().await;
        // Alice's token: her card pays, her receive-only card receives, both pre-selected.
        let order_id = invoice();
        let token = transfer_token(&gw, &order_id, "100", P2P, &[("accountId", "alice")]).await;
        browser.goto(&link(&order_id, &token, &alice_visa, &alice_amex)).await;
        browser.wait("#transfer-submit", 10).await;
        assert_eq!(value_of(&browser, "#sender_card_id").await, alice_visa, "{b}");
        assert_eq!(value_of(&browser, "#receiver_card_id").await, alice_amex, "{b}");
        browser.click("#transfer-submit").await;
        browser.wait_url("/demo/success", 30).await;
        let paid = gw.store().await.payment_by_invoice(P2P, &order_id).await.unwrap().unwrap();
        assert_eq!(paid.status.as_str(), "CHARGE", "{b}");
        assert_eq!(paid.card_id.as_deref(), Some(alice_visa.as_str()), "{b}: paid from the pre-selected card");
        assert_eq!(paid.receiver_card_id.as_deref(), Some(alice_amex.as_str()), "{b}");

        // Ids the form does not offer are ignored, and the page says nothing about them.
        let amex_as_sender = format!("#sender_card_id option[value=\"{alice_amex}\"]");
        for (sender, receiver) in [
            (bob_card.as_str(), bob_card.as_str()),
            ("7b1c3a52-0000-4000-8000-000000000000", "not-a-card"),
            (alice_amex.as_str(), ""),
        ] {
            let order_id = invoice();
            let token = transfer_token(&gw, &order_id, "100", P2P, &[("accountId", "alice")]).await;
            browser.goto(&link(&order_id, &token, sender, receiver)).await;
            browser.wait("#transfer-submit", 10).await;
            assert_eq!(value_of(&browser, "#sender_card_id").await, "", "{b}: {sender} is not pre-selected");
            assert_eq!(value_of(&browser, "#receiver_card_id").await, "", "{b}: {receiver} is not pre-selected");
            let source = browser.source().await;
            assert!(!source.contains(&bob_card) && !source.contains("552204...6736"), "{b}: Bob's card stays hidden");
            assert!(browser.find(&amex_as_sender).await.is_none(), "{b}: a receive-only card never pays");
        }
        // A token without a customer offers no saved card, whatever the page names.
        let order_id = invoice();
        let token = transfer_token(&gw, &order_id, "100", P2P, &[]).await;
        browser.goto(&link(&order_id, &token, &alice_visa, &alice_amex)).await;
        browser.wait("#transfer-submit", 10).await;
        assert!(browser.find("#sender_card_id").await.is_none(), "{b}");
        assert!(!browser.source().await.contains(&alice_visa), "{b}");
        gw.assert_ledger_sound();
    }
}

/// The token's terminal governs: seeds 000, 001 and 002 name one terminal in the token request
/// and another in the page or the API body. The request is served on the token's terminal, the
/// mismatch is logged (ids only), and nothing is refused for it.
#[tokio::test]
async fn the_tokens_terminal_governs_a_page_or_body_naming_another() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        // Seed 001's P2P: the token is for the payout terminal, the body names the P2P one.
        let order_id = invoice();
        let token = transfer_token(&gw, &order_id, "100", PAYOUT, &[]).await;
        let body = json!({"order": order(&order_id, "100", P2P, "testUser1"),
                          "card": {"sender": pan_side(VISA, false), "receiver": receiver_pan(MASTERCARD.0, false)}});
        let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        assert_eq!(answer["terminalID"], PAYOUT, "{b}");
        assert_eq!(answer["fee"], 0, "{b}: the payout terminal's fee, not the P2P terminal's 95");
        assert!(!recorded(&gw, P2P, &order_id).await, "{b}");
        let mut tokens = vec![token];

        // A payment body naming the two-step terminal is paid on the token's one-step terminal.
        let order_id = invoice();
        let token = payment_token(&gw, &order_id, "25", &[]).await;
        let body = json!({"amount": 25, "currency": "KZT", "name": "X", "invoiceId": order_id, "description": "o",
                          "terminalId": TERMINAL, "cryptogram": gw.cryptogram(VISA, ONE_STEP_TERMINAL).await});
        let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), &body.to_string()).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("CHARGE")), "{b}: {answer}");
        assert!(recorded(&gw, ONE_STEP_TERMINAL, &order_id).await && !recorded(&gw, TERMINAL, &order_id).await);
        tokens.push(token);

        // Seed 000's page: the token is for the payout terminal, the page names one that makes no
        // transfers. The form opens and the transfer is made on the token's terminal.
        let order_id = invoice();
        let token = transfer_token(&gw, &order_id, "100", PAYOUT, &[]).await;
        let fields = |terminal: &str| {
            vec![
                ("invoiceId", order_id.clone()),
                ("amount", "100".to_string()),
                ("currency", "KZT".into()),
                ("terminal", terminal.to_string()),
                ("description", "Оплата в интернет магазине".into()),
            ]
        };
        let params = page_params(&fields(ONE_STEP_TERMINAL), &token, "transfer");
        let page = gw.http.get(format!("{}/payform/?params={params}&isTransfer=true", gw.url)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{b}");
        assert!(page.text().await.unwrap().contains("receiver_pan"), "{b}: the transfer form");
        let form = [
            ("params", params.as_str()),
            ("kind", "p2p"),
            ("pan", VISA.0),
            ("expiry", "01/27"),
            ("cvc", VISA.2),
            ("name", "ARMAN ALI"),
            ("receiver_pan", MASTERCARD.0),
        ];
        let (status, _) = post_form(&gw, "/payform/transfer", &form).await;
        assert_eq!(status, 200, "{b}");
        assert!(recorded(&gw, PAYOUT, &order_id).await && !recorded(&gw, ONE_STEP_TERMINAL, &order_id).await, "{b}");
        tokens.push(token);

        // The payment page with another terminal: the card form, not an error.
        let order_id = invoice();
        let token = payment_token(&gw, &order_id, "25", &[]).await;
        let params = page_params(
            &[
                ("invoiceId", order_id.clone()),
                ("amount", "25".into()),
                ("currency", "KZT".into()),
                ("terminal", P2P.into()),
            ],
            &token,
            "payment",
        );
        let page = gw.http.get(format!("{}/payform/?params={params}", gw.url)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{b}");
        assert!(page.text().await.unwrap().contains("id=\"pay-form\""), "{b}: the card form");
        tokens.push(token);

        // Each mismatch is in the log, with ids and without the tokens.
        let log = gw.log();
        let warnings = log.lines().filter(|l| l.contains("another terminal than its token")).count();
        assert!(warnings >= 4, "{b}: {warnings} warnings");
        assert!(tokens.iter().all(|t| !log.contains(t.as_str())), "{b}: a token in the log");
        gw.assert_ledger_sound();
    }
}
