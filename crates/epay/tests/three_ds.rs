//! 3-D Secure (seed 003, facts §7): the 3D answer, the ACS challenge, confirm, failures, expiry,
//! and the seed-003 merchant page and the hosted page in headless Chromium.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::browser::Browser;
use common::*;
use epay_client::PaymentRequest;
use serde_json::{json, Value};

/// A transfer terminal that requires 3-D Secure (fee 1%, at least 95, like the seeded P2P one).
const SECURE_P2P: &str = "3d5ecc3d-0000-4000-8000-000000000004";

/// Seed 003's "3D" response, key for key.
const THREE_D_KEYS: &[&str] = &[
    "id",
    "accountId",
    "amount",
    "amountBonus",
    "currency",
    "description",
    "email",
    "invoiceID",
    "language",
    "phone",
    "reference",
    "intReference",
    "secure3D",
    "cardID",
    "fee",
    "code",
    "status",
];

async fn secure_gateway(backend: Backend, env: &[(&str, &str)]) -> Gateway {
    let gw = Gateway::start_with(backend, env).await;
    let (merchant, _) = epay_server::runtime::seed::test_merchant();
    gw.store()
        .await
        .upsert_merchant(
            &merchant,
            &[
                secure_terminal(&merchant.id),
                epay_store::Terminal {
                    id: SECURE_P2P.into(),
                    merchant_id: merchant.id.clone(),
                    pos_id: "98120444".into(),
                    name: "3-D Secure transfers".into(),
                    three_ds: true,
                    transfers_allowed: true,
                    fee_percent_bp: 100,
                    fee_min_minor: 9_500,
                    // The transfer tests name their postLink in the body.
                    callback_origins: vec!["https://merchant.example".into()],
                    ..Default::default()
                },
            ],
        )
        .await
        .unwrap();
    gw
}

/// Starts a 3D payment; returns (token, invoice, the 3D answer).
async fn start(gw: &Gateway, card: (&str, &str, &str)) -> (String, String, Value) {
    let invoice = invoice();
    let token = gw.token_on(&invoice, major("100"), SECURE_TERMINAL).await;
    let mut request = PaymentRequest::new(&invoice, major("100"), gw.cryptogram(card, SECURE_TERMINAL).await);
    request.card_save = true;
    request.account_id = Some("secure-user".into());
    let (status, body) =
        gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    (token, invoice, body)
}

fn hidden(html: &str, name: &str) -> String {
    hidden_input(html, name)
}

/// Plays the shopper at the ACS over plain HTTP: posts seed 003's form, answers the challenge
/// (a wrong code as often as the ACS takes one: its last try fails the challenge).
/// Returns the PaRes the ACS sends back to TermUrl.
async fn answer_challenge(gw: &Gateway, three_d: &Value, code: &str, action: &str) -> String {
    let s = &three_d["secure3D"];
    let form = [
        ("PaReq", s["paReq"].as_str().unwrap()),
        ("MD", s["md"].as_str().unwrap()),
        ("TermUrl", "https://merchantsite.com/3dRes"),
    ];
    let page = gw.http.post(s["action"].as_str().unwrap()).form(&form).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="otp""#), "{html}");
    let answer = [
        ("acs_id", hidden(&html, "acs_id")),
        ("MD", hidden(&html, "MD")),
        ("TermUrl", hidden(&html, "TermUrl")),
        ("code", code.to_string()),
        ("action", action.to_string()),
    ];
    let back = answer_acs(gw, &answer).await;
    assert!(back.contains(r#"action="https://merchantsite.com/3dRes""#), "{back}");
    hidden(&back, "PaRes")
}

async fn confirm(gw: &Gateway, token: &str, md: &str, pa_res: &str) -> (u16, Value) {
    gw.post_json("/payment/cryptopay/confirm", Some(token), &json!({"PaRes": pa_res, "MD": md}).to_string()).await
}

#[tokio::test]
async fn api_flow_three_d_then_challenge_then_confirm() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[]).await;
        let (token, invoice, three_d) = start(&gw, ENROLLED).await;
        assert_eq!(keys(&three_d), sorted(THREE_D_KEYS), "{backend:?}: {three_d}");
        assert_eq!(three_d["status"], "3D");
        assert_eq!(three_d["code"], 0);
        assert_eq!(three_d["invoiceID"], "", "seed 003 leaves it empty");
        let s = &three_d["secure3D"];
        let creq: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s["paReq"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!((creq["messageType"].as_str(), creq["messageVersion"].as_str()), (Some("CReq"), Some("2.2.0")));
        assert_eq!(creq["challengeWindowSize"], "05");
        let md = String::from_utf8(STANDARD.decode(s["md"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(md, creq["threeDSServerTransID"].as_str().unwrap(), "MD is base64 of threeDSServerTransID");
        assert_eq!(s["action"], format!("{}/acs/challenge", gw.url));
        // Waiting in 3D: no money moved yet.
        let store = gw.store().await;
        let id = three_d["id"].as_str().unwrap();
        assert!(store.ledger_transfers_of(id).await.unwrap().is_empty());
        assert_eq!(gw.transaction_of(id).await["statusName"], "3D");

        let pa_res = answer_challenge(&gw, &three_d, "123456", "submit").await;
        let (status, done) = confirm(&gw, &token, s["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!(status, 200, "{backend:?}: {done}");
        assert_eq!(done["status"], "CHARGE");
        assert!(!done["cardID"].as_str().unwrap().is_empty(), "cardSave after 3-D Secure");
        let tx = gw.transaction_of(id).await;
        assert_eq!(
            (tx["statusName"].as_str(), tx["secure"].clone(), tx["secureDetails"].as_str()),
            (Some("CHARGE"), json!(true), Some("Y"))
        );
        assert_eq!(tx["invoiceID"], invoice.as_str());
        assert_eq!(store.ledger_transfers_of(id).await.unwrap().len(), 1);

        // A replayed confirm changes nothing.
        let (status, again) = confirm(&gw, &token, s["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!(status, 409, "{again}");
        assert_eq!(store.ledger_transfers_of(id).await.unwrap().len(), 1);
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn seed_003_answers_3d_out_of_the_box_on_the_seeded_three_ds_terminal() {
    use epay_server::runtime::seed::THREE_DS_TERMINAL;
    for backend in backends() {
        // A fresh sandbox gateway and nothing else: no database change, no CLI.
        let gw = Gateway::start(backend).await;
        let order = invoice();
        let token = gw.token_on(&order, major("100"), THREE_DS_TERMINAL).await;
        let request = PaymentRequest::new(&order, major("100"), gw.cryptogram(ENROLLED, THREE_DS_TERMINAL).await);
        let (status, three_d) =
            gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
        assert_eq!(status, 200, "{backend:?}: {three_d}");
        assert_eq!(keys(&three_d), sorted(THREE_D_KEYS), "{backend:?}: {three_d}");
        assert_eq!(three_d["status"], "3D", "{backend:?}: {three_d}");
        assert_eq!(three_d["secure3D"]["action"], format!("{}/acs/challenge", gw.url));
        // The sandbox code passes; the terminal is two-step like the payments terminal.
        let pa_res = answer_challenge(&gw, &three_d, "123456", "submit").await;
        let (status, done) = confirm(&gw, &token, three_d["secure3D"]["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!((status, done["status"].as_str()), (200, Some("AUTH")), "{backend:?}: {done}");

        // Seed 003 itself, a saved-card payment: the enrolled card, saved by a verification
        // (amount 0; challenged too on this terminal), answers 3D with its card id.
        let verify = invoice();
        let token = gw.token_on(&verify, Amount::ZERO, THREE_DS_TERMINAL).await;
        let mut request = PaymentRequest::new(&verify, Amount::ZERO, gw.cryptogram(ENROLLED, THREE_DS_TERMINAL).await);
        request.card_save = true;
        request.account_id = Some("uuid000001".into());
        let (_, three_d) =
            gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
        assert_eq!(three_d["status"], "3D", "{backend:?}: {three_d}");
        let pa_res = answer_challenge(&gw, &three_d, "123456", "submit").await;
        let (status, verified) = confirm(&gw, &token, three_d["secure3D"]["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!((status, verified["status"].as_str()), (200, Some("VERIFIED")), "{backend:?}: {verified}");
        let card_id = verified["cardID"].as_str().unwrap().to_string();
        let order = invoice();
        let token = gw.token_on(&order, major("100"), THREE_DS_TERMINAL).await;
        let saved =
            epay_client::SavedCardPaymentRequest::new(&order, major("100"), THREE_DS_TERMINAL, "uuid000001", &card_id);
        let (status, three_d) =
            gw.post_json("/payments/cards/auth", Some(&token), &serde_json::to_string(&saved).unwrap()).await;
        assert_eq!((status, three_d["status"].as_str()), (200, Some("3D")), "{backend:?}: {three_d}");
        assert_eq!(three_d["cardID"], json!(card_id));

        // A card that is not enrolled is not challenged there.
        let order = invoice();
        let token = gw.token_on(&order, major("100"), THREE_DS_TERMINAL).await;
        let request = PaymentRequest::new(&order, major("100"), gw.cryptogram(VISA, THREE_DS_TERMINAL).await);
        assert_eq!(gw.client.cryptopay(&token, &request).await.unwrap().status, "AUTH", "{backend:?}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn the_three_ds_terminal_is_seeded_once_into_old_databases_and_then_left_alone() {
    use epay_server::runtime::seed::{TEST_MERCHANT_ID, THREE_DS_TERMINAL};
    for backend in backends() {
        let mut gw = Gateway::start(backend).await;
        let store = gw.store().await;
        let seeded = store.terminal(THREE_DS_TERMINAL).await.unwrap().expect("seeded on first start");
        assert!(seeded.three_ds && seeded.two_step && !seeded.transfers_allowed, "{seeded:?}");
        assert_eq!((seeded.merchant_id.as_str(), seeded.pos_id.as_str()), (TEST_MERCHANT_ID, "98120005"));
        assert_eq!(store.terminals_of(TEST_MERCHANT_ID).await.unwrap().len(), 5, "{backend:?}");

        // A database seeded before the terminal existed gets it at the next start, once.
        gw.execute_sql(&format!("DELETE FROM terminals WHERE id = '{THREE_DS_TERMINAL}'")).await;
        gw.restart().await;
        gw.restart().await;
        let store = gw.store().await;
        assert!(store.terminal(THREE_DS_TERMINAL).await.unwrap().unwrap().three_ds, "{backend:?}");
        assert_eq!(store.terminals_of(TEST_MERCHANT_ID).await.unwrap().len(), 5, "{backend:?}");

        // An operator's change survives later starts.
        let (ok, out) = gw.run_cli(&["terminal", "update", THREE_DS_TERMINAL, "--three-ds", "false"]);
        assert!(ok, "{out}");
        gw.restart().await;
        let store = gw.store().await;
        assert!(!store.terminal(THREE_DS_TERMINAL).await.unwrap().unwrap().three_ds, "{backend:?}: re-seeded over");
    }
}

#[tokio::test]
async fn wrong_code_cancel_foreign_md_and_halyk_sdk_term_url() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[]).await;
        // Wrong code → 473; cancel → 499. The payment fails, no money moves.
        for (code, action, reason) in [("000000", "submit", 473), ("", "cancel", 499)] {
            let (token, _, three_d) = start(&gw, ENROLLED).await;
            let pa_res = answer_challenge(&gw, &three_d, code, action).await;
            let (status, body) = confirm(&gw, &token, three_d["secure3D"]["md"].as_str().unwrap(), &pa_res).await;
            assert_eq!((status, body["code"].clone()), (400, json!(reason)), "{backend:?}: {body}");
            let tx = gw.transaction_of(three_d["id"].as_str().unwrap()).await;
            assert_eq!(
                (tx["statusName"].as_str(), tx["reasonCode"].as_str()),
                (Some("FAILED"), Some(reason.to_string().as_str()))
            );
        }
        // Another transaction's MD or PaRes.
        let (token_a, _, a) = start(&gw, ENROLLED).await;
        let (token_b, _, b) = start(&gw, ENROLLED).await;
        let pa_res_a = answer_challenge(&gw, &a, "123456", "submit").await;
        let pa_res_b = answer_challenge(&gw, &b, "123456", "submit").await;
        let (status, _) = confirm(&gw, &token_a, b["secure3D"]["md"].as_str().unwrap(), &pa_res_b).await;
        assert_eq!(status, 401, "{backend:?}: A's token cannot confirm B");
        let (status, body) = confirm(&gw, &token_a, a["secure3D"]["md"].as_str().unwrap(), &pa_res_b).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap().contains("PaRes"));
        let (status, body) = confirm(&gw, &token_a, "bm90LWEtdXVpZA==", &pa_res_a).await;
        assert_eq!(status, 400, "{body}");
        // Halyk's SDK TermUrl: /payments/cards/confirmPayment?Access=<token>, form-encoded.
        let response = gw
            .http
            .post(format!("{}/payments/cards/confirmPayment?Access={token_b}", gw.url))
            .form(&[("MD", b["secure3D"]["md"].as_str().unwrap()), ("PaRes", pa_res_b.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{backend:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "CHARGE");
        // A card that is not enrolled pays without a challenge on the same terminal.
        let invoice = invoice();
        let token = gw.token_on(&invoice, major("100"), SECURE_TERMINAL).await;
        let request = PaymentRequest::new(&invoice, major("100"), gw.cryptogram(VISA, SECURE_TERMINAL).await);
        assert_eq!(gw.client.cryptopay(&token, &request).await.unwrap().status, "CHARGE");
        gw.assert_ledger_sound();
    }
}

/// The hosted page's payment object for `invoice` on the 3-D Secure terminal (English).
async fn secure_page_params(gw: &Gateway, invoice: &str) -> String {
    let token = gw.token_on(invoice, major("100"), SECURE_TERMINAL).await;
    epay_server::edge::page::params::encode(
        &[
            ("invoiceId", invoice.to_string()),
            ("backLink", format!("{}/demo/success?invoiceId={invoice}", gw.url)),
            ("failureBackLink", format!("{}/demo/failure?invoiceId={invoice}", gw.url)),
            ("language", "eng".into()),
            ("description", "3DS order".into()),
            ("terminal", SECURE_TERMINAL.into()),
            ("amount", "100".into()),
            ("currency", "KZT".into()),
        ],
        &[("access_token", token), ("expires_in", "7200".into())],
    )
}

#[tokio::test]
async fn a_retry_while_a_challenge_is_open_is_refused_and_a_failed_challenge_frees_the_invoice() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[]).await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let store = gw.store().await;
        let pay_visa = |invoice: String| {
            let gw = &gw;
            async move {
                let token = gw.token_on(&invoice, major("100"), SECURE_TERMINAL).await;
                let request = PaymentRequest::new(&invoice, major("100"), gw.cryptogram(VISA, SECURE_TERMINAL).await);
                gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await
            }
        };

        // By API: while the challenge is open, another attempt at the invoice is refused and
        // writes nothing.
        let (token, invoice, three_d) = start(&gw, ENROLLED).await;
        let (status, body) = pay_visa(invoice.clone()).await;
        assert_eq!(status, 409, "{backend:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains("3-D Secure challenge"), "{body}");
        assert_eq!(store.invoice_attempts(&merchant.id, SECURE_TERMINAL, &invoice).await.unwrap().len(), 1);
        // The challenge fails: the invoice is free again, for a new token (the API's token was
        // spent by its attempt).
        let pa_res = answer_challenge(&gw, &three_d, "000000", "submit").await;
        let (status, body) = confirm(&gw, &token, three_d["secure3D"]["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!((status, &body["code"]), (400, &json!(473)), "{backend:?}: {body}");
        let (status, body) = pay_visa(invoice.clone()).await;
        assert_eq!((status, &body["status"]), (200, &json!("CHARGE")), "{backend:?}: {body}");
        let attempts = store.invoice_attempts(&merchant.id, SECURE_TERMINAL, &invoice).await.unwrap();
        let summary: Vec<(i32, &str)> = attempts.iter().map(|p| (p.attempt, p.status.as_str())).collect();
        assert_eq!(summary, [(1, "FAILED"), (2, "CHARGE")], "{backend:?}");

        // On the hosted page: a failed challenge brings the form back, with the attempts left,
        // and the page's own token pays on the second try.
        let invoice = common::invoice();
        let params = secure_page_params(&gw, &invoice).await;
        let card = |c: (&'static str, &'static str, &'static str)| {
            [
                ("params", params.clone()),
                ("isShortForm", "false".into()),
                ("pan", c.0.into()),
                ("expiry", format!("{}/{}", &c.1[..2], &c.1[2..])),
                ("cvc", c.2.into()),
                ("name", "TEST TEST".into()),
            ]
        };
        let pay_page = format!("{}/payform/pay", gw.url);
        let hop = gw.http.post(&pay_page).form(&card(ENROLLED)).send().await.unwrap().text().await.unwrap();
        let three_d = json!({"secure3D": {"paReq": hidden(&hop, "PaReq"), "md": hidden(&hop, "MD"),
                                          "action": format!("{}/acs/challenge", gw.url)}});
        let pa_res = answer_challenge(&gw, &three_d, "000000", "submit").await;
        let term_url = hidden(&hop, "TermUrl");
        let form = [("PaRes", pa_res.as_str()), ("MD", three_d["secure3D"]["md"].as_str().unwrap())];
        let again = gw.http.post(&term_url).form(&form).send().await.unwrap().text().await.unwrap();
        assert!(again.contains(r#"id="pay-form""#), "{backend:?}: the form again: {again}");
        assert!(again.contains("(473)"), "{backend:?}: {again}");
        assert!(again.contains(r#"id="attempts-left">Attempts left: <strong>2</strong>"#), "{backend:?}: {again}");
        let paid = gw.http.post(&pay_page).form(&card(VISA)).send().await.unwrap().text().await.unwrap();
        assert!(paid.contains(r#"data-success="true""#), "{backend:?}: {paid}");
        let attempts = store.invoice_attempts(&merchant.id, SECURE_TERMINAL, &invoice).await.unwrap();
        let summary: Vec<(i32, &str)> = attempts.iter().map(|p| (p.attempt, p.status.as_str())).collect();
        assert_eq!(summary, [(1, "FAILED"), (2, "CHARGE")], "{backend:?}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn an_abandoned_challenge_fails_with_877() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[("EPAY_THREE_DS_TIMEOUT_SECS", "60")]).await;
        let (_, _, three_d) = start(&gw, ENROLLED).await;
        let (_, body) = gw.advance_clock(120).await;
        assert_eq!(body["abandoned3ds"], 1, "{backend:?}: {body}");
        let tx = gw.transaction_of(three_d["id"].as_str().unwrap()).await;
        assert_eq!((tx["statusName"].as_str(), tx["reasonCode"].as_str()), (Some("FAILED"), Some("877")));
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn the_seed_003_merchant_page_works_unchanged_against_our_acs() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[]).await;
        let (token, _, three_d) = start(&gw, ENROLLED).await;
        // The merchant's site: seed 003's auto-submit form, and a TermUrl that runs confirm.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shop = format!("http://{}", listener.local_addr().unwrap());
        let s = &three_d["secure3D"];
        let page = include_str!("fixtures/seed-003-3ds-form.html")
            .replace("<%=action%>", s["action"].as_str().unwrap())
            .replace("<%=paReq%>", s["paReq"].as_str().unwrap())
            .replace("<%=md%>", s["md"].as_str().unwrap())
            .replace("https://merchantsite.com/3dRes", &format!("{shop}/3dRes"));
        let confirm_url = format!("{}/payment/cryptopay/confirm", gw.url);
        let app = axum::Router::new()
            .route("/", axum::routing::get(move || async move { axum::response::Html(page) }))
            .route(
                "/3dRes",
                axum::routing::post(
                    move |axum::extract::Form(form): axum::extract::Form<std::collections::HashMap<String, String>>| {
                        let (token, confirm_url) = (token.clone(), confirm_url.clone());
                        async move {
                            // "On the partner's page (TermUrl), it is necessary to execute confirm."
                            let answer: Value = reqwest::Client::new()
                                .post(confirm_url)
                                .bearer_auth(token)
                                .json(&json!({"PaRes": form["PaRes"], "MD": form["MD"]}))
                                .send()
                                .await
                                .unwrap()
                                .json()
                                .await
                                .unwrap();
                            axum::response::Html(format!(
                                "<h1 id=outcome>{}</h1>",
                                answer["status"].as_str().unwrap_or("error")
                            ))
                        }
                    },
                ),
            );
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let browser = Browser::start().await;
        browser.goto(&format!("{shop}/")).await;
        browser.type_into("#otp", "123456").await;
        browser.click("#acs-submit").await;
        browser.wait_url("/3dRes", 15).await;
        assert_eq!(browser.text("#outcome").await, "CHARGE", "{backend:?}");
        server.abort();
    }
}

#[tokio::test]
async fn the_hosted_page_runs_the_challenge_itself() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[]).await;
        let invoice = invoice();
        let token = gw.token_on(&invoice, major("100"), SECURE_TERMINAL).await;
        let params = epay_server::edge::page::params::encode(
            &[
                ("invoiceId", invoice.clone()),
                ("backLink", format!("{}/demo/success?invoiceId={invoice}", gw.url)),
                ("failureBackLink", format!("{}/demo/failure?invoiceId={invoice}", gw.url)),
                ("language", "eng".into()),
                ("description", "3DS order".into()),
                ("terminal", SECURE_TERMINAL.into()),
                ("amount", "100".into()),
                ("currency", "KZT".into()),
            ],
            &[("access_token", token), ("expires_in", "7200".into())],
        );
        let browser = Browser::start().await;
        browser.goto(&format!("{}/payform/?params={params}", gw.url)).await;
        browser.type_into("#pan", ENROLLED.0).await;
        browser.type_into("#expiry", "12/30").await;
        browser.type_into("#cvc", ENROLLED.2).await;
        browser.type_into("#holder", "TEST TEST").await;
        browser.click("#submit").await;
        browser.type_into("#otp", "123456").await;
        browser.click("#acs-submit").await;
        // Back from the challenge, the page is the payment's receipt (issue 19).
        assert_eq!(browser.text("#receipt-status-code").await, "CHARGE", "{backend:?}");
        assert_eq!(browser.text("#receipt-invoice").await, invoice, "{backend:?}");
        browser.wait_url("/demo/success", 30).await;
        let status_token = gw.service_token(SECURE_TERMINAL).await;
        let tx = gw.client.status(&status_token, &invoice).await.unwrap().transaction.unwrap();
        assert_eq!(tx.status_name, "CHARGE", "{backend:?}");
        assert_eq!(tx.extra["secure"], json!(true));
        let _ = Duration::from_secs(0);
    }
}

/// A transfer token for `order`; `kind` is the `transferKind` (none: P2P only).
async fn transfer_token(gw: &Gateway, order: &str, amount: Amount, kind: Option<&str>) -> String {
    let request = epay_client::TokenRequest {
        scope: "transfer".into(),
        transfer_kind: kind.map(str::to_string),
        ..epay_client::TokenRequest::payment(CLIENT, SECRET, order, amount, "KZT", SECURE_P2P)
    };
    gw.client.token(&request).await.unwrap().access_token
}

/// Starts a P2P (or AFT) transfer from `sender` on the 3-D Secure transfer terminal, both cards
/// to be saved; returns (token, the answer).
async fn start_transfer(gw: &Gateway, path: &str, sender: (&str, &str, &str), post_link: &str) -> (String, Value) {
    let order_id = invoice();
    let kind = (path == "/chdebit/transfer").then_some("aft");
    let token = transfer_token(gw, &order_id, major("100"), kind).await;
    let mut card = json!({
        "sender": {"transferType": "TYPEPAN", "cardCred": sender.0, "cvc": sender.2, "save": true, "name": "ARMAN ALI",
                   "expire": {"month": &sender.1[..2], "year": &sender.1[2..]}},
    });
    if path == "/p2p/transfer" {
        card["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD.0, "save": true});
    }
    let body = json!({
        "order": {"id": order_id, "amount": 100, "currency": "KZT", "description": "3DS transfer",
                  "accountID": "secure-sender", "terminalId": SECURE_P2P, "postLink": post_link},
        "card": card,
    });
    let (status, answer) = gw.post_json(path, Some(&token), &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    (token, answer)
}

#[tokio::test]
async fn transfers_challenge_the_sender_card_when_the_terminal_requires_3ds() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[]).await;
        let store = gw.store().await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let (token, three_d) = start_transfer(&gw, "/p2p/transfer", ENROLLED, "https://merchant.example/post").await;
        assert_eq!(three_d["status"], "3D", "{backend:?}: {three_d}");
        assert_eq!((three_d["amount"].clone(), three_d["fee"].clone()), (json!(100), json!(95)));
        assert_eq!(three_d["senderCardPAN"], "400000...3220");
        assert_eq!(three_d["secure3D"]["action"], format!("{}/acs/challenge", gw.url));
        let id = three_d["id"].as_str().unwrap();
        // Waiting for the challenge: no money, no saved cards, no callback yet.
        assert!(store.ledger_transfers_of(id).await.unwrap().is_empty());
        assert!(store.saved_cards(&merchant.id, "secure-sender").await.unwrap().is_empty());
        assert!(store.callbacks_of(&merchant.id, id).await.unwrap().is_empty(), "no callback before the outcome");
        // The seed-003 challenge, then confirm answers the transfer itself.
        let md = three_d["secure3D"]["md"].as_str().unwrap();
        let pa_res = answer_challenge(&gw, &three_d, "123456", "submit").await;
        let (status, done) = confirm(&gw, &token, md, &pa_res).await;
        assert_eq!(status, 200, "{backend:?}: {done}");
        assert_eq!(done["status"], "CHARGE");
        assert_eq!(done["fee"], 95);
        assert!(done.get("secure3D").is_none(), "{done}");
        assert!(!done["senderCardID"].as_str().unwrap().is_empty(), "sender saved after the challenge");
        assert!(!done["receiverCardID"].as_str().unwrap().is_empty(), "receiver saved after the challenge");
        assert_eq!(store.saved_cards(&merchant.id, "secure-sender").await.unwrap().len(), 2);
        let moves = store.ledger_transfers_of(id).await.unwrap();
        let mut amounts = moves.iter().map(|t| t.amount_minor).collect::<Vec<_>>();
        amounts.sort();
        assert_eq!(amounts, vec![9_500, 10_000], "amount and fee move together");
        let callbacks = store.callbacks_of(&merchant.id, id).await.unwrap();
        assert_eq!(callbacks.len(), 1);
        assert_eq!(callbacks[0].0.kind.as_str(), "transfer.success");
        let tx = gw.transaction_of(id).await;
        assert_eq!((tx["statusName"].as_str(), tx["secure"].clone()), (Some("CHARGE"), json!(true)));
        // A replayed confirm moves nothing more.
        let (status, _) = confirm(&gw, &token, md, &pa_res).await;
        assert_eq!(status, 409);
        assert_eq!(store.ledger_transfers_of(id).await.unwrap().len(), 2);

        // A wrong code fails the transfer with 473 and moves nothing; AFT is challenged too.
        let (token, three_d) = start_transfer(&gw, "/chdebit/transfer", ENROLLED, "").await;
        assert_eq!(three_d["status"], "3D", "{backend:?}: AFT: {three_d}");
        let pa_res = answer_challenge(&gw, &three_d, "000000", "submit").await;
        let (status, failed) = confirm(&gw, &token, three_d["secure3D"]["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!((status, failed["code"].clone()), (400, json!(473)), "{failed}");
        let id = three_d["id"].as_str().unwrap();
        assert!(store.ledger_transfers_of(id).await.unwrap().is_empty());
        assert_eq!(gw.transaction_of(id).await["statusName"], "FAILED");

        // A card that is not enrolled transfers at once on the same terminal.
        let (_, direct) = start_transfer(&gw, "/p2p/transfer", VISA, "").await;
        assert_eq!(direct["status"], "CHARGE", "{direct}");
        assert!(direct.get("secure3D").is_none());
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn an_abandoned_transfer_challenge_fails_with_877() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[("EPAY_THREE_DS_TIMEOUT_SECS", "60")]).await;
        let (_, three_d) = start_transfer(&gw, "/p2p/transfer", ENROLLED, "").await;
        let (_, body) = gw.advance_clock(120).await;
        assert_eq!(body["abandoned3ds"], 1, "{backend:?}: {body}");
        let tx = gw.transaction_of(three_d["id"].as_str().unwrap()).await;
        assert_eq!((tx["statusName"].as_str(), tx["reasonCode"].as_str()), (Some("FAILED"), Some("877")));
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn the_transfer_form_runs_the_sender_challenge() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[]).await;
        let invoice = invoice();
        let token = transfer_token(&gw, &invoice, major("100"), None).await;
        let params = epay_server::edge::page::params::encode(
            &[
                ("invoiceId", invoice.clone()),
                ("backLink", format!("{}/demo/success?invoiceId={invoice}", gw.url)),
                ("failureBackLink", format!("{}/demo/failure?invoiceId={invoice}", gw.url)),
                ("language", "EN".into()),
                ("description", "Transfer to a friend".into()),
                ("terminal", SECURE_P2P.into()),
                ("amount", "100".into()),
                ("currency", "KZT".into()),
            ],
            &[("access_token", token), ("expires_in", "7200".into()), ("scope", "transfer".into())],
        );
        let browser = Browser::start().await;
        browser.goto(&format!("{}/payform/?params={params}&isTransfer=true", gw.url)).await;
        browser.type_into("#pan", ENROLLED.0).await;
        browser.type_into("#expiry", "12/30").await;
        browser.type_into("#cvc", ENROLLED.2).await;
        browser.type_into("#holder", "ARMAN ALI").await;
        browser.type_into("#receiver_pan", MASTERCARD.0).await;
        browser.click("#transfer-submit").await;
        browser.type_into("#otp", "123456").await;
        browser.click("#acs-submit").await;
        browser.wait_url("/demo/success", 30).await;
        let status_token = gw.service_token(SECURE_P2P).await;
        let tx = gw.client.status(&status_token, &invoice).await.unwrap().transaction.unwrap();
        assert_eq!(tx.status_name, "CHARGE", "{backend:?}");
        assert_eq!(tx.extra["secure"], json!(true));
        gw.assert_ledger_sound();
    }
}

/// A terminal whose 3-D Secure transfers may total 150 tenge a day (no fee).
const LIMITED_SECURE_P2P: &str = "3d5ecc3d-0000-4000-8000-000000000005";

#[tokio::test]
async fn a_three_ds_transfer_counts_on_the_day_its_money_moves() {
    for backend in backends() {
        // Two minutes before midnight in Kazakhstan (UTC+5).
        let gw = secure_gateway(backend, &[("EPAY_SANDBOX_START", "2026-11-22T18:58:00Z")]).await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        gw.store()
            .await
            .upsert_merchant(
                &merchant,
                &[epay_store::Terminal {
                    id: LIMITED_SECURE_P2P.into(),
                    merchant_id: merchant.id.clone(),
                    pos_id: "98120555".into(),
                    name: "3-D Secure transfers, 150 a day".into(),
                    three_ds: true,
                    transfers_allowed: true,
                    transfer_daily_limit_minor: 15_000,
                    ..Default::default()
                }],
            )
            .await
            .unwrap();
        let transfer = |sender: (&'static str, &'static str, &'static str)| {
            let gw = &gw;
            async move {
                let order_id = invoice();
                let request = epay_client::TokenRequest {
                    scope: "transfer".into(),
                    ..epay_client::TokenRequest::payment(
                        CLIENT,
                        SECRET,
                        &order_id,
                        major("100"),
                        "KZT",
                        LIMITED_SECURE_P2P,
                    )
                };
                let token = gw.client.token(&request).await.unwrap().access_token;
                let body = json!({
                    "order": {"id": order_id, "amount": 100, "currency": "KZT", "description": "late transfer",
                              "terminalId": LIMITED_SECURE_P2P},
                    "card": {"sender": {"transferType": "TYPEPAN", "cardCred": sender.0, "cvc": sender.2,
                                        "expire": {"month": &sender.1[..2], "year": &sender.1[2..]}},
                             "receiver": {"transferType": "TYPEPAN", "cardCred": MASTERCARD.0}},
                });
                let (status, answer) = gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await;
                (token, status, answer)
            }
        };
        // Started before midnight, challenged, confirmed after it.
        let (token, status, three_d) = transfer(ENROLLED).await;
        assert_eq!((status, three_d["status"].as_str()), (200, Some("3D")), "{backend:?}: {three_d}");
        let pa_res = answer_challenge(&gw, &three_d, "123456", "submit").await;
        assert_eq!(gw.advance_clock(180).await.0, 200);
        let (status, done) = confirm(&gw, &token, three_d["secure3D"]["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!((status, done["status"].as_str()), (200, Some("CHARGE")), "{backend:?}: {done}");
        // Its 100 tenge count today: another 100 would pass the 150 limit.
        let (_, status, answer) = transfer(VISA).await;
        assert_eq!((status, answer["code"].clone()), (400, json!(529)), "{backend:?}: {answer}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn a_card_verification_on_a_3ds_terminal_saves_the_card_only_after_the_challenge() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[]).await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let store = gw.store().await;
        let invoice = invoice();
        let token = gw.token_on(&invoice, Amount::ZERO, SECURE_TERMINAL).await;
        let mut request = PaymentRequest::new(&invoice, Amount::ZERO, gw.cryptogram(ENROLLED, SECURE_TERMINAL).await);
        request.card_save = true;
        request.account_id = Some("verified-user".into());
        let (status, three_d) =
            gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
        assert_eq!((status, three_d["status"].as_str()), (200, Some("3D")), "{backend:?}: {three_d}");
        assert!(store.saved_cards(&merchant.id, "verified-user").await.unwrap().is_empty(), "not proven yet");
        let pa_res = answer_challenge(&gw, &three_d, "123456", "submit").await;
        let (status, done) = confirm(&gw, &token, three_d["secure3D"]["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!((status, done["status"].as_str()), (200, Some("VERIFIED")), "{backend:?}: {done}");
        let saved = store.saved_cards(&merchant.id, "verified-user").await.unwrap();
        assert_eq!(saved.len(), 1, "{backend:?}");
        assert!(saved[0].payable, "proven with expiry, CVC and 3-D Secure");
        assert!(store.ledger_transfers_of(done["id"].as_str().unwrap()).await.unwrap().is_empty(), "no money");
        gw.assert_ledger_sound();
    }
}

/// `resultCode` of the status answer in every state a merchant can reach (facts §8.3; the table
/// in docs/api.md): `107` "in progress" while a 3-D Secure challenge is open, `101` once the
/// payment is rejected or failed, `100` otherwise. The transaction comes with each code.
#[tokio::test]
async fn status_result_codes_follow_epays_table() {
    for backend in backends() {
        let gw = secure_gateway(backend, &[]).await;
        let b = format!("{backend:?}");
        let expect = |answer: Value, code: &str, status: &str| {
            assert_eq!(answer["resultCode"], code, "{b}: {status}: {answer}");
            assert_eq!(answer["transaction"]["statusName"], status, "{b}: {answer}");
            answer
        };
        let invoice_of = |id: String| {
            let gw = &gw;
            async move { gw.transaction_of(&id).await["invoiceID"].as_str().unwrap().to_string() }
        };
        // A challenge open: in progress, for a payment and for a transfer.
        let (token, failing, three_d) = start(&gw, ENROLLED).await;
        let open = expect(gw.status_answer(SECURE_TERMINAL, &failing).await, "107", "3D");
        assert_eq!(open["resultMessage"], "operation in progress, request the status later", "{b}");
        let (_, transfer) = start_transfer(&gw, "/p2p/transfer", ENROLLED, "").await;
        let order_id = invoice_of(transfer["id"].as_str().unwrap().to_string()).await;
        expect(gw.status_answer(SECURE_P2P, &order_id).await, "107", "3D");
        // The challenge failed (wrong code): rejected, with its reason.
        let pa_res = answer_challenge(&gw, &three_d, "000000", "submit").await;
        let (status, _) = confirm(&gw, &token, three_d["secure3D"]["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!(status, 400, "{b}");
        let failed = expect(gw.status_answer(SECURE_TERMINAL, &failing).await, "101", "FAILED");
        assert_eq!(
            (failed["resultMessage"].as_str(), failed["transaction"]["reasonCode"].as_str()),
            (Some("REJECT"), Some("473"))
        );
        // Declined by the issuer: rejected.
        let declined = invoice();
        let token = gw.token_on(&declined, major("100"), SECURE_TERMINAL).await;
        let request = PaymentRequest::new(
            &declined,
            major("100"),
            gw.cryptogram(("4000000000000002", "1230", "123"), SECURE_TERMINAL).await,
        );
        let (status, _) =
            gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
        assert_eq!(status, 400, "{b}");
        expect(gw.status_answer(SECURE_TERMINAL, &declined).await, "101", "REJECT");
        // A passed challenge charges (one-step terminal), then a refund: both stand, 100.
        let (token, passing, three_d) = start(&gw, ENROLLED).await;
        let pa_res = answer_challenge(&gw, &three_d, "123456", "submit").await;
        let (status, done) = confirm(&gw, &token, three_d["secure3D"]["md"].as_str().unwrap(), &pa_res).await;
        assert_eq!(status, 200, "{b}: {done}");
        let charged = expect(gw.status_answer(SECURE_TERMINAL, &passing).await, "100", "CHARGE");
        assert_eq!(charged["resultMessage"], "SUCCESS");
        let service = gw.service_token(SECURE_TERMINAL).await;
        assert_eq!(gw.operation(&service, done["id"].as_str().unwrap(), "refund", "", None).await.0, 200, "{b}");
        expect(gw.status_answer(SECURE_TERMINAL, &passing).await, "100", "REFUND");
        // Two-step: AUTH, CANCEL, a verification, and a hold that expired (CANCEL_OLD).
        let service = gw.service_token(TERMINAL).await;
        let held = invoice_of(gw.authorized_payment(major("100")).await).await;
        expect(gw.status_answer(TERMINAL, &held).await, "100", "AUTH");
        let cancelled = gw.authorized_payment(major("100")).await;
        assert_eq!(gw.operation(&service, &cancelled, "cancel", "", None).await.0, 200, "{b}");
        expect(gw.status_answer(TERMINAL, &invoice_of(cancelled).await).await, "100", "CANCEL");
        let verification = invoice();
        let token = gw.token_on(&verification, Amount::ZERO, TERMINAL).await;
        let mut request = gw.payment_request(&verification, Amount::ZERO, VISA).await;
        request.card_save = true;
        request.account_id = Some("result-codes".into());
        assert_eq!(gw.client.cryptopay(&token, &request).await.unwrap().status, "VERIFIED", "{b}");
        expect(gw.status_answer(TERMINAL, &verification).await, "100", "VERIFIED");
        gw.advance_clock(8 * 86_400).await;
        expect(gw.status_answer(TERMINAL, &held).await, "100", "CANCEL_OLD");
        // The 3-D Secure challenges were abandoned meanwhile: failed (877), rejected.
        expect(gw.status_answer(SECURE_P2P, &order_id).await, "101", "FAILED");
        gw.assert_ledger_sound();
    }
}
