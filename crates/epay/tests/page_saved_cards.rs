//! Issue 19 item 9, on SQLite and PostgreSQL: the card form offers "save this card" and lists
//! the customer's saved cards when the merchant named the customer (`accountId`) in the token
//! request, and pays with a chosen one through the same service as `/payments/cards/auth`.
//! Whose card may be used is the token's to say (DESIGN §5a): another customer's, another
//! merchant's, a deactivated or a made-up card is refused with nothing written and the token
//! left usable; a token without `accountId` lists, uses and saves nothing by the form's choice.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::receiver::Receiver;
use common::*;
use epay_server::runtime::seed::ONE_STEP_TERMINAL;
use serde_json::{json, Value};

/// The page's words for a refused saved card (English pages).
const REFUSED: &str = "This saved card cannot be used. Choose another card or enter a new one.";
/// The sandbox's payment terminal that requires 3-D Secure (docs/test-cards.md).
const SECURE_TERMINAL: &str = epay_server::platform::test_merchant::THREE_DS_TERMINAL;
/// The simulator's 3-D Secure enrolled card (docs/test-cards.md).
const ENROLLED: (&str, &str, &str) = ("4000000000003220", "1230", "123");

/// A payment token for one KZT order on `terminal`; `extra` adds `accountId`, `postLink`, ...
async fn token(gw: &Gateway, order: &str, amount: &str, terminal: &str, extra: &[(&str, &str)]) -> String {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("scope", "payment"),
        ("invoiceID", order),
        ("amount", amount),
        ("currency", "KZT"),
        ("terminal", terminal),
    ];
    form.extend_from_slice(extra);
    let response = gw.http.post(format!("{}/oauth2/token", gw.url)).form(&form).send().await.unwrap();
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap_or_else(|| panic!("{body}")).to_string()
}

/// Page `params` for `order` as payment-api.js builds them; `extra` adds `accountId`,
/// `cardSave`, `recurrent`, ...
fn params(gw: &Gateway, order: &str, amount: &str, terminal: &str, token: &str, extra: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("invoiceId", order.to_string()),
        ("amount", amount.to_string()),
        ("currency", "KZT".to_string()),
        ("terminal", terminal.to_string()),
        ("description", "Order".to_string()),
        ("language", "eng".to_string()),
        ("backLink", format!("{}/demo/success?invoiceId={order}", gw.url)),
        ("failureBackLink", format!("{}/demo/failure?invoiceId={order}", gw.url)),
    ];
    fields.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    epay_server::edge::page::params::encode(
        &fields,
        &[("access_token", token.to_string()), ("expires_in", "7200".into()), ("scope", "payment".into())],
    )
}

async fn post_form(gw: &Gateway, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = gw.http.post(format!("{}{path}", gw.url)).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The card form's submission with a saved card.
async fn pay_with_saved(gw: &Gateway, params: &str, card_id: &str) -> (u16, String) {
    post_form(gw, "/payform/pay", &[("params", params), ("card_id", card_id)]).await
}

/// The card form's submission with a typed card; `save`: the "save this card" box.
async fn pay_with_typed(gw: &Gateway, params: &str, card: (&str, &str, &str), save: bool) -> (u16, String) {
    let expiry = format!("{}/{}", &card.1[..2], &card.1[2..]);
    let mut form = vec![("params", params), ("pan", card.0), ("expiry", &expiry), ("cvc", card.2), ("name", "TEST")];
    if save {
        form.push(("save_card", "true"));
    }
    post_form(gw, "/payform/pay", &form).await
}

/// Saves `card` for `account` of the test merchant by an approved cryptogram payment
/// (`cardSave`) on `terminal`; returns its id.
async fn save_card_for(gw: &Gateway, account: &str, card: (&str, &str, &str), terminal: &str) -> String {
    let order = invoice();
    let token = gw.token_on(&order, major("10"), terminal).await;
    let body = json!({"amount": 10, "currency": "KZT", "name": "CARD HOLDER", "invoiceId": order,
                      "description": "saving", "accountId": account, "cardSave": true,
                      "cryptogram": gw.cryptogram(card, terminal).await});
    let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let card_id = answer["cardID"].as_str().unwrap().to_string();
    assert!(!card_id.is_empty(), "{answer}");
    card_id
}

/// The customer's saved cards as the merchant lists them (`GET /cards/:accountId`): (id, mask
/// as ePay's list writes it, `4405...5096`).
async fn cards_of(gw: &Gateway, account: &str) -> Vec<(String, String)> {
    let service = gw.service_token(TERMINAL).await;
    let response = gw.http.get(format!("{}/cards/{account}", gw.url)).bearer_auth(&service).send().await.unwrap();
    let cards: Value = response.json().await.unwrap();
    let cards = cards.as_array().unwrap_or_else(|| panic!("{cards}")).clone();
    cards.iter().map(|c| (c["ID"].as_str().unwrap().to_string(), c["CardMask"].as_str().unwrap().to_string())).collect()
}

/// The payment recorded for `order` on `terminal`, if any.
async fn recorded(gw: &Gateway, terminal: &str, order: &str) -> Option<epay_store::Payment> {
    gw.store().await.payment_by_invoice(terminal, order).await.unwrap()
}

async fn script(browser: &Browser, js: &str) -> Value {
    browser.execute(js).await
}

async fn shown(browser: &Browser, css: &str) -> bool {
    let js = format!("var e = document.querySelector('{css}'); return !!e && e.offsetParent !== null;");
    script(browser, &js).await == true
}

/// The merchant names Alice in the token request: her page offers "save this card" (ticked, as
/// the merchant's page sent `cardSave: true`), saves the card she pays with, and lists it on her
/// next payment, where choosing it hides the typed card and pays with it, with the same
/// callback as an API payment. Bob, and a token naming no one, see none of it.
#[tokio::test]
async fn a_customer_saves_a_card_on_the_page_and_pays_with_it_next_time() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let receiver = Receiver::start().await;
        let post_link = format!("{}/ok", receiver.url);
        let browser = Browser::start().await;

        // First payment: the box is offered and ticked; no cards are listed yet.
        let first = invoice();
        let alice = [("accountId", "alice"), ("postLink", post_link.as_str())];
        let t = token(&gw, &first, "100", TERMINAL, &alice).await;
        browser
            .goto(&format!(
                "{}/payform/?params={}",
                gw.url,
                params(&gw, &first, "100", TERMINAL, &t, &[("cardSave", "true")])
            ))
            .await;
        browser.wait("#pan", 15).await;
        assert!(browser.find("#saved-cards").await.is_none(), "{b}: nothing saved yet");
        assert_eq!(script(&browser, "return document.getElementById('save_card').checked;").await, true, "{b}");
        assert_eq!(browser.text("label:has(#save_card)").await, "Save this card for future payments", "{b}");
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", VISA.1).await;
        browser.type_into("#cvc", VISA.2).await;
        browser.type_into("#holder", "ALICE A").await;
        browser.click("#submit").await;
        browser.wait_url("/demo/success", 15).await;
        let paid = recorded(&gw, TERMINAL, &first).await.unwrap();
        let saved = paid.card_id.clone().unwrap_or_else(|| panic!("{b}: the ticked box saved the card"));
        assert_eq!(cards_of(&gw, "alice").await, vec![(saved.clone(), "4405...5096".to_string())], "{b}");

        // Next payment: the saved card is listed with its brand, chosen, and the typed card is
        // hidden; the merchant did not ask to save this time, so the box is not ticked.
        let second = invoice();
        let t = token(&gw, &second, "250", TERMINAL, &alice).await;
        browser.goto(&format!("{}/payform/?params={}", gw.url, params(&gw, &second, "250", TERMINAL, &t, &[]))).await;
        browser.wait("#saved-cards", 15).await;
        assert_eq!(browser.text("legend").await, "Pay with", "{b}");
        let radio = format!("input[name=card_id][value='{saved}']");
        assert_eq!(
            script(&browser, &format!("return document.querySelector(\"{radio}\").checked;")).await,
            true,
            "{b}"
        );
        assert!(browser.text("#saved-cards").await.contains("440563...5096"), "{b}");
        assert_eq!(browser.attribute("#saved-cards img", "alt").await.as_deref(), Some("Visa"), "{b}");
        assert!(!shown(&browser, "#pan").await, "{b}: a saved card needs no typed card");
        // "A new card" brings the typed card (and the unticked box) back; the saved card again hides it.
        browser.click("#new-card").await;
        assert!(shown(&browser, "#pan").await && shown(&browser, "#save_card").await, "{b}");
        assert_eq!(script(&browser, "return document.getElementById('save_card').checked;").await, false, "{b}");
        browser.click(&radio.replace('\'', "\"")).await;
        assert!(!shown(&browser, "#pan").await, "{b}");
        assert_eq!(script(&browser, "return document.getElementById('submit').disabled;").await, false, "{b}");
        browser.click("#submit").await;
        browser.wait_url("/demo/success", 15).await;
        let paid = recorded(&gw, TERMINAL, &second).await.unwrap();
        assert_eq!(
            (paid.status.as_str(), paid.card_id.as_deref(), paid.card_mask.as_str(), paid.account_id.as_str()),
            ("AUTH", Some(saved.as_str()), "440563...5096", "alice"),
            "{b}: paid with the saved card"
        );
        assert_eq!(cards_of(&gw, "alice").await.len(), 1, "{b}: paying with it saves nothing new");
        // The same callback as an API payment by cardId.
        let hits = receiver.wait_for("ok", 2, Duration::from_secs(15)).await;
        let callback = hits.iter().map(|h| h.json()).find(|c| c["invoiceId"] == second.as_str()).expect("callback");
        assert_eq!(
            (callback["code"].as_str(), callback["cardId"].as_str(), callback["accountId"].as_str()),
            (Some("ok"), Some(saved.as_str()), Some("alice")),
            "{b}: {callback}"
        );
        assert!(!callback.to_string().contains(VISA.0), "{b}: no card number in the callback");

        // Bob's page lists nothing of Alice's.
        let bobs = invoice();
        let t = token(&gw, &bobs, "100", TERMINAL, &[("accountId", "bob")]).await;
        browser.goto(&format!("{}/payform/?params={}", gw.url, params(&gw, &bobs, "100", TERMINAL, &t, &[]))).await;
        browser.wait("#pan", 15).await;
        let source = browser.source().await;
        assert!(browser.find("#saved-cards").await.is_none(), "{b}");
        assert!(!source.contains(&saved) && !source.contains("440563...5096"), "{b}: Alice's card stays hidden");
        assert!(browser.find("#save_card").await.is_some(), "{b}: Bob may save his own");

        // A token naming no one: the params may say Alice, but nothing is listed or offered.
        let anyone = invoice();
        let t = token(&gw, &anyone, "100", TERMINAL, &[]).await;
        let p = params(&gw, &anyone, "100", TERMINAL, &t, &[("accountId", "alice")]);
        browser.goto(&format!("{}/payform/?params={p}", gw.url)).await;
        browser.wait("#pan", 15).await;
        assert!(browser.find("#saved-cards").await.is_none() && browser.find("#save_card").await.is_none(), "{b}");
        assert!(!browser.source().await.contains(&saved), "{b}");
        gw.assert_ledger_sound();
    }
}

/// Every saved card the token's customer may not pay with is refused in one page error: another
/// customer's, another merchant's (for a customer of the same name), a deactivated one, a
/// receive-only one, a made-up id. Nothing is written, and the token then pays with Alice's own.
/// A token naming no customer cannot use saved cards, and its "save" box saves nothing.
#[tokio::test]
async fn the_page_refuses_cards_the_token_does_not_allow_and_saves_only_when_allowed() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        let alices = save_card_for(&gw, "alice", VISA, ONE_STEP_TERMINAL).await;
        let bobs = save_card_for(&gw, "bob", MASTERCARD, ONE_STEP_TERMINAL).await;
        let retired = save_card_for(&gw, "alice", AMEX, ONE_STEP_TERMINAL).await;
        let service = gw.service_token(TERMINAL).await;
        let (status, _) = gw.post_json(&format!("/card/deactivate/{retired}"), Some(&service), "").await;
        assert_eq!(status, 200, "{b}");
        // A card saved as a transfer's receiver may only receive (docs/security.md).
        let p2p_order = invoice();
        let p2p = epay_server::platform::test_merchant::P2P_TERMINAL;
        let p2p_token = {
            let mut form = vec![("grant_type", "client_credentials"), ("client_id", CLIENT), ("client_secret", SECRET)];
            form.extend([("scope", "transfer"), ("invoiceID", &p2p_order), ("amount", "1"), ("currency", "KZT")]);
            form.push(("terminal", p2p));
            let answer: Value = gw
                .http
                .post(format!("{}/oauth2/token", gw.url))
                .form(&form)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["access_token"].as_str().unwrap().to_string()
        };
        let body = json!({"order": {"id": p2p_order, "amount": "1", "currency": "KZT", "description": "x",
                                    "accountID": "alice", "terminalId": p2p},
                          "card": {"sender": {"transferType": "TYPEPAN", "cardCred": MASTERCARD.0, "cvc": MASTERCARD.2,
                                              "name": "X", "expire": {"month": "01", "year": "27"}},
                                   "receiver": {"transferType": "TYPEPAN", "cardCred": "5555555555554444", "save": true}}});
        let (status, answer) = gw.post_json("/p2p/transfer", Some(&p2p_token), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        let receive_only = answer["receiverCardID"].as_str().unwrap().to_string();
        // Another merchant's card, saved for its own customer also called "alice".
        let other = gw.other_merchant_with_owner().await;
        let store = gw.store().await;
        let settings =
            epay_server::services::admin::TerminalSettings { pos_id: Some("98120777".into()), ..Default::default() };
        let other_terminal =
            epay_server::services::admin::create_terminal(store.as_ref(), "other-shop", None, &settings).await.unwrap();
        let theirs = {
            let order = invoice();
            let secret = other.client_secret.expose().to_string();
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", "other-shop"),
                ("client_secret", secret.as_str()),
                ("scope", "payment"),
                ("invoiceID", order.as_str()),
                ("amount", "10"),
                ("currency", "KZT"),
                ("terminal", other_terminal.id.as_str()),
            ];
            let answer: Value = gw
                .http
                .post(format!("{}/oauth2/token", gw.url))
                .form(&form)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let token = answer["access_token"].as_str().unwrap_or_else(|| panic!("{answer}")).to_string();
            let body = json!({"amount": 10, "currency": "KZT", "name": "X", "invoiceId": order, "description": "s",
                              "accountId": "alice", "cardSave": true,
                              "cryptogram": gw.cryptogram(VISA, &other_terminal.id).await});
            let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), &body.to_string()).await;
            assert_eq!(status, 200, "{b}: {answer}");
            answer["cardID"].as_str().unwrap().to_string()
        };

        // Alice's page: each of those ids is refused alike, and nothing is written.
        let order = invoice();
        let t = token(&gw, &order, "300", TERMINAL, &[("accountId", "alice")]).await;
        let p = params(&gw, &order, "300", TERMINAL, &t, &[]);
        let (payments, cards) = (gw.count_rows("payments").await, gw.count_rows("saved_cards").await);
        for (card, whose) in [
            (bobs.as_str(), "another customer's"),
            (theirs.as_str(), "another merchant's"),
            (retired.as_str(), "a deactivated"),
            (receive_only.as_str(), "a receive-only"),
            ("9f3c1a52-0000-4000-8000-00000000dead", "a made-up"),
            ("<script>alert(1)</script>", "a hostile"),
        ] {
            let (status, page) = pay_with_saved(&gw, &p, card).await;
            assert_eq!(status, 400, "{b}: {whose} card: {page}");
            assert!(page.contains(REFUSED), "{b}: {whose} card gets the page's error: {page}");
            assert!(!page.contains("<script>alert"), "{b}: nothing posted comes back unescaped");
            assert!(page.contains("id=\"pay-form\""), "{b}: the form comes again");
            assert!(recorded(&gw, TERMINAL, &order).await.is_none(), "{b}: {whose} card wrote nothing");
        }
        assert_eq!(gw.count_rows("payments").await, payments, "{b}");
        assert_eq!(gw.count_rows("saved_cards").await, cards, "{b}");
        // The token was not spent: Alice's own card pays.
        let (status, page) = pay_with_saved(&gw, &p, &alices).await;
        assert_eq!(status, 200, "{b}: {page}");
        let paid = recorded(&gw, TERMINAL, &order).await.unwrap();
        assert_eq!((paid.status.as_str(), paid.card_id.as_deref()), ("AUTH", Some(alices.as_str())), "{b}");

        // A token naming no customer: Alice's card id and accountId in the params pay nothing.
        let order = invoice();
        let t = token(&gw, &order, "300", TERMINAL, &[]).await;
        let p = params(&gw, &order, "300", TERMINAL, &t, &[("accountId", "alice")]);
        let (status, page) = pay_with_saved(&gw, &p, &alices).await;
        assert_eq!(status, 400, "{b}");
        assert!(page.contains(REFUSED), "{b}: {page}");
        assert!(recorded(&gw, TERMINAL, &order).await.is_none(), "{b}");
        // …and its "save" box, posted anyway, saves nothing (the merchant's page did not ask).
        let eves = [("accountId", "eve")];
        let p = params(&gw, &order, "300", TERMINAL, &t, &eves);
        let (status, page) = pay_with_typed(&gw, &p, MASTERCARD, true).await;
        assert_eq!(status, 200, "{b}: {page}");
        assert_eq!(recorded(&gw, TERMINAL, &order).await.unwrap().card_id, None, "{b}: nothing saved");
        assert!(cards_of(&gw, "eve").await.is_empty(), "{b}");

        // With the customer bound, the shopper's choice decides: the merchant's page asked to save
        // (cardSave) but the box came back unticked, so nothing is saved.
        let order = invoice();
        let t = token(&gw, &order, "300", TERMINAL, &[("accountId", "carol")]).await;
        let p = params(&gw, &order, "300", TERMINAL, &t, &[("cardSave", "true")]);
        let (status, page) = pay_with_typed(&gw, &p, MASTERCARD, false).await;
        assert_eq!(status, 200, "{b}: {page}");
        assert_eq!(recorded(&gw, TERMINAL, &order).await.unwrap().card_id, None, "{b}");
        assert!(cards_of(&gw, "carol").await.is_empty(), "{b}");
        gw.assert_ledger_sound();
    }
}

/// A saved card paid from the page meets 3-D Secure exactly where `/payments/cards/auth` does:
/// on a terminal that asks for it, with an enrolled card. The page's `recurrent` (the shopper's
/// to write) does not turn it into a merchant-initiated repeat that skips the challenge.
#[tokio::test]
async fn a_saved_card_on_the_page_is_challenged_as_the_api_would_challenge_it() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        // Saved with a recurrent agreement on a terminal without 3-D Secure.
        let order = invoice();
        let t = gw.token_on(&order, major("10"), ONE_STEP_TERMINAL).await;
        let body = json!({"amount": 10, "currency": "KZT", "name": "X", "invoiceId": order, "description": "s",
                          "accountId": "alice", "cardSave": true, "recurrent": true,
                          "cryptogram": gw.cryptogram(ENROLLED, ONE_STEP_TERMINAL).await});
        let (status, answer) = gw.post_json("/payment/cryptopay", Some(&t), &body.to_string()).await;
        assert_eq!(status, 200, "{b}: {answer}");
        let card = answer["cardID"].as_str().unwrap().to_string();

        // The API, by cardId, on the 3-D Secure terminal: challenged.
        let api_order = invoice();
        let t = token(&gw, &api_order, "40", SECURE_TERMINAL, &[("accountId", "alice")]).await;
        let body = json!({"amount": 40, "currency": "KZT", "name": "X", "invoiceId": api_order, "description": "o",
                          "paymentType": "cardId", "cardId": {"id": card}});
        let (status, answer) = gw.post_json("/payments/cards/auth", Some(&t), &body.to_string()).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("3D")), "{b}: {answer}");

        // The page, with the same card and `recurrent: true` in its params: challenged too.
        let page_order = invoice();
        let t = token(&gw, &page_order, "40", SECURE_TERMINAL, &[("accountId", "alice")]).await;
        let p = params(&gw, &page_order, "40", SECURE_TERMINAL, &t, &[("recurrent", "true")]);
        let (status, page) = pay_with_saved(&gw, &p, &card).await;
        assert_eq!(status, 200, "{b}: {page}");
        assert!(page.contains("name=\"PaReq\"") && page.contains("data-autosubmit"), "{b}: to the bank: {page}");
        let waiting = recorded(&gw, SECURE_TERMINAL, &page_order).await.unwrap();
        assert_eq!((waiting.status.as_str(), waiting.card_id.as_deref()), ("3D", Some(card.as_str())), "{b}");
        assert!(!page.contains(ENROLLED.0), "{b}: no card number on the page");
        gw.assert_ledger_sound();
    }
}
