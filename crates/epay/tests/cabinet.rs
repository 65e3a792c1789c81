//! The merchant cabinet, in headless Chromium and over plain HTTP, on SQLite and PostgreSQL:
//! sign-in, search, operations from the detail page, callback re-send, terminal settings,
//! secret rotation, another merchant's ids, CSRF, lockout, CSV export, saved cards.

mod common;

use std::time::Duration;

use common::browser::{screenshots_dir, Browser};
use common::receiver::Receiver;
use common::*;
use epay_client::{PaymentRequest, TokenRequest};
use epay_server::runtime::seed::{CABINET_EMAIL, CABINET_PASSWORD};

/// Signs in through the form, in English, on a desktop-sized window (issue 19's 1280×800).
async fn sign_in(browser: &Browser, gw: &Gateway, email: &str, password: &str) {
    browser.set_viewport_size(1280, 800).await;
    browser.goto(&format!("{}/cabinet/lang/en?back=/cabinet/login", gw.url)).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser.click("#sign-in").await;
    browser.wait_url("/cabinet/overview", 15).await;
}

/// A charged payment of `amount` on the two-step test terminal; (id, invoice).
async fn charged_payment(gw: &Gateway, amount: Amount) -> (String, String) {
    let invoice = invoice();
    let token = gw.payment_token(&invoice, amount).await;
    let request = gw.payment_request(&invoice, amount, VISA).await;
    let paid = gw.client.cryptopay(&token, &request).await.unwrap();
    let service = gw.service_token(TERMINAL).await;
    let (status, body) = gw.operation(&service, &paid.id, "charge", "", None).await;
    assert_eq!(status, 200, "{body}");
    (paid.id, invoice)
}

/// The cabinet over plain HTTP (no redirects followed), signed in with a session cookie.
struct Web {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

fn csrf_in(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a form with a CSRF token") + 19;
    html[start..].split('"').next().unwrap().to_string()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Posts the sign-in form; the status and, on success, the signed-in session.
async fn web_sign_in(gw: &Gateway, email: &str, password: &str) -> (u16, Option<Web>, String) {
    let http = no_redirects();
    let page = http.get(format!("{}/cabinet/login", gw.url)).send().await.unwrap();
    let login_cookie = set_cookie(page.headers(), "epay_cabinet_login").expect("the login form sets its CSRF cookie");
    let csrf = csrf_in(&page.text().await.unwrap());
    let response = http
        .post(format!("{}/cabinet/login", gw.url))
        .header("cookie", &login_cookie)
        .form(&[("email", email), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let session = set_cookie(response.headers(), "epay_cabinet");
    let body = response.text().await.unwrap();
    let Some(cookie) = session else { return (status, None, body) };
    let mut web = Web { http, base: gw.url.clone(), cookie, csrf: String::new() };
    let (_, overview) = web.get("/cabinet/overview").await;
    web.csrf = csrf_in(&overview);
    (status, Some(web), body)
}

impl Web {
    async fn get(&self, path: &str) -> (u16, String) {
        let r = self.http.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(fields)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

#[tokio::test]
async fn a_merchant_finds_a_payment_by_invoice_and_refunds_part_of_it_from_the_detail_page() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (id, invoice) = charged_payment(&gw, major("100")).await;
        let _other = charged_payment(&gw, major("55")).await;
        let declined = common::invoice();
        let token = gw.payment_token(&declined, major("20")).await;
        let request = gw.payment_request(&declined, major("20"), ("4000000000000002", "1230", "123")).await;
        assert!(gw.client.cryptopay(&token, &request).await.is_err(), "declined");
        let browser = Browser::start().await;
        let shots = backend == Backend::Sqlite;
        browser.goto(&format!("{}/cabinet", gw.url)).await;
        browser.wait_url("/cabinet/login", 10).await;
        if shots {
            browser.set_viewport_size(1280, 800).await;
            browser.goto(&format!("{}/cabinet/lang/en?back=/cabinet/login", gw.url)).await;
            browser.screenshot(&screenshots_dir().join("cabinet-login.png")).await;
        }
        sign_in(&browser, &gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        assert_eq!(browser.text("#who").await, CABINET_EMAIL);
        // The overview draws its charts as inline SVG.
        for chart in ["#chart-volume-KZT", "#chart-count", "#chart-approval", "#daily-98120001-KZT"] {
            browser.wait(chart, 5).await;
        }
        assert!(browser.text("#overview-table").await.contains("Payments"), "{backend:?}");
        if shots {
            browser.screenshot(&screenshots_dir().join("cabinet-overview.png")).await;
        }

        // Find it by invoiceId.
        browser.click("#nav-transactions").await;
        browser.wait("#transactions", 10).await;
        assert_eq!(browser.text("#total").await, "3", "{backend:?}: all three are listed");
        if shots {
            browser.screenshot(&screenshots_dir().join("cabinet-transactions.png")).await;
        }
        browser.type_into("#f-invoice", &invoice).await;
        browser.click("#apply").await;
        browser.wait_url(&format!("invoice={invoice}"), 10).await;
        assert_eq!(browser.text("#total").await, "1", "{backend:?}");
        browser.click("a.invoice").await;
        browser.wait_url(&format!("/cabinet/transactions/{id}"), 10).await;
        assert!(browser.text("#status").await.starts_with("Charged"), "{backend:?}: words first");
        assert_eq!(browser.text("#d-card").await, "440563...5096 VISA", "masked card only");

        // Refund 30 of 100: a confirmation first, then the status and the ledger change.
        browser.type_into("#refund-amount", "30").await;
        browser.click("#refund-submit").await;
        assert!(browser.text("#question").await.contains("30 KZT"), "{backend:?}");
        if shots {
            browser.screenshot(&screenshots_dir().join("cabinet-confirm.png")).await;
        }
        browser.click("#confirm").await;
        browser.wait_url("done=refund", 10).await;
        assert_eq!(browser.text("#flash").await, "Refund completed", "{backend:?}");
        assert!(browser.text("#status").await.starts_with("Charged"), "{backend:?}: partly refunded");
        assert_eq!(browser.text("#d-refunded").await, "30");
        let ledger = browser.text("#ledger").await;
        assert!(ledger.contains(&format!("{id}:refund:0")) && ledger.contains("30"), "{backend:?}: {ledger}");
        let history = browser.text("#history").await;
        assert!(history.contains("created") && history.contains("charge") && history.contains("refund"), "{history}");
        if shots {
            // Tall enough for the history, the ledger and the callbacks.
            browser.set_viewport_size(1280, 1800).await;
            browser.screenshot(&screenshots_dir().join("cabinet-detail.png")).await;
            browser.set_viewport_size(1280, 800).await;
        }
        let api = gw.transaction_of(&id).await;
        assert_eq!(api["amount"], 70, "{backend:?}: the API sees the same refund");

        // The rest: REFUND.
        browser.click("#refund-submit").await;
        browser.click("#confirm").await;
        browser.wait_url("done=refund", 10).await;
        assert!(browser.text("#status").await.starts_with("Refunded"), "{backend:?}");
        assert!(browser.find("#refund-submit").await.is_none(), "nothing left to refund");
        gw.assert_ledger_sound();

        // Sign out: the session is gone.
        browser.click("#sign-out").await;
        browser.wait_url("/cabinet/login", 10).await;
        browser.goto(&format!("{}/cabinet/transactions/{id}", gw.url)).await;
        browser.wait_url("/cabinet/login", 10).await;
    }
}

#[tokio::test]
async fn a_callback_is_sent_again_from_the_detail_page() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_CALLBACK_POLL_MS", "50")]).await;
        let receiver = Receiver::start().await;
        let invoice = invoice();
        let token = gw
            .client
            .token(&TokenRequest {
                post_link: Some(format!("{}/ok", receiver.url)),
                ..TokenRequest::payment(CLIENT, SECRET, &invoice, major("100"), "KZT", TERMINAL)
            })
            .await
            .unwrap()
            .access_token;
        let paid = gw.client.cryptopay(&token, &gw.payment_request(&invoice, major("100"), VISA).await).await.unwrap();
        assert_eq!(receiver.wait_for("ok", 1, Duration::from_secs(10)).await.len(), 1, "{backend:?}");

        let browser = Browser::start().await;
        sign_in(&browser, &gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        browser.goto(&format!("{}/cabinet/transactions/{}", gw.url, paid.id)).await;
        let status = browser.text(".callback .cb-status").await;
        assert_eq!(status, "delivered", "{backend:?}");
        assert!(browser.text(".callback .attempts").await.contains("200"), "the reply is logged");
        browser.click(".callback .resend").await;
        assert!(browser.text("#question").await.contains("msg_"), "{backend:?}");
        browser.click("#confirm").await;
        browser.wait_url("done=resend", 10).await;
        let hits = receiver.wait_for("ok", 2, Duration::from_secs(10)).await;
        assert_eq!(hits.len(), 2, "{backend:?}: sent again");
        assert_eq!(hits[0].header("webhook-id"), hits[1].header("webhook-id"), "the same event");
        // Its second attempt shows up on the page.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            browser.goto(&format!("{}/cabinet/transactions/{}", gw.url, paid.id)).await;
            if browser.text(".callback .cb-attempts").await == "2" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{backend:?}: attempt 2 never logged");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test]
async fn a_terminal_switched_to_two_step_stops_the_next_payment_at_auth() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let store = gw.store().await;
        let settings = epay_server::services::admin::TerminalSettings {
            pos_id: Some("98129999".into()),
            name: Some("Web shop".into()),
            two_step: Some(false),
            ..Default::default()
        };
        let terminal =
            epay_server::services::admin::create_terminal(store.as_ref(), CLIENT, None, &settings).await.unwrap();
        let pay = |amount: Amount| {
            let (gw, terminal) = (&gw, terminal.id.clone());
            async move {
                let invoice = invoice();
                let token = gw.token_on(&invoice, amount, &terminal).await;
                let request = PaymentRequest::new(&invoice, amount, gw.cryptogram(VISA, &terminal).await);
                gw.client.cryptopay(&token, &request).await.unwrap().status
            }
        };
        assert_eq!(pay(major("10")).await, "CHARGE", "{backend:?}: one-step to begin with");

        let browser = Browser::start().await;
        sign_in(&browser, &gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        browser.click("#nav-terminals").await;
        let id = &terminal.id;
        browser.select(&format!("#mode-{id}"), "two").await;
        if backend == Backend::Sqlite {
            browser.screenshot(&screenshots_dir().join("cabinet-terminals.png")).await;
        }
        browser.click(&format!("#save-{id}")).await;
        browser.wait_url(&format!("saved={id}"), 10).await;
        assert!(browser.text("#flash").await.contains("Web shop"), "{backend:?}");
        assert_eq!(pay(major("10")).await, "AUTH", "{backend:?}: the next payment stops at AUTH");
        let saved = store.terminal(id).await.unwrap().unwrap();
        assert!(
            saved.two_step
                && !saved.three_ds
                && saved.hold_period_secs == epay_server::runtime::seed::DEFAULT_HOLD_PERIOD_SECS,
            "{saved:?}"
        );

        // 3-D Secure on: an enrolled card is challenged, and the detail page says so. (From a
        // fresh page, so waiting for `saved=` below waits for this save, not the last one.)
        browser.goto(&format!("{}/cabinet/terminals", gw.url)).await;
        browser.click(&format!("#three-ds-{id}")).await;
        browser.click(&format!("#save-{id}")).await;
        browser.wait_url(&format!("saved={id}"), 10).await;
        assert!(store.terminal(id).await.unwrap().unwrap().three_ds, "{backend:?}");
        // Operation callbacks are off until the merchant ticks them (docs/callbacks.md).
        assert!(!store.terminal(id).await.unwrap().unwrap().operation_callbacks, "{backend:?}");
        browser.goto(&format!("{}/cabinet/terminals", gw.url)).await;
        browser.click(&format!("#operation-callbacks-{id}")).await;
        browser.click(&format!("#save-{id}")).await;
        browser.wait_url(&format!("saved={id}"), 10).await;
        let saved = store.terminal(id).await.unwrap().unwrap();
        assert!(saved.operation_callbacks && saved.three_ds, "{backend:?}: {saved:?}");
        let invoice = invoice();
        let token = gw.token_on(&invoice, major("10"), id).await;
        let request =
            PaymentRequest::new(&invoice, major("10"), gw.cryptogram(("4000000000003220", "1230", "123"), id).await);
        let started = gw.client.cryptopay(&token, &request).await.unwrap();
        assert!(started.secure3d.is_some(), "{backend:?}: challenged");
        browser.goto(&format!("{}/cabinet/transactions/{}", gw.url, started.id)).await;
        assert!(browser.text("#status").await.starts_with("Awaiting 3-D Secure"), "{backend:?}");
        assert!(browser.text("#three-ds").await.contains("waiting for the shopper"), "{backend:?}");
    }
}

#[tokio::test]
async fn a_rotated_client_secret_is_shown_once_and_the_old_one_is_refused() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        sign_in(&browser, &gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        browser.click("#nav-credentials").await;
        assert_eq!(browser.text("#client-id").await, CLIENT);
        browser.click("#rotate-client").await;
        browser.click("#confirm").await;
        let secret = browser.text("#new-secret").await;
        assert_eq!(secret.len(), 36, "{backend:?}: {secret}");
        if backend == Backend::Sqlite {
            browser.screenshot(&screenshots_dir().join("cabinet-credentials.png")).await;
        }
        let token = |secret: String| {
            let gw = &gw;
            async move {
                gw.http
                    .post(format!("{}/oauth2/token", gw.url))
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("scope", "payment"),
                        ("client_id", CLIENT),
                        ("client_secret", &secret),
                        ("terminal", TERMINAL),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(token(SECRET.to_string()).await, 401, "{backend:?}: the old secret is refused");
        assert_eq!(token(secret.clone()).await, 200, "{backend:?}: the new one works");
        // Shown once: the credentials page never shows it again.
        browser.goto(&format!("{}/cabinet/credentials", gw.url)).await;
        assert!(!browser.source().await.contains(&secret));

        // The signing secret: rotated, and shown (the merchant needs it to verify callbacks).
        let before = browser.execute("return document.getElementById('webhook-secret').textContent").await;
        assert_eq!(
            before.as_str(),
            Some(epay_server::runtime::seed::TEST_WEBHOOK_SECRET),
            "{backend:?}: the seeded secret"
        );
        browser.click("#rotate-webhook").await;
        browser.click("#confirm").await;
        let fresh = browser.text("#new-secret").await;
        assert!(fresh.starts_with("whsec_") && Some(fresh.as_str()) != before.as_str(), "{backend:?}");
        // Stored sealed (never in clear in the database), and shown opened on the page.
        let merchant = gw.store().await.merchant_by_client_id(CLIENT).await.unwrap().unwrap();
        assert!(epay_server::platform::keys::Keys::is_sealed(merchant.webhook_secret.expose()), "{backend:?}");
        assert!(!gw.database_contents().await.contains(fresh.trim_start_matches("whsec_")), "{backend:?}");
        browser.goto(&format!("{}/cabinet/credentials", gw.url)).await;
        let shown = browser.execute("return document.getElementById('webhook-secret').textContent").await;
        assert_eq!(shown.as_str(), Some(fresh.as_str()), "{backend:?}");
    }
}

#[tokio::test]
async fn another_merchant_cannot_see_or_touch_the_first_merchants_payment() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (id, invoice) = charged_payment(&gw, major("100")).await;
        gw.other_merchant_with_owner().await;

        let (status, web, _) = web_sign_in(&gw, "owner@other.kz", "other-pass-1").await;
        assert_eq!(status, 303, "{backend:?}");
        let web = web.unwrap();
        let (status, page) = web.get(&format!("/cabinet/transactions/{id}")).await;
        assert_eq!(status, 404, "{backend:?}");
        assert!(!page.contains(&invoice) && page.contains(r#"id="error""#), "{page}");
        let (status, _) = web
            .post(
                &format!("/cabinet/transactions/{id}/refund"),
                &[("csrf", &web.csrf), ("amount", "10"), ("confirmed", "yes")],
            )
            .await;
        assert_eq!(status, 404, "{backend:?}: a refund of another merchant's payment is 'not found'");
        let (_, list) = web.get(&format!("/cabinet/transactions?invoice={invoice}")).await;
        assert!(list.contains(r#"<strong id="total">0</strong>"#), "{backend:?}");
        let (_, list) = web.get("/cabinet/transactions").await;
        assert!(!list.contains(&id), "{backend:?}: the list holds only its own payments");
        let (_, terminals) = web.get("/cabinet/terminals").await;
        assert!(!terminals.contains(TERMINAL));
        let (status, _) = web
            .post(
                &format!("/cabinet/terminals/{TERMINAL}"),
                &[("csrf", &web.csrf), ("mode", "one"), ("hold_hours", "1")],
            )
            .await;
        assert_eq!(status, 404, "{backend:?}: nor its terminals");
        assert_eq!(gw.transaction_of(&id).await["amount"], 100, "untouched");

        // The same in the browser.
        let browser = Browser::start().await;
        sign_in(&browser, &gw, "owner@other.kz", "other-pass-1").await;
        browser.goto(&format!("{}/cabinet/transactions/{id}", gw.url)).await;
        assert!(browser.text("#error").await.contains("Not found"), "{backend:?}");
    }
}

#[tokio::test]
async fn a_form_without_the_csrf_token_is_refused_and_changes_nothing() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (id, _) = charged_payment(&gw, major("100")).await;
        let browser = Browser::start().await;
        sign_in(&browser, &gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        browser.goto(&format!("{}/cabinet/transactions/{id}", gw.url)).await;
        browser.execute("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())").await;
        browser.type_into("#refund-amount", "40").await;
        browser.click("#refund-submit").await;
        assert!(browser.text("#error").await.contains("Reload the page"), "{backend:?}");

        let (_, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        let web = web.unwrap();
        let path = format!("/cabinet/transactions/{id}/refund");
        for csrf in [None, Some(String::new()), Some("0".repeat(64))] {
            let mut fields = vec![("amount", "40"), ("confirmed", "yes")];
            if let Some(c) = csrf.as_deref() {
                fields.push(("csrf", c));
            }
            let (status, _) = web.post(&path, &fields).await;
            assert_eq!(status, 403, "{backend:?}: csrf {csrf:?}");
        }
        // Another session's token is not this session's.
        let (_, other, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        let (status, _) =
            web.post(&path, &[("amount", "40"), ("confirmed", "yes"), ("csrf", &other.unwrap().csrf)]).await;
        assert_eq!(status, 403, "{backend:?}");
        let (status, _) = web.post("/cabinet/logout", &[]).await;
        assert_eq!(status, 403, "{backend:?}: sign-out needs it too");
        // The sign-in form: its token must match its cookie.
        let response = no_redirects()
            .post(format!("{}/cabinet/login", gw.url))
            .form(&[("email", CABINET_EMAIL), ("password", CABINET_PASSWORD), ("csrf", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403);
        assert!(set_cookie(response.headers(), "epay_cabinet").is_none());

        assert_eq!(gw.transaction_of(&id).await["amount"], 100, "{backend:?}: nothing was refunded");
        // With the token, it works.
        let (status, _) = web.post(&path, &[("amount", "40"), ("confirmed", "yes"), ("csrf", &web.csrf)]).await;
        assert_eq!(status, 303, "{backend:?}");
        assert_eq!(gw.transaction_of(&id).await["amount"], 60);
    }
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_for_fifteen_minutes() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        for attempt in 1..=4 {
            let (status, web, body) = web_sign_in(&gw, CABINET_EMAIL, "wrong-password").await;
            assert_eq!(status, 401, "{backend:?}: attempt {attempt}");
            assert!(web.is_none() && body.contains("Wrong e-mail or password") || body.contains("Неверная"));
        }
        let (status, _, body) = web_sign_in(&gw, CABINET_EMAIL, "wrong-password").await;
        assert_eq!(status, 429, "{backend:?}: the fifth failure locks");
        assert!(body.contains("locked") || body.contains("заблокирован"), "{body}");
        let (status, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        assert_eq!(status, 429, "{backend:?}: even the right password, while locked");
        assert!(web.is_none());
        // An unknown e-mail answers like a wrong password (and is counted the same way).
        let (status, _, _) = web_sign_in(&gw, "nobody@example.kz", "whatever-1").await;
        assert_eq!(status, 401);

        let advance = |seconds: i64| {
            let gw = &gw;
            async move {
                let (status, body) = gw.advance_clock(seconds).await;
                assert_eq!(status, 200, "{body}");
            }
        };
        advance(14 * 60).await;
        assert_eq!(web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await.0, 429, "{backend:?}: still locked");
        advance(61).await;
        let (status, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        assert_eq!(status, 303, "{backend:?}: unlocked after 15 minutes");
        let (status, _) = web.unwrap().get("/cabinet/overview").await;
        assert_eq!(status, 200);
        // The count starts again: one failure does not lock.
        assert_eq!(web_sign_in(&gw, CABINET_EMAIL, "wrong-password").await.0, 401);
        assert_eq!(web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await.0, 303);
        // Sessions end after 8 hours.
        let (_, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        let web = web.unwrap();
        advance(8 * 3600 + 1).await;
        let (status, _) = web.get("/cabinet/overview").await;
        assert_eq!(status, 303, "{backend:?}: expired sessions go back to sign-in");
    }
}

#[tokio::test]
async fn the_filtered_list_exports_as_csv_with_masked_cards_and_bad_filters_are_clear_errors() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (id, invoice) = charged_payment(&gw, major("12.5")).await;
        let _other = charged_payment(&gw, major("99")).await;
        let (_, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        let web = web.unwrap();

        let response = web
            .http
            .get(format!("{}/cabinet/transactions.csv?invoice={invoice}", gw.url))
            .header("cookie", &web.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{backend:?}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
        let csv = response.text().await.unwrap();
        let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
        assert_eq!(lines.len(), 2, "{backend:?}: header and one row: {csv}");
        assert!(
            lines[1].starts_with(&id) && lines[1].contains(",12.5,") && lines[1].contains("440563...5096"),
            "{csv}"
        );
        assert!(!csv.contains(VISA.0), "no PAN in clear");

        // Every filter at once still finds it; the amount range and status narrow.
        let all = format!("/cabinet/transactions?from=2026-11-01&to=2026-12-31&status=CHARGE&terminal={TERMINAL}&invoice={invoice}&card=5096&min=10&max=20&q={invoice}");
        let (status, page) = web.get(&all).await;
        assert_eq!(status, 200, "{backend:?}");
        assert!(page.contains(r#"<strong id="total">1</strong>"#), "{backend:?}");
        let (_, page) = web.get("/cabinet/transactions?min=50").await;
        assert!(page.contains(r#"<strong id="total">1</strong>"#) && !page.contains(&id), "{backend:?}");
        let (_, page) = web.get("/cabinet/transactions?q=%25").await;
        assert!(page.contains(r#"<strong id="total">0</strong>"#), "{backend:?}: % is literal, not a wildcard");

        for bad in ["from=yesterday", "status=PAID", "min=-5", "max=1.234", "page=0", "min=20&max=10"] {
            let (status, page) = web.get(&format!("/cabinet/transactions?{bad}")).await;
            assert_eq!(status, 400, "{backend:?}: {bad}");
            assert!(page.contains(r#"id="error""#), "{bad}: {page}");
            let (status, _) = web.get(&format!("/cabinet/transactions.csv?{bad}")).await;
            assert_eq!(status, 400, "{backend:?}: {bad}");
        }
        let (status, _) = web.get("/cabinet/transactions/not-a-payment").await;
        assert_eq!(status, 404);
        let (status, _) = web
            .post(
                &format!("/cabinet/transactions/{id}/refund"),
                &[("csrf", &web.csrf), ("amount", "abc"), ("confirmed", "yes")],
            )
            .await;
        assert_eq!(status, 400, "{backend:?}: a bad amount is a clear error");
        let (status, page) = web
            .post(
                &format!("/cabinet/transactions/{id}/refund"),
                &[("csrf", &web.csrf), ("amount", "500"), ("confirmed", "yes")],
            )
            .await;
        assert_eq!(status, 409, "{backend:?}: the API's rule: no more than what is left");
        assert!(page.contains("exceeds"), "{page}");
        let (status, _) = web.post(&format!("/cabinet/transactions/{id}/explode"), &[("csrf", &web.csrf)]).await;
        assert_eq!(status, 404);
        assert_eq!(gw.transaction_of(&id).await["amount"], 12.5, "nothing written");

        // The interface speaks Russian, Kazakh and English.
        for (lang, word) in [("ru", "Транзакции"), ("kk", "Транзакциялар"), ("en", "Transactions")]
        {
            let r = web
                .http
                .get(format!("{}/cabinet/transactions", gw.url))
                .header("cookie", format!("{}; epay_cabinet_lang={lang}", web.cookie))
                .send()
                .await
                .unwrap();
            assert!(r.text().await.unwrap().contains(&format!("<h1>{word}</h1>")), "{lang}");
        }
    }
}

#[tokio::test]
async fn saved_cards_are_listed_masked_per_account_and_can_be_deactivated() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("10")).await;
        let mut request = gw.payment_request(&invoice, major("10"), VISA).await;
        request.card_save = true;
        request.account_id = Some("customer-7".into());
        let paid = gw.client.cryptopay(&token, &request).await.unwrap();
        let card_id = paid.card_id.clone();
        assert!(!card_id.is_empty(), "the card was saved");

        let browser = Browser::start().await;
        sign_in(&browser, &gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        browser.click("#nav-cards").await;
        browser.type_into("#account", "customer-7").await;
        browser.click("#show").await;
        browser.wait_url("account=customer-7", 10).await;
        let table = browser.text("#cards").await;
        assert!(table.contains("4405...5096") && table.contains("customer-7"), "{backend:?}: {table}");
        assert!(!browser.source().await.contains(VISA.0));
        if backend == Backend::Sqlite {
            browser.screenshot(&screenshots_dir().join("cabinet-cards.png")).await;
        }
        browser.click(".deactivate").await;
        browser.click("#confirm").await;
        browser.wait_url("done=1", 10).await;
        browser.wait("#nothing", 5).await;
        let service = gw.service_token(TERMINAL).await;
        let cards: serde_json::Value = gw
            .http
            .get(format!("{}/cards/customer-7", gw.url))
            .bearer_auth(service)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!cards.to_string().contains(&card_id), "{backend:?}: deactivated for the API too: {cards}");
    }
}

#[tokio::test]
async fn charge_cancel_and_expiry_from_the_cabinet_follow_the_api_rules_and_show_in_the_history() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (_, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        let web = web.unwrap();
        let run = |id: String, action: &'static str, fields: Vec<(&'static str, String)>| {
            let web = &web;
            async move {
                let mut form: Vec<(&str, &str)> = vec![("csrf", &web.csrf), ("confirmed", "yes")];
                form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
                web.post(&format!("/cabinet/transactions/{id}/{action}"), &form).await
            }
        };

        // A partial charge: CHARGE with 60 of 100, the rest of the hold released.
        let charged = gw.authorized_payment(major("100")).await;
        let (status, page) = web
            .post(&format!("/cabinet/transactions/{charged}/charge"), &[("csrf", &web.csrf), ("amount", "60")])
            .await;
        assert_eq!(status, 200, "{backend:?}: the confirmation first");
        assert!(page.contains(r#"id="question""#) && page.contains("60 KZT"), "{page}");
        assert_eq!(gw.transaction_of(&charged).await["statusName"], "AUTH", "nothing happens before confirming");
        assert_eq!(run(charged.clone(), "charge", vec![("amount", "60".into())]).await.0, 303, "{backend:?}");
        let t = gw.transaction_of(&charged).await;
        assert_eq!((t["statusName"].as_str(), t["amount"].as_f64()), (Some("CHARGE"), Some(60.0)), "{backend:?}");
        let (status, page) = run(charged.clone(), "cancel", vec![]).await;
        assert_eq!(status, 409, "{backend:?}: a charged payment cannot be cancelled");
        assert!(page.contains("AUTH status"), "{page}");
        // A refund below 10 tenge that is not all that is left: the API's minimum.
        let (status, page) = run(charged.clone(), "refund", vec![("amount", "5".into())]).await;
        assert_eq!(status, 400, "{backend:?}");
        assert!(page.contains("at least 10"), "{page}");
        // The same confirmation posted twice refunds once (its one-time externalID).
        let twice = vec![("amount", "20".to_string()), ("external_id", "cabinet-test-double".to_string())];
        assert_eq!(run(charged.clone(), "refund", twice.clone()).await.0, 303);
        assert_eq!(run(charged.clone(), "refund", twice).await.0, 303);
        assert_eq!(gw.transaction_of(&charged).await["amount"], 40, "{backend:?}: refunded once");

        // Cancel.
        let cancelled = gw.authorized_payment(major("30")).await;
        assert_eq!(run(cancelled.clone(), "cancel", vec![]).await.0, 303, "{backend:?}");
        assert_eq!(gw.transaction_of(&cancelled).await["statusName"], "CANCEL");

        // Expiry after the hold period, on the sandbox clock.
        let expiring = gw.authorized_payment(major("25")).await;
        let (status, advanced) = gw.advance_clock(7 * 86_400 + 60).await;
        assert_eq!(status, 200, "{advanced}");
        assert_eq!(gw.transaction_of(&expiring).await["statusName"], "CANCEL_OLD", "{backend:?}");

        // Seven days later the session has ended too: sign in again.
        let (_, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        let web = web.unwrap();
        let history = |id: String| {
            let web = &web;
            async move {
                let (_, page) = web.get(&format!("/cabinet/transactions/{id}")).await;
                let start = page.find(r#"<table id="history">"#).unwrap();
                let table = &page[start..start + page[start..].find("</table>").unwrap()];
                table
                    .split("<tr>")
                    .skip(2)
                    .map(|row| {
                        let cells: Vec<&str> = row
                            .split("<td")
                            .skip(2)
                            .map(|c| c.split('>').nth(1).unwrap_or("").split('<').next().unwrap_or(""))
                            .collect();
                        cells.join(" ")
                    })
                    .collect::<Vec<String>>()
            }
        };
        let h = history(charged.clone()).await;
        assert_eq!(h.len(), 3, "{backend:?}: {h:?}");
        // In words (Russian, the default), the step's code next to them for support.
        assert!(h[0].starts_with("Создание") && h[1].starts_with("Списание") && h[2].starts_with("Возврат"), "{h:?}");
        let h = history(cancelled).await;
        assert!(h.len() == 2 && h[1].starts_with("Отмена"), "{backend:?}: {h:?}");
        let h = history(expiring).await;
        assert!(h.len() == 2 && h[1].starts_with("Истечение холда"), "{backend:?}: {h:?}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn an_operator_creates_a_cabinet_user_with_the_epay_command() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let create = |email: &str, password: Option<&str>, stdin: &str| {
            use std::io::Write;
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_epay"));
            command
                .args(["cabinet", "user", "create", "--client-id", CLIENT, "--email", email, "--data-dir"])
                .arg(&gw.dir)
                .env("DATABASE_URL", &gw.database_url)
                .env_remove("EPAY_CONFIG")
                .env_remove("EPAY_CABINET_PASSWORD")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            if let Some(p) = password {
                command.env("EPAY_CABINET_PASSWORD", p);
            }
            let mut child = command.spawn().unwrap();
            child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
            )
        };
        let (ok, out) = create("Ops@Shop.kz", Some("ops-password-1"), "");
        assert!(ok, "{backend:?}: {out}");
        assert!(out.contains("ops@shop.kz"), "{out}");
        let (ok, out) = create("stdin@shop.kz", None, "stdin-password-1\n");
        assert!(ok, "{backend:?}: {out}");
        let (ok, out) = create("ops@shop.kz", Some("another-pass-1"), "");
        assert!(!ok && out.contains("already exists"), "{backend:?}: {out}");
        let (ok, out) = create("short@shop.kz", Some("short"), "");
        assert!(!ok && out.contains("8 to 256"), "{backend:?}: {out}");

        assert_eq!(web_sign_in(&gw, "ops@shop.kz", "ops-password-1").await.0, 303, "{backend:?}");
        assert_eq!(web_sign_in(&gw, "STDIN@shop.kz", "stdin-password-1").await.0, 303, "{backend:?}");
        let store = gw.store().await;
        let user = store.cabinet_user_by_email("ops@shop.kz").await.unwrap().unwrap();
        assert!(
            user.password_hash.expose().starts_with("$argon2id$")
                && !user.password_hash.expose().contains("ops-password-1")
        );
    }
}

#[tokio::test]
async fn a_transfer_shows_its_receiver_and_fee_and_offers_no_operations() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let p2p = epay_server::runtime::seed::P2P_TERMINAL;
        let order = invoice();
        let token = gw
            .client
            .token(&TokenRequest {
                scope: "transfer".into(),
                ..TokenRequest::payment(CLIENT, SECRET, &order, major("100"), "KZT", p2p)
            })
            .await
            .unwrap()
            .access_token;
        let body = serde_json::json!({
            "order": {"amount": 100, "currency": "KZT", "description": "p2p", "id": order, "terminalId": p2p},
            "card": {
                "sender": {"transferType": "TYPEPAN", "cardCred": VISA.0, "cvc": VISA.2, "name": "ARMAN ALI",
                           "expire": {"month": &VISA.1[..2], "year": &VISA.1[2..]}, "save": false},
                "receiver": {"transferType": "TYPEPAN", "cardCred": MASTERCARD.0, "save": false}
            }
        });
        let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
        assert_eq!(status, 200, "{backend:?}: {answer}");
        let id = answer["id"].as_str().unwrap().to_string();

        let (_, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        let web = web.unwrap();
        let (status, page) = web.get(&format!("/cabinet/transactions/{id}")).await;
        assert_eq!(status, 200, "{backend:?}");
        assert!(page.contains(r#"<dd id="d-receiver">552204...6736 MasterCard</dd>"#), "{backend:?}: {page}");
        assert!(page.contains(r#"<dd id="d-fee">95 KZT</dd>"#), "{backend:?}: the P2P terminal's minimum fee");
        assert!(!page.contains("refund-submit") && !page.contains("charge-submit"), "transfers have no operations");
        assert!(!page.contains(VISA.0) && !page.contains(MASTERCARD.0), "no PAN in clear");
        let (status, page) =
            web.post(&format!("/cabinet/transactions/{id}/refund"), &[("csrf", &web.csrf), ("confirmed", "yes")]).await;
        assert_eq!(status, 409, "{backend:?}: the API's rule");
        assert!(page.contains("P2P transfer"), "{page}");
    }
}

#[tokio::test]
async fn the_overview_shows_volumes_per_currency() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let one_step = epay_server::runtime::seed::ONE_STEP_TERMINAL;
        for (amount, currency) in
            [(major("100"), "KZT"), (major("12.34"), "USD"), (major("10.5"), "EUR"), (major("1"), "USD")]
        {
            let invoice = invoice();
            let request = TokenRequest::payment(CLIENT, SECRET, &invoice, amount, currency, one_step);
            let token = gw.client.token(&request).await.unwrap().access_token;
            let payment = PaymentRequest {
                currency: currency.into(),
                ..PaymentRequest::new(&invoice, amount, gw.cryptogram(VISA, one_step).await)
            };
            assert_eq!(gw.client.cryptopay(&token, &payment).await.unwrap().status, "CHARGE");
        }
        let (_, Some(web), _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await else {
            panic!("{backend:?}: sign-in failed")
        };
        let (status, page) = web.get("/cabinet/overview").await;
        assert_eq!(status, 200, "{backend:?}");
        // Each currency on its own line; never 100 + 13.34 + 10.5 added into one number. (In
        // Russian, the cabinet's default: a decimal comma.)
        for volume in ["100 KZT", "13,34 USD", "10,50 EUR"] {
            assert!(page.contains(volume), "{backend:?}: {volume} missing from the overview");
        }
        for chart in ["chart-volume-KZT", "chart-volume-USD", "chart-volume-EUR", "daily-98120004-USD"] {
            assert!(page.contains(&format!("id=\"{chart}\"")), "{backend:?}: no #{chart}");
        }
        assert!(!page.contains("123,84") && !page.contains("123.84"), "{backend:?}: currencies were added together");
    }
}

#[tokio::test]
async fn every_attempt_at_an_invoice_stays_in_the_cabinet_and_the_terminal_sets_how_many() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_CALLBACK_POLL_MS", "50")]).await;
        let receiver = Receiver::start().await;
        let invoice = invoice();
        let pay = |card: (&'static str, &'static str, &'static str)| {
            let (gw, invoice, post_link) = (&gw, invoice.clone(), format!("{}/ok", receiver.url));
            async move {
                let request = TokenRequest {
                    post_link: Some(post_link),
                    ..TokenRequest::payment(CLIENT, SECRET, &invoice, major("100"), "KZT", TERMINAL)
                };
                let token = gw.client.token(&request).await.unwrap().access_token;
                let body = serde_json::to_string(&gw.payment_request(&invoice, major("100"), card).await).unwrap();
                gw.post_json("/payment/cryptopay", Some(&token), &body).await
            }
        };
        let (status, declined) = pay(("4000000000000002", "1230", "123")).await;
        assert_eq!(status, 400, "{backend:?}: {declined}");
        let (status, paid) = pay(VISA).await;
        assert_eq!(status, 200, "{backend:?}: {paid}");
        let (declined, paid) = (declined["id"].as_str().unwrap(), paid["id"].as_str().unwrap());
        assert_eq!(receiver.wait_for("ok", 2, Duration::from_secs(10)).await.len(), 2, "{backend:?}");

        let (_, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        let web = web.expect("signed in");
        // The list finds both attempts under the invoice.
        let (_, list) = web.get(&format!("/cabinet/transactions?invoice={invoice}")).await;
        assert!(list.contains(r#"<strong id="total">2</strong>"#), "{backend:?}: {list}");
        assert!(list.contains(declined) && list.contains(paid), "{backend:?}");
        // Each detail page says which attempt it is and lists the others.
        let (_, detail) = web.get(&format!("/cabinet/transactions/{paid}")).await;
        assert!(detail.contains(r#"<dd id="d-attempt">2</dd>"#), "{backend:?}: {detail}");
        assert!(detail.contains(&format!(r#"<tr data-id="{declined}">"#)), "{backend:?}: {detail}");
        assert!(detail.contains(&format!(r#"<tr data-id="{paid}" class="current">"#)), "{backend:?}");
        // The decline keeps its own page, with its failure callback in the log.
        let (_, earlier) = web.get(&format!("/cabinet/transactions/{declined}")).await;
        assert!(earlier.contains(r#"<dd id="d-attempt">1</dd>"#) && earlier.contains("(466)"), "{backend:?}");
        assert!(earlier.contains(r#"<div class="callback" data-event="msg_"#), "{backend:?}: {earlier}");

        // The terminal settings show the limit and change it; a bad value changes nothing.
        let (_, terminals) = web.get("/cabinet/terminals").await;
        assert!(terminals
            .contains(&format!(r#"id="attempts-{TERMINAL}" name="max_attempts" inputmode="numeric" value="3""#)));
        let hours = (epay_server::runtime::seed::DEFAULT_HOLD_PERIOD_SECS / 3600).to_string();
        let form = |attempts: &'static str| {
            vec![
                ("csrf", web.csrf.clone()),
                ("mode", "two".into()),
                ("hold_hours", hours.clone()),
                ("max_attempts", attempts.into()),
            ]
        };
        let path = format!("/cabinet/terminals/{TERMINAL}");
        let post = |fields: Vec<(&'static str, String)>| {
            let (web, path) = (&web, path.clone());
            async move {
                let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                web.post(&path, &fields).await
            }
        };
        let (status, _) = post(form("5")).await;
        assert_eq!(status, 303, "{backend:?}");
        let store = gw.store().await;
        assert_eq!(store.terminal(TERMINAL).await.unwrap().unwrap().max_attempts.get(), 5, "{backend:?}");
        for bad in ["0", "11", "many"] {
            let (status, page) = post(form(bad)).await;
            assert_eq!(status, 400, "{backend:?} {bad}: {page}");
        }
        assert_eq!(store.terminal(TERMINAL).await.unwrap().unwrap().max_attempts.get(), 5, "{backend:?}");
    }
}

/// Text a shopper or merchant typed (a description, a payer name) is text on the
/// cabinet's pages: the list, the detail page and the saved cards, never markup.
#[tokio::test]
async fn hostile_text_from_a_payment_is_shown_as_text() {
    const XSS: &str = "<script>alert(1)</script>";
    const ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("10")).await;
        let mut request = gw.payment_request(&invoice, major("10"), VISA).await;
        request.description = XSS.into();
        request.name = XSS.into();
        request.card_save = true;
        request.account_id = Some("customer-xss".into());
        let paid = gw.client.cryptopay(&token, &request).await.unwrap();
        let (_, Some(web), _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await else {
            panic!("{backend:?}: sign-in failed")
        };
        for path in [
            format!("/cabinet/transactions?invoice={invoice}"),
            format!("/cabinet/transactions/{}", paid.id),
            "/cabinet/cards?account=customer-xss".to_string(),
        ] {
            let (status, page) = web.get(&path).await;
            assert_eq!(status, 200, "{backend:?} {path}: {page}");
            assert!(!page.contains("<script"), "{backend:?} {path}: {page}");
            assert!(page.contains(ESCAPED), "{backend:?} {path}: the text is shown, escaped: {page}");
        }
    }
}

/// A refund larger than what is left is refused on the confirmation step, in the user's words,
/// with the menu still there, and nothing is written; "1000,50" and "1 000,50" are amounts.
#[tokio::test]
async fn a_refund_larger_than_what_is_left_is_refused_before_confirming_and_amounts_take_a_comma() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (id, _) = charged_payment(&gw, major("2000")).await;
        let (_, Some(web), _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await else {
            panic!("{backend:?}: sign-in failed")
        };
        let refund = format!("/cabinet/transactions/{id}/refund");
        // Russian (the default): refused at the confirmation step, before any question.
        let (status, page) = web.post(&refund, &[("csrf", &web.csrf), ("amount", "2500")]).await;
        assert_eq!(status, 409, "{backend:?}: {page}");
        assert!(page.contains("Сумма возврата больше, чем можно вернуть: 2\u{a0}000 KZT"), "{backend:?}: {page}");
        assert!(page.contains(r#"id="nav-transactions""#) && page.contains(r#"id="sign-out""#), "the menu stays");
        assert!(!page.contains(r#"id="question""#) && !page.contains("exceeds what is left"), "{page}");
        assert_eq!(gw.transaction_of(&id).await["amount"], 2000, "{backend:?}: nothing written");
        // Not a number: a translated message, the gateway's words as a small hint.
        let (status, page) = web.post(&refund, &[("csrf", &web.csrf), ("amount", "12,3.4")]).await;
        assert_eq!(status, 400, "{backend:?}");
        assert!(page.contains("Сумма указана неверно") && page.contains(r#"<small class="code">"#), "{page}");
        // A bad filter date keeps the menu and names the field in Russian.
        let (status, page) = web.get("/cabinet/transactions?from=yesterday").await;
        assert_eq!(status, 400, "{backend:?}");
        assert!(page.contains("Проверьте поле: С даты") && page.contains(r#"id="nav-overview""#), "{page}");

        // A decimal comma, and a space (plain or no-break) between the thousands.
        for typed in ["1000,50", "1 000,50", "1\u{a0}000,50"] {
            let (status, page) = web.post(&refund, &[("csrf", &web.csrf), ("amount", typed)]).await;
            assert_eq!(status, 200, "{backend:?} {typed:?}: {page}");
            assert!(page.contains("Вернуть: 1\u{a0}000,50 KZT"), "{backend:?} {typed:?}: {page}");
            assert!(page.contains(r#"<input type="hidden" name="amount" value="1000.5">"#), "{page}");
            assert!(page.contains(r#"<button id="confirm" class="danger" type="submit">"#), "destructive: {page}");
        }
        let (status, _) = web
            .post(&refund, &[("csrf", &web.csrf), ("amount", "1000.5"), ("confirmed", "yes"), ("external_id", "cab-1")])
            .await;
        assert_eq!(status, 303, "{backend:?}");
        assert_eq!(gw.transaction_of(&id).await["amount"], 999.5, "{backend:?}: 1000.50 refunded");
        // What is left now (999.50) bounds the next refund, read from the store.
        let (status, page) = web.post(&refund, &[("csrf", &web.csrf), ("amount", "1000")]).await;
        assert_eq!(status, 409, "{backend:?}");
        assert!(page.contains("999,50 KZT"), "{page}");
        gw.assert_ledger_sound();

        // The same in Chromium, in English.
        let browser = Browser::start().await;
        sign_in(&browser, &gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        browser.goto(&format!("{}/cabinet/transactions/{id}", gw.url)).await;
        browser.type_into("#refund-amount", "5000").await;
        browser.click("#refund-submit").await;
        let alert = browser.text("#alert").await;
        assert_eq!(alert, "The refund exceeds what is left to refund: 999.50 KZT", "{backend:?}");
        assert!(browser.find("#nav-transactions").await.is_some() && browser.find("#question").await.is_none());
        if backend == Backend::Sqlite {
            browser.screenshot(&screenshots_dir().join("cabinet-refund-refused.png")).await;
        }
        assert_eq!(gw.transaction_of(&id).await["amount"], 999.5, "{backend:?}: nothing written");
    }
}

/// Words, not codes: statuses, kinds, steps and ledger kinds in the user's language (the code
/// a small hint); numbers and dates as the language writes them; destructive buttons marked;
/// the overview fits a phone and the ledger fits a desktop without sideways scrolling.
#[tokio::test]
async fn the_cabinet_shows_words_and_local_numbers_and_fits_a_phone() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (id, _) = charged_payment(&gw, major("1000.5")).await;
        let held = gw.authorized_payment(major("12345.67")).await;
        let (_, Some(web), _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await else {
            panic!("{backend:?}: sign-in failed")
        };
        let in_lang = |lang: &'static str, path: String| {
            let web = &web;
            async move {
                let r = web
                    .http
                    .get(format!("{}{path}", web.base))
                    .header("cookie", format!("{}; epay_cabinet_lang={lang}", web.cookie))
                    .send()
                    .await
                    .unwrap();
                r.text().await.unwrap()
            }
        };
        let en = in_lang("en", format!("/cabinet/transactions/{held}")).await;
        assert!(en.contains(r#"<dd id="status">Held <small class="code">AUTH</small></dd>"#), "{backend:?}: {en}");
        assert!(en.contains(r#"<dd id="d-kind">Card payment <small class="code">payment</small></dd>"#), "{en}");
        assert!(en.contains(r#"<dd id="d-amount">12,345.67 KZT</dd>"#), "{en}");
        // The codes only as hints: never the primary text of a fact or a badge.
        assert!(!en.contains("secure: Y") && !en.contains(r#"<dd id="status">AUTH"#), "{en}");
        assert!(!en.contains(r#"<dd id="d-kind">payment"#) && !en.contains(r#"">AUTH</span>"#), "{en}");
        assert!(en.contains(r#"<button id="cancel-submit" class="danger" type="submit">"#), "{en}");
        assert!(en.contains(r#"<button id="charge-submit" type="submit">"#), "a charge is not destructive");
        let created = en.split(r#"<dd id="d-created"><time datetime=""#).nth(1).expect("a <time> element");
        assert!(created.starts_with("20") && created.contains("+05:00\">"), "ISO in the attribute: {created}");
        assert!(created.contains(" 20") && created.contains(", "), "a human date: {created}");
        let ru = in_lang("ru", format!("/cabinet/transactions/{held}")).await;
        assert!(
            ru.contains(r#"<dd id="d-amount">12&#160;345,67 KZT</dd>"#)
                || ru.contains("<dd id=\"d-amount\">12\u{a0}345,67 KZT</dd>"),
            "{backend:?}: {ru}"
        );
        assert!(ru.contains(r#"<dd id="status">Холд <small class="code">AUTH</small></dd>"#), "{ru}");
        let kk = in_lang("kk", "/cabinet/transactions".to_string()).await;
        assert!(kk.contains(r#"title="CHARGE">Төленді</span>"#), "{backend:?}: {kk}");
        let overview = in_lang("ru", "/cabinet/overview".to_string()).await;
        assert!(
            overview.contains("\u{a0}%</td>") || overview.contains("&#160;%</td>"),
            "{backend:?}: a rate as Russian writes it"
        );
        let overview = in_lang("en", "/cabinet/overview".to_string()).await;
        assert!(overview.contains(".0%</td>") && !overview.contains("\u{a0}%"), "{backend:?}: {overview}");
        for (path, button) in [
            ("/cabinet/credentials", r#"<button id="rotate-client" class="danger" type="submit">"#),
            ("/cabinet/credentials", r#"<button id="rotate-webhook" class="danger" type="submit">"#),
        ] {
            assert!(in_lang("en", path.to_string()).await.contains(button), "{backend:?}: {button}");
        }

        let browser = Browser::start().await;
        sign_in(&browser, &gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        // The detail page at desktop width: the ledger panel and the refunds section fit.
        browser.goto(&format!("{}/cabinet/transactions/{id}", gw.url)).await;
        browser.type_into("#refund-amount", "100,25").await;
        browser.click("#refund-submit").await;
        assert!(browser.text("#question").await.contains("100.25 KZT"), "{backend:?}");
        browser.click("#confirm").await;
        browser.wait_url("done=refund", 10).await;
        assert!(browser.text("#refunds").await.contains("100.25 KZT"), "{backend:?}: the refunds section");
        assert_eq!(browser.text("#refunds-panel h2").await, "Refunds");
        let fits =
            |css: &str| format!("const e = document.querySelector('{css}'); return [e.scrollWidth, e.clientWidth];");
        let ledger = browser.execute(&fits("#ledger-panel")).await;
        assert!(ledger[0].as_i64() <= ledger[1].as_i64(), "{backend:?}: the ledger scrolls sideways: {ledger}");
        let page = browser.execute("return [document.documentElement.scrollWidth, window.innerWidth]").await;
        assert!(page[0].as_i64() <= page[1].as_i64(), "{backend:?}: {page}");
        // The overview on a phone: no sideways scroll of the page.
        browser.set_viewport_size(390, 844).await;
        browser.goto(&format!("{}/cabinet/overview", gw.url)).await;
        browser.wait("#chart-count", 5).await;
        let width = browser.execute("return [document.documentElement.scrollWidth, window.innerWidth]").await;
        assert!(
            width[0].as_i64().unwrap() <= width[1].as_i64().unwrap() && width[1].as_i64().unwrap() <= 400,
            "{backend:?}: the page is wider than the phone: {width}"
        );
        if backend == Backend::Sqlite {
            browser.screenshot(&screenshots_dir().join("cabinet-overview-phone.png")).await;
        }
    }
}

/// A subscription read through the API with a fresh service token: its `status`.
async fn subscription_status(gw: &Gateway, id: &str) -> String {
    let service = gw.service_token(epay_server::runtime::seed::ONE_STEP_TERMINAL).await;
    let response =
        gw.http.get(format!("{}/recurrent/subscriptions/{id}", gw.url)).bearer_auth(service).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let read: serde_json::Value = response.json().await.unwrap();
    read["status"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_subscription_is_paused_resumed_and_cancelled_from_the_cabinet_and_the_card_shows_its_agreement() {
    let one_step = epay_server::runtime::seed::ONE_STEP_TERMINAL;
    for backend in backends() {
        let b = format!("{backend:?}");
        let gw = Gateway::start(backend).await;
        // A payment that saves the card with the holder's recurrent agreement, then a monthly
        // subscription on it, through the API.
        let invoice = invoice();
        let token = gw.token_on(&invoice, major("1500.50"), one_step).await;
        let mut request = PaymentRequest::new(&invoice, major("1500.50"), gw.cryptogram(VISA, one_step).await);
        request.card_save = true;
        request.recurrent = true;
        request.account_id = Some("subscriber-1".into());
        let paid = gw.client.cryptopay(&token, &request).await.unwrap();
        let card_id = paid.card_id.clone();
        let service = gw.service_token(one_step).await;
        let body = serde_json::json!({"transactionId": paid.id, "paymentFrequency": "MONTHLY"}).to_string();
        let (status, s) = gw.post_json("/recurrent/subscribe", Some(&service), &body).await;
        assert_eq!(status, 200, "{b}: {s}");
        let id = s["id"].as_str().unwrap().to_string();

        // The list: amount as English writes it, frequency and status in words, the codes as hints.
        let browser = Browser::start().await;
        sign_in(&browser, &gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        browser.click("#nav-subscriptions").await;
        browser.wait_url("/cabinet/subscriptions", 10).await;
        let row = browser.text(&format!("#sub-{id}")).await;
        for says in [invoice.as_str(), "subscriber-1", "1,500.50 KZT", "Monthly", "Active"] {
            assert!(row.contains(says), "{b}: {says} in {row}");
        }
        browser.select("#f-status", "PAUSED").await;
        browser.click("#filter").await;
        browser.wait_url("status=PAUSED", 10).await;
        browser.wait("#nothing", 5).await;

        // Pause, resume: the API sees each change.
        browser.goto(&format!("{}/cabinet/subscriptions/{id}", gw.url)).await;
        assert!(browser.text("#original").await.contains(&paid.id), "{b}: the original payment is linked");
        browser.click("#pause").await;
        browser.wait_url("done=pause", 10).await;
        assert!(browser.text("#sub-status").await.contains("Paused"), "{b}");
        assert_eq!(subscription_status(&gw, &id).await, "PAUSED", "{b}");
        browser.click("#resume").await;
        browser.wait_url("done=resume", 10).await;
        assert_eq!(subscription_status(&gw, &id).await, "ACTIVE", "{b}");
        // Cancel asks first, with a destructive button; going back changes nothing.
        browser.click("#cancel").await;
        browser.wait("#confirm-panel", 10).await;
        assert_eq!(browser.attribute("#confirm", "class").await.as_deref(), Some("danger"), "{b}");
        browser.click("#back").await;
        browser.wait("#pause", 10).await;
        assert_eq!(subscription_status(&gw, &id).await, "ACTIVE", "{b}");
        browser.click("#cancel").await;
        browser.click("#confirm").await;
        browser.wait_url("done=cancel", 10).await;
        assert_eq!(subscription_status(&gw, &id).await, "CANCELLED", "{b}");
        assert!(browser.find("#resume").await.is_none() && browser.find("#cancel").await.is_none(), "{b}");

        // The saved card: its agreement in the list and in its history.
        browser.goto(&format!("{}/cabinet/cards?account=subscriber-1", gw.url)).await;
        assert_eq!(browser.text(&format!("tr[data-card='{card_id}'] .recurrent")).await, "yes", "{b}");
        browser.click(&format!("tr[data-card='{card_id}'] .history")).await;
        browser.wait_url(&format!("/cabinet/cards/{card_id}"), 10).await;
        assert_eq!(browser.text("#recurrent").await, "yes", "{b}");
        assert!(browser.text("#event-saved").await.contains("Card saved"), "{b}");
        let agreed = browser.text("#event-recurrent_agreed").await;
        assert!(agreed.contains("Recurrent agreement recorded") && agreed.contains(&paid.id), "{b}: {agreed}");

        // Over HTTP: a move the service refuses is a clear error and changes nothing; an unknown
        // action is not found.
        let (_, web, _) = web_sign_in(&gw, CABINET_EMAIL, CABINET_PASSWORD).await;
        let web = web.unwrap();
        let (status, page) = web.post(&format!("/cabinet/subscriptions/{id}/resume"), &[("csrf", &web.csrf)]).await;
        assert_eq!(status, 400, "{b}: {page}");
        assert!(page.contains("CANCELLED"), "{b}: {page}");
        let (status, _) = web.post(&format!("/cabinet/subscriptions/{id}/explode"), &[("csrf", &web.csrf)]).await;
        assert_eq!(status, 404, "{b}");
        let (status, _) = web.post(&format!("/cabinet/subscriptions/{id}/pause"), &[]).await;
        assert_eq!(status, 403, "{b}: without the CSRF token");

        // Another merchant: not found, and nothing changes.
        gw.other_merchant_with_owner().await;
        let (_, theirs, _) = web_sign_in(&gw, "owner@other.kz", "other-pass-1").await;
        let theirs = theirs.unwrap();
        let (status, page) = theirs.get(&format!("/cabinet/subscriptions/{id}")).await;
        assert_eq!(status, 404, "{b}");
        assert!(!page.contains(&invoice), "{b}");
        let (_, list) = theirs.get("/cabinet/subscriptions").await;
        assert!(!list.contains(&id) && list.contains(r#"id="nothing""#), "{b}");
        for action in ["pause", "cancel"] {
            let (status, _) = theirs
                .post(&format!("/cabinet/subscriptions/{id}/{action}"), &[("csrf", &theirs.csrf), ("confirmed", "yes")])
                .await;
            assert_eq!(status, 404, "{b}: {action}");
        }
        let (status, page) = theirs.get(&format!("/cabinet/cards/{card_id}")).await;
        assert_eq!(status, 404, "{b}");
        assert!(!page.contains("subscriber-1"), "{b}");
        assert_eq!(subscription_status(&gw, &id).await, "CANCELLED", "{b}");
    }
}
