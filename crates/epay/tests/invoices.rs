//! Invoice links (issue 20): the password grant, `POST /invoice`, the link's page, paying it,
//! expiry by the sandbox clock, cancelling, listing, bad input, and what another merchant or the
//! link's holder cannot do. Black-box, on SQLite and PostgreSQL; one Chromium test.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::receiver::Receiver;
use common::*;
use epay_client::{ClientError, PaymentRequest};
use epay_server::runtime::seed::{CABINET_EMAIL, CABINET_PASSWORD};
use serde_json::{json, Value};

const TEST_SHOP_ID: &str = "04f25a4b-d2bd-4dd8-b3a7-9390be4774c4";

/// `POST /oauth2/token` with form fields; (status, JSON).
async fn token_form(gw: &Gateway, fields: &[(&str, &str)]) -> (u16, Value) {
    let response = gw.http.post(format!("{}/oauth2/token", gw.url)).form(fields).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The password grant for the test merchant's cabinet user.
async fn password_grant(gw: &Gateway, password: &str) -> (u16, Value) {
    token_form(
        gw,
        &[
            ("grant_type", "password"),
            ("username", CABINET_EMAIL),
            ("password", password),
            ("scope", "webapi usermanagement email_send verification statement statistics payment"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ],
    )
    .await
}

async fn refresh_with(gw: &Gateway, token: &str) -> (u16, Value) {
    token_form(
        gw,
        &[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", CLIENT), ("client_secret", SECRET)],
    )
    .await
}

async fn user_token(gw: &Gateway) -> String {
    let (status, body) = password_grant(gw, CABINET_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn get_json(gw: &Gateway, path: &str, token: &str) -> (u16, Value) {
    let response = gw.http.get(format!("{}{path}", gw.url)).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Creates an invoice with `extra` fields over the test shop and 1500 KZT.
async fn create(gw: &Gateway, token: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"shop_id": TEST_SHOP_ID, "amount": 1500, "currency": "KZT", "language": "rus",
        "description": "Invoice for consulting"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    gw.post_json("/invoice", Some(token), &body.to_string()).await
}

/// Opens a link without following the redirect: (status, Location, body).
async fn open_link(link: &str) -> (u16, String, String) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = http.get(link).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, location, response.text().await.unwrap())
}

/// The page token an active link mints, read out of the payment page's `params`.
async fn minted_token(link: &str) -> (String, epay_server::edge::page::params::PageParams) {
    let (status, location, body) = open_link(link).await;
    assert_eq!(status, 303, "{body}");
    assert!(location.starts_with("/payform/?params="), "{location}");
    let params = epay_server::edge::page::params::decode(location.trim_start_matches("/payform/?params=")).unwrap();
    (params.access_token.expose().to_string(), params)
}

async fn pay(
    gw: &Gateway,
    token: &str,
    invoice: &str,
    amount: &str,
) -> Result<epay_client::PaymentResponse, ClientError> {
    let request = PaymentRequest::new(invoice, major(amount), gw.cryptogram(VISA, TERMINAL).await);
    gw.client.cryptopay(token, &request).await
}

fn api_status(e: ClientError) -> (u16, Value) {
    match e {
        ClientError::Api { status, body } => (status, body),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn the_password_grant_issues_refreshes_once_and_counts_wrong_passwords() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (status, body) = password_grant(&gw, CABINET_PASSWORD).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert_eq!(body["expires_in"], "900", "a string, as ePay's example");
        assert_eq!(body["token_type"], "Bearer");
        let refresh = body["refresh_token"].as_str().unwrap().to_string();
        assert_eq!(refresh.len(), 64);
        let access = body["access_token"].as_str().unwrap().to_string();
        let (status, listed) = get_json(&gw, "/invoice", &access).await;
        assert_eq!(status, 200, "{listed}");

        // A refresh gives a new pair; the old refresh token is spent.
        let (status, renewed) = refresh_with(&gw, &refresh).await;
        assert_eq!(status, 200, "{renewed}");
        assert_ne!(renewed["refresh_token"], body["refresh_token"]);
        assert_eq!(renewed["scope"], body["scope"], "the refresh keeps the scope");
        let (status, again) = refresh_with(&gw, &refresh).await;
        assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")), "{backend:?}: reuse refused");
        let (status, _) = get_json(&gw, "/invoice", renewed["access_token"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        // The refresh token works only with its merchant's client secret.
        let newest = renewed["refresh_token"].as_str().unwrap();
        let (status, wrong) = token_form(
            &gw,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", newest),
                ("client_id", CLIENT),
                ("client_secret", "nope"),
            ],
        )
        .await;
        assert_eq!((status, wrong["error"].as_str()), (401, Some("invalid_client")));
        let (status, _) = refresh_with(&gw, newest).await;
        assert_eq!(status, 200, "a refused client secret did not spend it");

        // Wrong passwords: invalid_grant, and they count toward the cabinet's lockout (5).
        for _ in 0..4 {
            let (status, wrong) = password_grant(&gw, "wrong-password").await;
            assert_eq!((status, wrong["error"].as_str()), (400, Some("invalid_grant")), "{wrong}");
        }
        let (status, locked) = password_grant(&gw, "wrong-password").await;
        assert_eq!((status, locked["error"].as_str()), (429, Some("too_many_requests")), "{locked}");
        let (status, _) = password_grant(&gw, CABINET_PASSWORD).await;
        assert_eq!(status, 429, "{backend:?}: even the right password waits out the lock");
        let form = gw
            .http
            .post(format!("{}/cabinet/login", gw.url))
            .form(&[("email", CABINET_EMAIL), ("password", CABINET_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_ne!(form.status().as_u16(), 303, "the cabinet shares the lock");
        gw.advance_clock(15 * 60 + 1).await;
        assert_eq!(password_grant(&gw, CABINET_PASSWORD).await.0, 200);

        // Missing fields and unknown grants are the token endpoint's usual errors.
        let (status, missing) = token_form(
            &gw,
            &[("grant_type", "password"), ("scope", "webapi"), ("client_id", CLIENT), ("client_secret", SECRET)],
        )
        .await;
        assert_eq!((status, missing["error"].as_str()), (400, Some("invalid_request")), "{missing}");
        let (status, other) = token_form(&gw, &[("grant_type", "implicit")]).await;
        assert_eq!((status, other["error"].as_str()), (400, Some("unsupported_grant_type")));
    }
}

#[tokio::test]
async fn an_invoice_link_is_paid_once_with_callbacks_and_status() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let receiver = Receiver::start().await;
        let token = user_token(&gw).await;
        let invoice = invoice();
        let (status, created) = create(
            &gw,
            &token,
            json!({"invoice_id": invoice, "expire_period": "2h", "recipient_contact": "client@example.kz",
                "recipient_contact_sms": "+77011234567", "post_link": format!("{}/ok", receiver.url),
                "failure_post_link": format!("{}/fail", receiver.url), "back_link": "https://shop.example/back"}),
        )
        .await;
        assert_eq!(status, 200, "{backend:?}: {created}");
        assert_eq!(created["state"], "ACTIVE");
        assert_eq!(
            (created["invoice_id"].as_str(), created["terminal_id"].as_str()),
            (Some(&*invoice), Some(TERMINAL))
        );
        assert_eq!(created["amount"], 1500);
        assert_eq!(created["recipient_contact_sms"], "+77011234567", "contacts are kept for delivery");
        let link = created["link"].as_str().unwrap().to_string();
        assert!(link.starts_with(&format!("{}/invoice-link/", gw.url)), "{link}");
        let id = created["id"].as_str().unwrap().to_string();

        // The link opens the page for this order, in its language, with its description.
        let (page_token, params) = minted_token(&link).await;
        assert_eq!((params.fields.invoice_id.as_str(), params.fields.language.as_str()), (&*invoice, "rus"));
        assert_eq!(params.fields.description, "Invoice for consulting");
        let page = gw.http.get(&link).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Invoice for consulting") && page.contains("1\u{a0}500\u{a0}₸"), "{page}");

        // A service token (client credentials) reads it too.
        let service = gw.service_token(TERMINAL).await;
        let (status, read) = get_json(&gw, &format!("/invoice/{id}"), &service).await;
        assert_eq!((status, read["id"].as_str()), (200, Some(&*id)));

        // A declined attempt first (insufficient funds): the invoice then has two payment rows,
        // and the link still reads as one link, ACTIVE until the approved one.
        let declined = ("4000000000009995", "1230", "123");
        let request = PaymentRequest::new(&invoice, major("1500"), gw.cryptogram(declined, TERMINAL).await);
        assert!(gw.client.cryptopay(&page_token, &request).await.is_err(), "{backend:?}: declined");
        let (_, read) = get_json(&gw, &format!("/invoice/{id}"), &token).await;
        assert_eq!(read["state"], "ACTIVE", "{backend:?}: {read}");
        let (page_token, _) = minted_token(&link).await;
        let paid = pay(&gw, &page_token, &invoice, "1500").await.unwrap();
        assert_eq!(paid.status, "AUTH", "{backend:?}: the test terminal is two-step");
        let hits = receiver.wait_for("ok", 1, Duration::from_secs(15)).await;
        assert_eq!(hits.len(), 1, "{backend:?}: postLink called");
        let callback: Value = serde_json::from_slice(&hits[0].body).unwrap();
        assert_eq!(callback["invoiceId"], invoice.as_str());
        let status_answer = gw.status_answer(TERMINAL, &invoice).await;
        assert_eq!(status_answer["transaction"]["statusName"], "AUTH", "{status_answer}");

        let (_, read) = get_json(&gw, &format!("/invoice/{invoice}"), &token).await;
        assert_eq!((read["state"].as_str(), read["payment_status"].as_str()), (Some("PAID"), Some("AUTH")), "{read}");
        assert_eq!(read["payment_id"].as_str(), Some(paid.id.as_str()));
        // Paid once: the link shows "paid" and mints nothing; the page token is spent.
        let (status, location, body) = open_link(&link).await;
        assert_eq!((status, location.as_str()), (200, ""), "{body}");
        assert!(body.contains("Счёт уже оплачен"), "{body}");
        assert!(pay(&gw, &page_token, &invoice, "1500").await.is_err());
        let (status, refused) = gw.post_json(&format!("/invoice/{id}/cancel"), Some(&token), "").await;
        assert_eq!((status, refused["code"].as_i64()), (409, Some(-1)), "{refused}");
        let (_, paid_list) = get_json(&gw, "/invoice?state=PAID", &token).await;
        assert_eq!(paid_list["invoices"].as_array().unwrap().len(), 1, "{backend:?}: one row per link");
        let (_, active_list) = get_json(&gw, "/invoice?state=ACTIVE", &token).await;
        assert!(
            active_list["invoices"].as_array().unwrap().iter().all(|l| l["id"] != id.as_str()),
            "{backend:?}: a paid link is not also listed as active: {active_list}"
        );
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn a_link_expires_by_the_sandbox_clock_and_a_cancelled_one_refuses_payment() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = user_token(&gw).await;
        let (_, short) = create(&gw, &token, json!({"expire_period": "30m", "language": "eng"})).await;
        let (_, long) = create(&gw, &token, json!({"expire_period": "1d"})).await;
        let (_, cancelled) = create(&gw, &token, json!({"expire_period": "1d", "language": "kaz"})).await;
        let generated = short["invoice_id"].as_str().unwrap().to_string();
        assert_eq!(generated.len(), 12, "the gateway picks an invoice_id: {short}");
        // Tokens minted before the link closes.
        let (short_token, _) = minted_token(short["link"].as_str().unwrap()).await;
        let (cancel_token, _) = minted_token(cancelled["link"].as_str().unwrap()).await;

        let id = cancelled["id"].as_str().unwrap();
        let (status, body) = gw.post_json(&format!("/invoice/{id}/cancel"), Some(&token), "").await;
        assert_eq!((status, body["state"].as_str()), (200, Some("CANCELLED")), "{backend:?}: {body}");
        assert!(body["cancelled_at"].is_string());
        let (status, _, page) = open_link(cancelled["link"].as_str().unwrap()).await;
        assert_eq!(status, 410);
        assert!(page.contains("Шот жойылды"), "in the invoice's language: {page}");
        let refused = pay(&gw, &cancel_token, cancelled["invoice_id"].as_str().unwrap(), "1500").await.unwrap_err();
        let (status, body) = api_status(refused);
        assert_eq!(status, 403, "{backend:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains("cancelled"), "{body}");
        let (status, _) = gw.post_json(&format!("/invoice/{id}/cancel"), Some(&token), "").await;
        assert_eq!(status, 409, "cancelled once");

        let (status, _) = gw.advance_clock(31 * 60).await;
        assert_eq!(status, 200);
        let token = user_token(&gw).await;
        let (status, _, page) = open_link(short["link"].as_str().unwrap()).await;
        assert_eq!(status, 410, "{backend:?}");
        assert!(page.contains("This payment link has expired"), "{page}");
        match pay(&gw, &short_token, &generated, "1500").await {
            Err(e) => assert!(matches!(api_status(e).0, 401 | 403)),
            Ok(p) => panic!("{backend:?}: an expired link was paid: {}", p.status),
        }
        let (status, _) =
            gw.post_json(&format!("/invoice/{}/cancel", short["id"].as_str().unwrap()), Some(&token), "").await;
        assert_eq!(status, 409, "an expired link is not cancelled");

        let states = |list: &Value| -> Vec<(String, String)> {
            list["invoices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| (i["id"].as_str().unwrap().to_string(), i["state"].as_str().unwrap().to_string()))
                .collect()
        };
        let (_, all) = get_json(&gw, "/invoice", &token).await;
        assert_eq!(states(&all).len(), 3);
        for (state, expected) in [("EXPIRED", &short), ("ACTIVE", &long), ("cancelled", &cancelled)] {
            let (status, list) = get_json(&gw, &format!("/invoice?state={state}"), &token).await;
            assert_eq!(status, 200);
            let ids: Vec<String> = states(&list).into_iter().map(|(id, _)| id).collect();
            assert_eq!(ids, vec![expected["id"].as_str().unwrap().to_string()], "{backend:?} {state}");
        }
        let (_, paged) = get_json(&gw, "/invoice?limit=1&offset=1", &token).await;
        assert_eq!(states(&paged).len(), 1);
        let (status, bad) = get_json(&gw, "/invoice?state=LOST", &token).await;
        assert_eq!((status, bad["code"].as_i64()), (400, Some(-1)));
    }
}

#[tokio::test]
async fn bad_invoice_input_gets_a_clear_error_and_writes_nothing() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = user_token(&gw).await;
        let cases = [
            (json!({"shop_id": ""}), "shop_id is required"),
            (json!({"shop_id": "00000000-0000-4000-8000-000000000000"}), "not found"),
            (json!({"amount": 0}), "greater than 0"),
            (json!({"amount": -5}), "amount"),
            (json!({"amount": 1.234}), "decimal"),
            (json!({"amount": 1e12}), "amount"),
            (json!({"amount": "ten"}), "amount"),
            (json!({"expire_period": "1w"}), "expire_period"),
            (json!({"expire_period": "0m"}), "expire_period"),
            (json!({"expire_period": "31d"}), "expire_period"),
            (json!({"recipient_contact": "not-an-email"}), "recipient_contact"),
            (json!({"recipient_contact_sms": "12"}), "recipient_contact_sms"),
            (json!({"notifier_contact_sms": "+7701abc"}), "notifier_contact_sms"),
            (json!({"invoice_id": "12ab"}), "invoice_id"),
            (json!({"currency": "XXX"}), "currency"),
            (json!({"language": "fra"}), "language"),
            (json!({"post_link": "ftp://x"}), "post_link"),
            (json!({"back_link": "javascript:alert(1)"}), "back_link"),
            (json!({"description": "д".repeat(70)}), "description"),
        ];
        for (extra, needle) in cases {
            let (status, body) = create(&gw, &token, extra.clone()).await;
            assert_eq!((status, body["code"].as_i64()), (400, Some(-1)), "{backend:?} {extra}: {body}");
            assert!(body["message"].as_str().unwrap().contains(needle), "{extra}: {body}");
        }
        let (status, body) = gw.post_json("/invoice", Some(&token), "{not json").await;
        assert_eq!(status, 400, "{body}");
        let (status, _) = gw.post_json("/invoice", None, "{}").await;
        assert_eq!(status, 401);
        assert_eq!(gw.count_rows("invoice_links").await, 0, "{backend:?}: nothing written");

        // A duplicate invoice_id (of a link, or of a payment on the terminal) is refused too.
        let invoice = invoice();
        assert_eq!(create(&gw, &token, json!({"invoice_id": invoice})).await.0, 200);
        let (status, body) = create(&gw, &token, json!({"invoice_id": invoice, "amount": 9})).await;
        assert_eq!((status, body["code"].as_i64()), (409, Some(-1)), "{body}");
        let paid_invoice = common::invoice();
        let payment_token = gw.payment_token(&paid_invoice, major("10")).await;
        pay(&gw, &payment_token, &paid_invoice, "10").await.unwrap();
        let (status, _) = create(&gw, &token, json!({"invoice_id": paid_invoice})).await;
        assert_eq!(status, 409, "{backend:?}: the terminal already has this invoice's payment");
        assert_eq!(gw.count_rows("invoice_links").await, 1);
        // A payment token is a shopper's: it bills nobody.
        let (status, _) = create(&gw, &payment_token, json!({})).await;
        assert_eq!(status, 403);
        assert_eq!(gw.count_rows("invoice_links").await, 1);
    }
}

#[tokio::test]
async fn another_merchant_and_the_links_holder_get_nothing_more() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = user_token(&gw).await;
        let invoice = invoice();
        let (_, mine) = create(&gw, &token, json!({"invoice_id": invoice, "post_link": "http://127.0.0.1:9/cb"})).await;
        let id = mine["id"].as_str().unwrap();

        let other = gw.other_merchant_with_owner().await;
        let other_secret = other.client_secret.expose().to_string();
        let (status, theirs) = token_form(
            &gw,
            &[
                ("grant_type", "password"),
                ("username", "owner@other.kz"),
                ("password", "other-pass-1"),
                ("scope", "webapi"),
                ("client_id", "other-shop"),
                ("client_secret", &other_secret),
            ],
        )
        .await;
        assert_eq!(status, 200, "{theirs}");
        let theirs = theirs["access_token"].as_str().unwrap();
        // Another merchant's user with this merchant's client is a wrong user.
        let (status, body) = token_form(
            &gw,
            &[
                ("grant_type", "password"),
                ("username", "owner@other.kz"),
                ("password", "other-pass-1"),
                ("scope", "webapi"),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
            ],
        )
        .await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

        for path in [format!("/invoice/{id}"), format!("/invoice/{invoice}")] {
            let (status, body) = get_json(&gw, &path, theirs).await;
            assert_eq!(status, 404, "{backend:?} {path}: {body}");
        }
        let (status, _) = gw.post_json(&format!("/invoice/{id}/cancel"), Some(theirs), "").await;
        assert_eq!(status, 404);
        let (_, list) = get_json(&gw, "/invoice", theirs).await;
        assert_eq!(list["invoices"].as_array().unwrap().len(), 0);
        for shop in [TEST_SHOP_ID, TERMINAL] {
            let (status, body) =
                gw.post_json("/invoice", Some(theirs), &json!({"shop_id": shop, "amount": 10}).to_string()).await;
            assert_eq!(status, 400, "{backend:?}: not their shop: {body}");
        }
        // A service token limited to another terminal of the same merchant does not see it.
        let (status, _) = get_json(
            &gw,
            &format!("/invoice/{id}"),
            &gw.service_token(epay_server::platform::test_merchant::P2P_TERMINAL).await,
        )
        .await;
        assert_eq!(status, 404);

        // The link's holder: its token pays this invoice, for this amount, to these callbacks.
        let (page_token, _) = minted_token(mine["link"].as_str().unwrap()).await;
        let (status, body) = api_status(pay(&gw, &page_token, &invoice, "1").await.unwrap_err());
        assert_eq!(status, 400, "{backend:?}: another amount: {body}");
        let (status, body) = api_status(pay(&gw, &page_token, &common::invoice(), "1500").await.unwrap_err());
        assert!(matches!(status, 400 | 403), "{backend:?}: another invoice: {body}");
        let (status, _) = get_json(&gw, "/invoice", &page_token).await;
        assert_eq!(status, 403, "the page token lists nothing");
        let (status, _) = gw.post_json(&format!("/invoice/{id}/cancel"), Some(&page_token), "").await;
        assert_eq!(status, 403, "nor cancels");
        let (status, _) = create(&gw, &page_token, json!({})).await;
        assert_eq!(status, 403, "nor bills");
        // A guessed link id is not found; a malformed one is not looked up.
        for guess in ["00000000000000000000000000000000", "gggggggggggggggggggggggggggggggg", "x"] {
            let (status, _, _) = open_link(&format!("{}/invoice-link/{guess}", gw.url)).await;
            assert_eq!(status, 404, "{guess}");
        }
        let (_, read) = get_json(&gw, &format!("/invoice/{id}"), &token).await;
        assert_eq!(read["state"], "ACTIVE", "{backend:?}: untouched");
    }
}

#[tokio::test]
async fn a_shopper_pays_an_invoice_link_in_chromium() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = user_token(&gw).await;
        let invoice = invoice();
        let back = format!("{}/demo/success?invoiceId={invoice}", gw.url);
        let (status, created) = create(
            &gw,
            &token,
            json!({"invoice_id": invoice, "language": "eng", "description": "Annual subscription", "back_link": back}),
        )
        .await;
        assert_eq!(status, 200, "{created}");
        let browser = Browser::start().await;
        browser.goto(created["link"].as_str().unwrap()).await;
        browser.wait("#pan", 15).await;
        let page = browser.source().await;
        assert!(page.contains("Annual subscription"), "{backend:?}");
        assert_eq!(browser.text("#amount").await, "₸1,500");
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", VISA.1).await;
        browser.type_into("#cvc", VISA.2).await;
        browser.type_into("#holder", "INVOICE PAYER").await;
        browser.click("#submit").await;
        browser.wait_url("/demo/success", 30).await;
        let (_, read) = get_json(&gw, &format!("/invoice/{invoice}"), &token).await;
        assert_eq!(read["state"], "PAID", "{backend:?}: {read}");
        // Opened again, the link says it is paid.
        browser.goto(created["link"].as_str().unwrap()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(browser.source().await.contains("This invoice is already paid"), "{backend:?}");
    }
}

#[tokio::test]
async fn the_cabinet_creates_lists_and_cancels_invoice_links() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.set_window_size(1280, 1000).await;
        browser.goto(&format!("{}/cabinet/lang/kk?back=/cabinet/login", gw.url)).await;
        browser.type_into("#email", CABINET_EMAIL).await;
        browser.type_into("#password", CABINET_PASSWORD).await;
        browser.click("#sign-in").await;
        browser.wait_url("/cabinet/overview", 15).await;
        browser.click("#nav-invoices").await;
        browser.wait("#invoice-form", 10).await;
        assert!(browser.source().await.contains("Сілтеме бойынша шоттар"), "{backend:?}: in Kazakh");
        let invoice = invoice();
        browser.type_into("#invoice-id", &invoice).await;
        browser.type_into("#amount", "2500.50").await;
        browser.type_into("#description", "Cabinet invoice").await;
        browser.type_into("#expire-period", "h").await; // "1d" + "h": a bad period first
        browser.click("#create-invoice").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(browser.source().await.contains("expire_period"), "{backend:?}: the error names the field");
        assert_eq!(gw.count_rows("invoice_links").await, 0, "nothing written");
        browser.goto(&format!("{}/cabinet/invoices", gw.url)).await;
        browser.type_into("#invoice-id", &invoice).await;
        browser.type_into("#amount", "2500.50").await;
        browser.type_into("#description", "Cabinet invoice").await;
        browser.click("#create-invoice").await;
        browser.wait("#created-link", 10).await;
        let link = browser.attribute("#created-link", "value").await.unwrap();
        assert!(link.starts_with(&format!("{}/invoice-link/", gw.url)), "{link}");

        let token = user_token(&gw).await;
        let (_, read) = get_json(&gw, &format!("/invoice/{invoice}"), &token).await;
        assert_eq!((read["amount"].as_f64(), read["state"].as_str()), (Some(2500.5), Some("ACTIVE")), "{read}");
        let id = read["id"].as_str().unwrap().to_string();
        browser.click(&format!("#cancel-{id}")).await;
        browser.wait_url("/cabinet/invoices", 10).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, read) = get_json(&gw, &format!("/invoice/{id}"), &token).await;
        assert_eq!(read["state"], "CANCELLED", "{backend:?}");
        browser.goto(&format!("{}/cabinet/invoices?state=ACTIVE", gw.url)).await;
        assert!(browser.find(&format!("#invoice-{id}")).await.is_none(), "the filter hides it");
        browser.goto(&format!("{}/cabinet/invoices?state=CANCELLED", gw.url)).await;
        assert!(browser.find(&format!("#invoice-{id}")).await.is_some(), "{backend:?}");
        assert!(browser.find(&format!("#cancel-{id}")).await.is_none(), "no cancel for a cancelled link");
    }
}

/// The outbox messages about one invoice_id of the test merchant, newest first.
async fn messages_about(gw: &Gateway, invoice_id: &str) -> Vec<epay_store::OutboxMessage> {
    let filter = epay_store::MessageFilter { reference: invoice_id.to_string(), limit: 10 };
    let merchant = epay_server::platform::test_merchant::TEST_MERCHANT_ID;
    gw.store().await.messages_of(merchant, &filter).await.unwrap()
}

#[tokio::test]
async fn an_invoice_with_contacts_sends_its_link_by_e_mail_and_sms_from_the_same_transaction() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = user_token(&gw).await;
        let (status, invoice) = create(
            &gw,
            &token,
            json!({"language": "eng", "amount": 1500.5, "description": "Consulting, November",
                "recipient_contact": " payer@client.kz ", "recipient_contact_sms": "8 (701) 123-45-67",
                "notifier_contact_sms": "+77020000000"}),
        )
        .await;
        assert_eq!(status, 200, "{backend:?}: {invoice}");
        assert_eq!(invoice["recipient_contact_sms"].as_str(), Some("+77011234567"), "stored as E.164: {invoice}");
        let invoice_id = invoice["invoice_id"].as_str().unwrap();
        let link = invoice["link"].as_str().unwrap();
        let messages = messages_about(&gw, invoice_id).await;
        assert_eq!(messages.len(), 2, "{backend:?}: an e-mail and an SMS, nothing to the notifier");
        let mail = messages.iter().find(|m| m.channel == epay_domain::MessageChannel::Email).unwrap();
        assert_eq!(mail.recipient, "payer@client.kz");
        assert_eq!(mail.kind, epay_domain::MessageKind::InvoiceLink);
        assert_eq!(mail.language, epay_domain::MessageLanguage::En, "in the invoice's language");
        assert!(mail.subject.starts_with("Invoice from"), "{}", mail.subject);
        for needed in [link, "1500.50 KZT", "Consulting, November"] {
            assert!(mail.body.contains(needed), "{backend:?}: {needed:?} not in {}", mail.body);
        }
        let sms = messages.iter().find(|m| m.channel == epay_domain::MessageChannel::Sms).unwrap();
        assert_eq!(sms.recipient, "+77011234567");
        assert!(sms.body.contains(link), "{}", sms.body);

        // A Russian invoice with an e-mail only: one message, in Russian.
        let (_, ru) = create(&gw, &token, json!({"recipient_contact": "a@shop.kz"})).await;
        let ru_messages = messages_about(&gw, ru["invoice_id"].as_str().unwrap()).await;
        assert_eq!(ru_messages.len(), 1, "{backend:?}");
        assert_eq!(ru_messages[0].language, epay_domain::MessageLanguage::Ru);
        assert!(ru_messages[0].subject.starts_with("Счёт на оплату"), "{}", ru_messages[0].subject);

        // Bad contacts: a clear error, and neither the invoice nor a message is written.
        for (field, bad) in [
            ("recipient_contact", "payer@client"),
            ("recipient_contact", "a@b.kz\r\nBcc: x@y.kz"),
            ("recipient_contact_sms", "+7 701 abc"),
            ("notifier_contact_sms", "12345"),
        ] {
            let (status, body) = create(&gw, &token, json!({"invoice_id": "770001", field: bad})).await;
            assert_eq!(status, 400, "{backend:?} {field}={bad:?}: {body}");
            assert!(body["message"].as_str().unwrap().contains(field), "{body}");
            assert!(messages_about(&gw, "770001").await.is_empty(), "{backend:?}: a message was written");
            let (status, _) = get_json(&gw, "/invoice/770001", &token).await;
            assert_eq!(status, 404, "{backend:?}: the invoice was written");
        }
        // A duplicate invoice_id writes no second message.
        let (status, _) =
            create(&gw, &token, json!({"invoice_id": invoice_id, "recipient_contact": "other@client.kz"})).await;
        assert_eq!(status, 409);
        assert_eq!(messages_about(&gw, invoice_id).await.len(), 2, "{backend:?}");
    }
}

#[tokio::test]
async fn a_cancel_racing_a_payment_lets_exactly_one_of_them_through() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = user_token(&gw).await;
        let (mut paid_rounds, mut cancelled_rounds, mut closed_in_transaction) = (0, 0, 0);
        for round in 0..16u64 {
            let (_, invoice) = create(&gw, &token, json!({})).await;
            let id = invoice["id"].as_str().unwrap().to_string();
            let invoice_id = invoice["invoice_id"].as_str().unwrap().to_string();
            // Minted while the link is active, so the payment passes the early check.
            let (pay_token, _) = minted_token(invoice["link"].as_str().unwrap()).await;
            let cancel_path = format!("/invoice/{id}/cancel");
            // The cancel starts a little later each round, so the rounds cover cancel-first,
            // pay-first and the two overlapping.
            let cancel = async {
                tokio::time::sleep(Duration::from_micros(round * 250)).await;
                gw.post_json(&cancel_path, Some(&token), "").await
            };
            let (paid, (cancel_status, cancel_body)) = tokio::join!(pay(&gw, &pay_token, &invoice_id, "1500"), cancel);
            let (_, after) = get_json(&gw, &format!("/invoice/{id}"), &token).await;
            match paid {
                Ok(p) => {
                    assert_eq!(cancel_status, 409, "{backend:?} round {round}: paid AND cancelled: {cancel_body}");
                    assert!(matches!(p.status.as_str(), "AUTH" | "CHARGE"), "{}", p.status);
                    assert_eq!(after["state"].as_str(), Some("PAID"), "{backend:?}: {after}");
                    paid_rounds += 1;
                }
                Err(e) => {
                    let (status, body) = api_status(e);
                    assert_eq!(status, 403, "{backend:?} round {round}: {body}");
                    if body["message"].as_str().is_some_and(|m| m.contains("no longer active")) {
                        closed_in_transaction += 1;
                    }
                    assert_eq!(cancel_status, 200, "{backend:?} round {round}: neither went through: {cancel_body}");
                    // CANCELLED, not PAID: no approved payment exists for the invoice.
                    assert_eq!(after["state"].as_str(), Some("CANCELLED"), "{backend:?}: {after}");
                    cancelled_rounds += 1;
                }
            }
        }
        eprintln!(
            "{backend:?}: {paid_rounds} rounds paid (cancel refused), {cancelled_rounds} cancelled (payment \
             refused; {closed_in_transaction} of them by the check inside the payment's transaction)"
        );
    }
}

/// A link is a bearer address (e-mail, SMS, forwarded): the page it opens pays the invoice with a
/// typed card only. Its customer's saved cards are neither listed nor spent (docs/security.md).
#[tokio::test]
async fn an_invoice_links_page_never_lists_or_spends_the_customers_saved_cards() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // The customer has a card saved with this merchant (on the link's terminal).
        let order = invoice();
        let saving = gw.token_on(&order, major("10"), TERMINAL).await;
        let body = json!({"amount": 10, "currency": "KZT", "name": "CARD HOLDER", "invoiceId": order,
                          "description": "saving", "accountId": "customer-7", "cardSave": true,
                          "cryptogram": gw.cryptogram(VISA, TERMINAL).await});
        let (status, answer) = gw.post_json("/payment/cryptopay", Some(&saving), &body.to_string()).await;
        assert_eq!(status, 200, "{answer}");
        let card_id = answer["cardID"].as_str().unwrap().to_string();

        let token = user_token(&gw).await;
        let invoice = invoice();
        let (status, link) = create(&gw, &token, json!({"invoice_id": invoice, "account_id": "customer-7"})).await;
        assert_eq!(status, 200, "{link}");
        let (_, location, _) = open_link(link["link"].as_str().unwrap()).await;
        let page = gw.http.get(format!("{}{location}", gw.url)).send().await.unwrap().text().await.unwrap();
        assert!(!page.contains("saved-cards") && !page.contains(&card_id), "{backend:?}: {page}");

        let raw = hidden_input(&page, "params");
        let status = gw
            .http
            .post(format!("{}/payform/pay", gw.url))
            .form(&[("params", raw.as_str()), ("card_id", card_id.as_str())])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 400, "{backend:?}: the link's token spends no saved card");
        let store = gw.store().await;
        assert!(store.payment_by_invoice(TERMINAL, &invoice).await.unwrap().is_none(), "{backend:?}: nothing written");
    }
}
