//! The hosted payment page, payment-api.js and the demo shop, in headless Chromium, on SQLite
//! and PostgreSQL.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::*;
use epay_client::TokenRequest;

/// Fills the card form on the current page (or frame) and submits it.
async fn pay_with(browser: &Browser, card: (&str, &str, &str), holder: &str) {
    browser.type_into("#pan", card.0).await;
    browser.type_into("#expiry", card.1).await;
    browser.type_into("#cvc", card.2).await;
    browser.type_into("#holder", holder).await;
    browser.click("#submit").await;
}

/// A payment page link built the way payment-api.js builds it, for a fresh token.
async fn page_link(gw: &Gateway, language: &str, amount_in_params: &str) -> (String, String) {
    let invoice = invoice();
    let token =
        gw.client.token(&TokenRequest::payment(CLIENT, SECRET, &invoice, major("100"), "KZT", TERMINAL)).await.unwrap();
    (page_link_for(gw, &invoice, &token.access_token, language, amount_in_params), invoice)
}

/// The payment page link for `invoice` with `token` in `language`.
fn page_link_for(gw: &Gateway, invoice: &str, token: &str, language: &str, amount_in_params: &str) -> String {
    let params = epay_server::edge::page::params::encode(
        &[
            ("invoiceId", invoice.to_string()),
            ("backLink", format!("{}/demo/success?invoiceId={invoice}", gw.url)),
            ("failureBackLink", format!("{}/demo/failure?invoiceId={invoice}", gw.url)),
            ("language", language.into()),
            ("description", "Test order".into()),
            ("terminal", TERMINAL.into()),
            ("amount", amount_in_params.into()),
            ("currency", "KZT".into()),
        ],
        &[
            ("access_token", token.to_string()),
            ("expires_in", "7200".into()),
            ("scope", "payment".into()),
            ("token_type", "Bearer".into()),
        ],
    );
    format!("{}/payform/?params={params}", gw.url)
}

#[tokio::test]
async fn a_shopper_pays_from_the_demo_shop_and_lands_on_the_success_page() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/", gw.url)).await;
        browser.click("#buy").await;
        browser.wait("#pan", 15).await;
        assert!(browser.url().await.contains("/payform/?params="), "{backend:?}");
        assert_eq!(browser.text("#amount").await, "₸2,500", "{backend:?}: the demo shop pays in English");
        pay_with(&browser, VISA, "TEST TEST").await;
        let url = browser.wait_url("/demo/success", 30).await;
        let invoice = url.split("invoiceId=").nth(1).unwrap().split('&').next().unwrap().to_string();
        // In words, the code as a hint (issue 19).
        assert_eq!(browser.text("#status").await, "Paid — amount held on the card", "{backend:?}");
        assert_eq!(browser.text("#status-code").await, "AUTH", "{backend:?}");
        let token = gw.service_token(TERMINAL).await;
        let status = gw.client.status(&token, &invoice).await.unwrap();
        assert_eq!(status.transaction.unwrap().status_name, "AUTH");
    }
}

#[tokio::test]
async fn a_declined_card_lands_on_the_failure_page_with_the_reason() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/", gw.url)).await;
        browser.click("#buy").await;
        pay_with(&browser, ("4000000000000002", "1230", "123"), "TEST TEST").await;
        // The invoice may be tried again (docs/compatibility.md §48): the form comes back with
        // the reason; a shopper who gives up returns to the shop's failure page.
        assert_eq!(browser.text("#attempts-left").await, "Attempts left: 2", "{backend:?}");
        // Worded for the shopper (issue 19), the code kept for support.
        assert!(browser.text(".alert").await.contains("Your bank declined the payment."), "{backend:?}");
        assert!(browser.text(".alert").await.ends_with("(466)"), "{backend:?}");
        browser.click("#give-up").await;
        browser.wait_url("/demo/failure", 15).await;
        assert_eq!(browser.text("#status").await, "Declined", "{backend:?}");
        assert_eq!(browser.text("#status-code").await, "REJECT", "{backend:?}");
        assert!(browser.text("#reason").await.contains("declined"), "{backend:?}");
    }
}

#[tokio::test]
async fn the_sandbox_page_takes_seed_001_card_data_and_leaves_dates_to_the_gateway() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        // Seed 001's 01/25 is past by the browser's clock too; the sandbox page lets it through.
        let (link, invoice) = page_link(&gw, "eng", "100").await;
        browser.goto(&link).await;
        assert_eq!(browser.attribute("#expiry", "data-check-date").await.as_deref(), Some("false"));
        browser.type_into("#expiry", SEED_VISA.1).await;
        browser.click("#cvc").await;
        assert_eq!(browser.attribute("#expiry", "aria-invalid").await.as_deref(), Some("false"), "{backend:?}");
        browser.goto(&link).await;
        pay_with(&browser, SEED_VISA, "ARMAN ALI").await;
        browser.wait_url("/demo/success", 30).await;
        let token = gw.service_token(TERMINAL).await;
        let tx = gw.client.status(&token, &invoice).await.unwrap().transaction.unwrap();
        assert_eq!(tx.status_name, "AUTH", "{backend:?}");
        // A card whose date really is past reaches the gateway, which answers 478 (bought in
        // the demo shop, whose failure page shows the reason).
        browser.goto(&format!("{}/", gw.url)).await;
        browser.click("#buy").await;
        pay_with(&browser, EXPIRED, "TEST TEST").await;
        // A decline brings the form back (docs/compatibility.md §48); giving up goes to the shop.
        assert!(browser.text(".alert").await.contains("(478)"), "{backend:?}");
        browser.click("#give-up").await;
        browser.wait_url("/demo/failure", 15).await;
        assert!(browser.text("#reason").await.contains("Expired card"), "{backend:?}");
    }
}

#[tokio::test]
async fn a_mistyped_cvc_is_corrected_on_the_same_page() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        let (link, invoice) = page_link(&gw, "eng", "100").await;
        browser.goto(&link).await;
        assert!(browser.find("#attempts-left").await.is_none(), "{backend:?}: nothing to count yet");
        pay_with(&browser, (VISA.0, VISA.1, "999"), "TEST TEST").await;
        assert_eq!(browser.text("#attempts-left").await, "Attempts left: 2", "{backend:?}");
        assert!(browser.text(".alert").await.contains("(2872)"), "{backend:?}");
        // The card number is not echoed back; the holder is kept. The right CVC pays.
        assert_eq!(browser.attribute("#pan", "value").await.unwrap_or_default(), "");
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", VISA.1).await;
        browser.type_into("#cvc", VISA.2).await;
        browser.click("#submit").await;
        browser.wait_url("/demo/success", 30).await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let attempts = gw.store().await.invoice_attempts(&merchant.id, TERMINAL, &invoice).await.unwrap();
        let summary: Vec<(i32, &str)> = attempts.iter().map(|p| (p.attempt, p.status.as_str())).collect();
        assert_eq!(summary, [(1, "REJECT"), (2, "AUTH")], "{backend:?}");
        // Paid: the page's token is spent now.
        browser.goto(&link).await;
        assert!(browser.text("#message .alert").await.contains("already been used"), "{backend:?}");
    }
}

#[tokio::test]
async fn past_the_limit_the_page_says_so_in_its_language() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (ok, out) = gw.run_cli(&["terminal", "update", TERMINAL, "--max-attempts", "2"]);
        assert!(ok, "{out}");
        let browser = Browser::start().await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        browser.goto(&page_link_for(&gw, &invoice, &token, "rus", "100")).await;
        pay_with(&browser, ("4000000000000002", "1230", "123"), "TEST TEST").await;
        assert_eq!(browser.text("#attempts-left").await, "Осталось попыток: 1", "{backend:?}");
        browser.type_into("#pan", "4000000000009987").await;
        browser.type_into("#expiry", "1230").await;
        browser.type_into("#cvc", "123").await;
        browser.click("#submit").await;
        // The last attempt: declined, no form any more, back to the shop's failure page.
        let reason = browser.text("#result .alert").await;
        assert!(reason.contains("(481)") && reason.contains("Попыток больше не осталось"), "{backend:?}: {reason}");
        browser.wait_url("/demo/failure", 15).await;
        // The link again, in each language: ePay's 2740, and no form.
        for (language, heading) in [
            ("rus", "Превышено число попыток оплаты"),
            ("kaz", "Төлем әрекеттерінің саны асып кетті"),
            ("eng", "Too many failed payment attempts"),
        ] {
            browser.goto(&page_link_for(&gw, &invoice, &token, language, "100")).await;
            assert_eq!(browser.text("#message h1").await, heading, "{backend:?}");
            assert!(browser.text("#message .alert").await.ends_with("(2740)"), "{backend:?} {language}");
            assert!(browser.find("#pay-form").await.is_none());
        }
        // Posting the form anyway (a stale tab) is refused the same way and writes nothing.
        let link = page_link_for(&gw, &invoice, &token, "eng", "100");
        let params = link.split("params=").nth(1).unwrap().to_string();
        let form =
            [("params", params.as_str()), ("pan", VISA.0), ("expiry", "01/27"), ("cvc", VISA.2), ("name", "T T")];
        let response = gw.http.post(format!("{}/payform/pay", gw.url)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 400, "{backend:?}");
        assert!(response.text().await.unwrap().contains("Too many failed payment attempts"), "{backend:?}");
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let store = gw.store().await;
        assert_eq!(store.invoice_attempts(&merchant.id, TERMINAL, &invoice).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn the_widget_reports_success_to_its_parent() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/", gw.url)).await;
        browser.click("#buy-widget").await;
        browser.click("#open-widget").await;
        browser.enter_frame(".widgetScreen iframe").await;
        assert_eq!(browser.attribute("body", "class").await.as_deref(), Some("short"));
        pay_with(&browser, MASTERCARD, "TEST TEST").await;
        // The result page posts {success: true} to the parent, which closes the overlay (and
        // with it this frame): go back to the parent and watch the callback's result.
        browser.leave_frame().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let status = browser.attribute("#widget-status", "data-result").await;
            if status.as_deref() == Some("success") {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{backend:?}: widget said {status:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(browser.find(".widgetScreen").await.is_none(), "the overlay closes");
    }
}

/// Dispatches a `{success: true}` message to the demo page's window, as a window would post it.
/// `origin` and `source` are JavaScript expressions; `frame` is the widget's iframe.
async fn post_to_parent(browser: &Browser, origin: &str, source: &str) {
    let script = format!(
        "var frame = document.querySelector('.widgetScreen iframe');
         var origin = window.location.origin;
         window.dispatchEvent(new MessageEvent('message',
             {{data: JSON.stringify({{success: true}}), origin: {origin}, source: {source}}}));
         return true;"
    );
    browser.execute(&script).await;
}

#[tokio::test]
async fn the_widget_ignores_messages_from_other_origins_and_windows() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/", gw.url)).await;
        browser.click("#buy-widget").await;
        browser.click("#open-widget").await;
        browser.wait(".widgetScreen iframe", 10).await;
        // A look-alike origin that starts with ours (the old prefix match took it), our origin
        // from a window that is not the widget's frame, and no source at all.
        for (origin, source) in [
            ("origin + '.evil.example'", "frame.contentWindow"),
            ("origin + '0'", "frame.contentWindow"),
            ("'null'", "frame.contentWindow"),
            ("origin", "window"),
            ("origin", "null"),
        ] {
            post_to_parent(&browser, origin, source).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let status = browser.attribute("#widget-status", "data-result").await;
            assert_eq!(status, None, "{backend:?}: a message from {origin} / {source} was taken");
            assert!(browser.find(".widgetScreen").await.is_some(), "{backend:?}: the overlay stays");
        }
        // The same message from the widget's frame on our exact origin is taken: the listener
        // is alive, it only refuses strangers.
        post_to_parent(&browser, "origin", "frame.contentWindow").await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while browser.attribute("#widget-status", "data-result").await.as_deref() != Some("success") {
            assert!(tokio::time::Instant::now() < deadline, "{backend:?}: the widget's own message was ignored");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(browser.find(".widgetScreen").await.is_none(), "the overlay closes");
    }
}

#[tokio::test]
async fn the_page_speaks_russian_kazakh_and_english() {
    // (Their pictures: tests/screenshots.rs.)
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        for (language, label, button) in [
            ("rus", "Номер карты", "Оплатить"),
            ("kaz", "Карта нөмірі", "100 ₸ төлеу"),
            ("eng", "Card number", "Pay"),
            ("KZ", "Карта нөмірі", "100 ₸ төлеу"),
            ("EN", "Card number", "Pay"),
        ] {
            let (link, _) = page_link(&gw, language, "100").await;
            browser.goto(&link).await;
            assert!(browser.text("label[for=pan]").await.starts_with(label), "{backend:?} {language}");
            assert!(browser.text("#submit").await.starts_with(button), "{backend:?} {language}");
        }
        // Validation as the shopper types: a Luhn-invalid number is flagged after leaving the field.
        browser.type_into("#pan", "4405639704015097").await;
        browser.click("#expiry").await;
        assert_eq!(browser.attribute("#pan", "aria-invalid").await.as_deref(), Some("true"));
        assert!(!browser.text("#pan-error").await.is_empty());
        // The brand's mark, named by its alt text.
        assert_eq!(browser.attribute("#brand img", "alt").await.as_deref(), Some("Visa"));
        assert_eq!(browser.attribute("#brand img", "data-brand").await.as_deref(), Some("VISA"));
    }
}

#[tokio::test]
async fn tampered_params_and_reused_tokens_are_refused() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        // The token says 100; the link says 1.
        let (link, invoice) = page_link(&gw, "eng", "1").await;
        browser.goto(&link).await;
        let alert = browser.text("#message .alert").await;
        assert!(alert.contains("does not match the token"), "{backend:?}: {alert}");
        assert!(gw.store().await.payment_by_invoice(TERMINAL, &invoice).await.unwrap().is_none());
        // Garbage params: an error page, not a 500.
        let response = gw.http.get(format!("{}/payform/?params=%%%garbage", gw.url)).send().await.unwrap();
        assert_eq!(response.status(), 400);
        // Pay once; the same link again is refused.
        let (link, _) = page_link(&gw, "eng", "100").await;
        browser.goto(&link).await;
        pay_with(&browser, VISA, "TEST TEST").await;
        browser.wait_url("/demo/success", 30).await;
        browser.goto(&link).await;
        let alert = browser.text("#message .alert").await;
        assert!(alert.contains("already been used"), "{backend:?}: {alert}");
        // A payment token cannot open the transfer form: a clear message, not a blank page.
        let (link, _) = page_link(&gw, "eng", "100").await;
        browser.goto(&format!("{link}&isTransfer=true")).await;
        assert!(browser.text("#message .alert").await.contains("does not allow transfers"));
    }
}

/// The merchant's own site, on another origin: the page of `fixtures/epay-merchant-page.html`
/// (seed 002's, as written for the real ePay) around `token` for `invoice`, and its success and
/// failure pages. Returns the site's origin and its server task.
async fn merchant_site(
    gw: &Gateway,
    token: &epay_client::TokenResponse,
    invoice: &str,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop = format!("http://{}", listener.local_addr().unwrap());
    let page = include_str!("fixtures/epay-merchant-page.html")
        .replace("{{SCRIPT_URL}}", &format!("{}/payform/payment-api.js", gw.url))
        .replace("{{TOKEN_JSON}}", &serde_json::to_string(token).unwrap())
        .replace("{{INVOICE}}", invoice)
        .replace("{{SHOP}}", &shop);
    let app = axum::Router::new()
        .route("/", axum::routing::get(move || async move { axum::response::Html(page) }))
        .route("/success.html", axum::routing::get(|| async { axum::response::Html("<h1 id=done>Paid</h1>") }))
        .route("/failure.html", axum::routing::get(|| async { axum::response::Html("<h1 id=failed>Failed</h1>") }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (shop, server)
}

#[tokio::test]
async fn a_page_written_for_the_real_epay_pays_with_only_the_script_url_changed() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw
            .client
            .token(&TokenRequest::payment(CLIENT, SECRET, &invoice, major("100"), "KZT", TERMINAL))
            .await
            .unwrap();
        // The page names the P2P terminal, as seed 002's does: the token's terminal governs.
        let (shop, server) = merchant_site(&gw, &token, &invoice).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{shop}/")).await;
        browser.click("#pay").await;
        browser.wait("#pan", 15).await;
        assert!(browser.url().await.starts_with(&format!("{}/payform/?params=", gw.url)), "{backend:?}");
        // Seed 002's page says language "RU": the form is in Russian.
        assert!(browser.text("label[for=pan]").await.starts_with("Номер карты"));
        pay_with(&browser, VISA, "ARMAN ALI").await;
        browser.wait_url("/success.html", 15).await;
        let status_token = gw.service_token(TERMINAL).await;
        let tx = gw.client.status(&status_token, &invoice).await.unwrap().transaction.unwrap();
        assert_eq!(tx.status_name, "AUTH");
        assert!(!tx.card_id.is_empty(), "cardSave: true saved the card");
        server.abort();
    }
}

/// Seed 002 ("P2P redirect to form") requests a `transfer` token and calls `halyk.pay`. Its page,
/// as written, opens the transfer form its token allows: P2P, as the token names no
/// `transferKind`. The token, not the page's call, fixes the kind, so an OCT token opens the
/// payout form under `halyk.pay` as well.
#[tokio::test]
async fn a_page_copied_from_seed_002_opens_the_transfer_form_its_token_allows() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        // Seed 002's token request, field for field.
        let token = gw
            .client
            .token(&TokenRequest {
                scope: "transfer".into(),
                client_id: CLIENT.into(),
                client_secret: SECRET.into(),
                terminal: Some(TERMINAL.into()),
                secret_hash: Some("JDKCNDDGGDTPSKJD".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let (shop, server) = merchant_site(&gw, &token, &invoice).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{shop}/")).await;
        browser.click("#pay").await;
        browser.wait("#transfer-submit", 15).await;
        let url = browser.url().await;
        assert!(url.starts_with(&format!("{}/payform/?params=", gw.url)) && !url.contains("isTransfer"), "{url}");
        // Seed 002's page says language "RU"; a P2P asks for both cards.
        assert_eq!(browser.text("h1").await, "Перевод с карты на карту", "{backend:?}");
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", "01/27").await;
        browser.type_into("#cvc", VISA.2).await;
        browser.type_into("#holder", "ARMAN ALI").await;
        browser.type_into("#receiver_pan", MASTERCARD.0).await;
        browser.click("#transfer-submit").await;
        browser.wait_url("/success.html", 15).await;
        let paid = gw.store().await.payment_by_invoice(TERMINAL, &invoice).await.unwrap().unwrap();
        assert_eq!((paid.kind.as_str(), paid.status.as_str()), ("p2p", "CHARGE"), "{backend:?}");
        assert_eq!(paid.account_id, "testuser1", "{backend:?}: the page's customer, for cardSave");
        server.abort();

        // An OCT token under halyk.pay: the payout form (the receiver's card only).
        let order_id = common::invoice();
        let oct = gw
            .client
            .token(&TokenRequest {
                scope: "transfer".into(),
                transfer_kind: Some("oct".into()),
                ..TokenRequest::payment(CLIENT, SECRET, &order_id, major("100"), "KZT", PAYOUT_TERMINAL)
            })
            .await
            .unwrap();
        let params = epay_server::edge::page::params::encode(
            &[
                ("invoiceId", order_id.clone()),
                ("amount", "100".into()),
                ("currency", "KZT".into()),
                ("language", "EN".into()),
            ],
            &[("access_token", oct.access_token), ("scope", "transfer".into())],
        );
        browser.goto(&format!("{}/payform/?params={params}", gw.url)).await;
        browser.wait("#receiver_pan", 10).await;
        assert!(browser.find("#pan").await.is_none(), "{backend:?}: no sender's card in a payout");
        gw.assert_ledger_sound();
    }
}

const P2P_TERMINAL: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";
const PAYOUT_TERMINAL: &str = "c36b282f-6819-4d4f-85df-a4bdc8a8f703";

/// A transfer page link as halyk.p2p/aft/oct build it. P2P uses a seed-002 style token (scope
/// transfer, no invoice or amount); AFT and OCT tokens name their kind and order, as the
/// merchant must ask for them (docs/compatibility.md 41). Every token names the customer,
/// testuser1, whose saved cards the page may offer.
async fn transfer_link(gw: &Gateway, terminal: &str, flag: &str) -> (String, String) {
    let invoice = invoice();
    let kind = match flag {
        "isAFT" => Some("aft"),
        "isOCT" => Some("oct"),
        _ => None,
    };
    let token = gw
        .client
        .token(&TokenRequest {
            scope: "transfer".into(),
            client_id: CLIENT.into(),
            client_secret: SECRET.into(),
            terminal: Some(terminal.into()),
            secret_hash: Some("JDKCNDDGGDTPSKJD".into()),
            invoice_id: kind.map(|_| invoice.clone()),
            amount: kind.map(|_| major("100")),
            currency: kind.map(|_| "KZT".into()),
            transfer_kind: kind.map(str::to_string),
            account_id: Some("testuser1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let params = epay_server::edge::page::params::encode(
        &[
            ("invoiceId", invoice.clone()),
            ("backLink", format!("{}/demo/success?invoiceId={invoice}", gw.url)),
            ("failureBackLink", format!("{}/demo/failure?invoiceId={invoice}", gw.url)),
            ("language", "EN".into()),
            ("description", "Transfer to a friend".into()),
            ("accountId", "testuser1".into()),
            ("terminal", terminal.into()),
            ("amount", "100".into()),
            ("currency", "KZT".into()),
            ("cardSave", "true".into()),
        ],
        &[("access_token", token.access_token), ("expires_in", "7200".into()), ("scope", "transfer".into())],
    );
    (format!("{}/payform/?params={params}&{flag}=true", gw.url), invoice)
}

#[tokio::test]
async fn a_shopper_sends_a_p2p_transfer_on_the_page_and_sees_the_fee_first() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        let (link, invoice) = transfer_link(&gw, P2P_TERMINAL, "isTransfer").await;
        browser.goto(&link).await;
        assert_eq!(browser.text("#fee").await, "₸95", "{backend:?}: the fee is shown before confirming");
        assert_eq!(browser.text("#total").await, "₸195");
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", "01/27").await;
        browser.type_into("#cvc", VISA.2).await;
        browser.type_into("#holder", "ARMAN ALI").await;
        browser.type_into("#receiver_pan", MASTERCARD.0).await;
        browser.click("#transfer-submit").await;
        // The receipt (issue 19): the transfer's amount, the sender's mask, charged.
        browser.wait("#receipt", 15).await;
        assert_eq!(browser.text("h1").await, "Transfer complete", "{backend:?}");
        assert_eq!(browser.text("#receipt-amount").await, "₸100", "{backend:?}");
        assert_eq!(browser.text("#receipt-card").await, "440563...5096", "{backend:?}");
        assert_eq!(browser.text("#receipt-status").await, "Paid — amount charged", "{backend:?}");
        assert!(!browser.source().await.contains(MASTERCARD.0) && !browser.source().await.contains(VISA.0));
        browser.wait_url("/demo/success", 30).await;
        let token = gw.service_token(P2P_TERMINAL).await;
        let tx = gw.client.status(&token, &invoice).await.unwrap().transaction.unwrap();
        assert_eq!(tx.status_name, "CHARGE", "{backend:?}");
        assert_eq!(tx.card_mask, "440563...5096");

        // The sender's card was saved (cardSave): the next transfer offers it.
        let (link, _) = transfer_link(&gw, P2P_TERMINAL, "isTransfer").await;
        browser.goto(&link).await;
        assert!(browser.source().await.contains("440563...5096"), "saved card offered");
        // AFT asks only for the sender's card, OCT only for the receiver's.
        let (aft, _) = transfer_link(&gw, PAYOUT_TERMINAL, "isAFT").await;
        browser.goto(&aft).await;
        browser.wait("#pan", 10).await;
        assert!(browser.find("#receiver_pan").await.is_none());
        let (oct, oct_invoice) = transfer_link(&gw, PAYOUT_TERMINAL, "isOCT").await;
        browser.goto(&oct).await;
        browser.wait("#receiver_pan", 10).await;
        assert!(browser.find("#pan").await.is_none());
        browser.type_into("#receiver_pan", MASTERCARD.0).await;
        browser.click("#transfer-submit").await;
        // A payout's receipt names the receiving card.
        assert_eq!(browser.text("#receipt-card").await, "552204...6736", "{backend:?}");
        browser.wait_url("/demo/success", 30).await;
        let token = gw.service_token(PAYOUT_TERMINAL).await;
        assert_eq!(gw.client.status(&token, &oct_invoice).await.unwrap().transaction.unwrap().status_name, "CHARGE");
        gw.assert_ledger_sound();
    }
}
