//! Links the pages send a browser to (issue 15, low items): only http(s) back links reach a
//! page, and the demo shop shows only its own orders. Plain HTTP, on SQLite and PostgreSQL.

mod common;

use common::*;
use epay_client::PaymentRequest;
use serde_json::{json, Value};

const SECURE_TERMINAL: &str = "3d5ecc3d-0000-4000-8000-0000000000a1";
/// The simulator's 3-D Secure enrolled card (docs/test-cards.md).
const ENROLLED: (&str, &str, &str) = ("4000000000003220", "1230", "123");
const SCRIPT_LINK: &str = "javascript:alert(document.cookie)";
const DATA_LINK: &str = "data:text/html,<script>alert(1)</script>";

async fn with_secure_terminal(gw: &Gateway) {
    let (merchant, _) = epay_server::runtime::seed::test_merchant();
    let terminal = epay_store::Terminal {
        id: SECURE_TERMINAL.into(),
        merchant_id: merchant.id.clone(),
        pos_id: "98120555".into(),
        name: "3-D Secure".into(),
        three_ds: true,
        hold_period_secs: 3600,
        ..Default::default()
    };
    gw.store().await.upsert_merchant(&merchant, &[terminal]).await.unwrap();
}

/// Runs a 3-D Secure payment whose page parameters carry hostile back links, answers the ACS
/// with `code`, and returns the body of the hosted page's TermUrl (`/payform/3ds-return`).
async fn three_ds_return_page(gw: &Gateway, code: &str) -> String {
    let invoice = invoice();
    let token = gw.token_on(&invoice, major("100"), SECURE_TERMINAL).await;
    let request = PaymentRequest::new(&invoice, major("100"), gw.cryptogram(ENROLLED, SECURE_TERMINAL).await);
    let (status, three_d) =
        gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
    assert_eq!(status, 200, "{three_d}");
    let params = epay_server::edge::page::params::encode(
        &[
            ("invoiceId", invoice.clone()),
            ("backLink", SCRIPT_LINK.into()),
            ("failureBackLink", DATA_LINK.into()),
            ("terminal", SECURE_TERMINAL.into()),
            ("amount", "100".into()),
            ("currency", "KZT".into()),
        ],
        &[("access_token", token.clone())],
    );
    let term_url = format!("{}/payform/3ds-return?params={params}", gw.url);
    let s = &three_d["secure3D"];
    let form = [("PaReq", s["paReq"].as_str().unwrap()), ("MD", s["md"].as_str().unwrap()), ("TermUrl", &term_url)];
    let challenge = gw.http.post(s["action"].as_str().unwrap()).form(&form).send().await.unwrap().text().await.unwrap();
    let answer = [
        ("acs_id", hidden_input(&challenge, "acs_id")),
        ("MD", hidden_input(&challenge, "MD")),
        ("TermUrl", hidden_input(&challenge, "TermUrl")),
        ("code", code.to_string()),
        ("action", "submit".to_string()),
    ];
    let back = answer_acs(gw, &answer).await;
    let returned = [("PaRes", hidden_input(&back, "PaRes")), ("MD", hidden_input(&back, "MD"))];
    gw.http.post(&term_url).form(&returned).send().await.unwrap().text().await.unwrap()
}

fn assert_no_hostile_link(page: &str, context: &str) {
    for needle in ["javascript:", "data:text", "alert("] {
        assert!(!page.contains(needle), "{context}: {needle} reached the page: {page}");
    }
}

#[tokio::test]
async fn script_and_data_back_links_never_reach_a_page() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        with_secure_terminal(&gw).await;
        // Success: the redirect would be backLink; failure: failureBackLink, and backLink as the
        // "back to the shop" link.
        let passed = three_ds_return_page(&gw, "123456").await;
        assert!(passed.contains(r#"data-success="true""#), "{backend:?}: {passed}");
        assert!(passed.contains(r#"data-redirect="""#), "{backend:?}: {passed}");
        assert_no_hostile_link(&passed, &format!("{backend:?} success"));
        let failed = three_ds_return_page(&gw, "000000").await;
        assert!(failed.contains(r#"data-success="false""#), "{backend:?}: {failed}");
        assert_no_hostile_link(&failed, &format!("{backend:?} failure"));

        // Where the back links are API fields, such a link is refused with a clear error.
        for (field, link) in [("backLink", SCRIPT_LINK), ("failureBackLink", DATA_LINK)] {
            let invoice = invoice();
            let token = gw.payment_token(&invoice, major("100")).await;
            let mut request = serde_json::to_value(gw.payment_request(&invoice, major("100"), VISA).await).unwrap();
            request[field] = json!(link);
            let (status, body) = gw.post_json("/payment/cryptopay", Some(&token), &request.to_string()).await;
            assert_eq!(status, 400, "{backend:?}: {body}");
            let message = body.to_string();
            assert!(message.contains(field) && message.contains("http or https"), "{backend:?}: {body}");
        }
    }
}

/// The demo shop's checkout page: its payment object (invoice, backLink, token).
async fn demo_order(gw: &Gateway) -> Value {
    let page = gw.http.post(format!("{}/demo/checkout", gw.url)).send().await.unwrap().text().await.unwrap();
    let start = page.find(r#"id="payment-object""#).and_then(|i| page[i..].find('>').map(|j| i + j + 1)).unwrap();
    let end = page[start..].find("</script>").unwrap() + start;
    serde_json::from_str(&page[start..end].replace("<\\/", "</")).unwrap()
}

/// The status code the demo shop's page gives (its words are `#status`; issue 19).
fn shown_status(page: &str) -> String {
    let start = page.find(r#"data-status=""#).expect("a status") + r#"data-status=""#.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn the_demo_shop_shows_only_its_own_orders() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // The demo shop's own order, paid: its back link shows the status.
        let order = demo_order(&gw).await;
        let own = order["invoiceId"].as_str().unwrap();
        let token = order["auth"]["access_token"].as_str().unwrap();
        let request = gw.payment_request(own, major("2500"), VISA).await;
        gw.client.cryptopay(token, &request).await.unwrap();
        let back_link = order["backLink"].as_str().unwrap();
        let page = gw.http.get(back_link).send().await.unwrap().text().await.unwrap();
        assert_eq!(shown_status(&page), "AUTH", "{backend:?}: {page}");
        assert!(page.contains(r#"<span id="status">Paid — amount held on the card</span>"#), "{page}");

        // Another shop's order on the same (shared, public) terminal: nothing, with or without
        // a signature taken from the demo shop's own order.
        let other = invoice();
        let token = gw.payment_token(&other, major("100")).await;
        gw.client.cryptopay(&token, &gw.payment_request(&other, major("100"), VISA).await).await.unwrap();
        let signature = back_link.split("order=").nth(1).unwrap();
        for query in [format!("invoiceId={other}"), format!("invoiceId={other}&order={signature}")] {
            for page in ["success", "failure"] {
                let url = format!("{}/demo/{page}?{query}", gw.url);
                let body = gw.http.get(&url).send().await.unwrap().text().await.unwrap();
                assert_eq!(shown_status(&body), "", "{backend:?} {url}: {body}");
                assert!(body.contains(r#"<span id="status"></span>"#), "{backend:?} {url}: {body}");
            }
        }
    }
}

/// Text the merchant or the shopper puts on a page (description, holder name, language, invoice
/// id) is text there, never markup (issue 17: templates that escape by default).
#[tokio::test]
async fn hostile_text_is_shown_as_text_on_the_pages() {
    const SCRIPT: &str = "<script>alert(1)</script>";
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let params = epay_server::edge::page::params::encode(
            &[
                ("invoiceId", invoice.clone()),
                ("description", format!("Mug {SCRIPT}")),
                ("name", format!("\"><img src=x onerror=alert(2)> {SCRIPT}")),
                ("language", format!("\"><{SCRIPT}")),
                ("terminal", TERMINAL.into()),
                ("amount", "100".into()),
                ("currency", "KZT".into()),
            ],
            &[("access_token", token)],
        );
        let response = gw.http.get(format!("{}/payform/?params={params}", gw.url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{backend:?}");
        let page = response.text().await.unwrap();
        assert!(page.contains(r#"id="pay-form""#), "{backend:?}: {page}");
        assert!(!page.contains(SCRIPT) && !page.contains("<img"), "{backend:?}: markup reached the page: {page}");
        assert!(page.contains("Mug &") && page.contains("alert(1)"), "{backend:?}: the description as text: {page}");
        assert!(page.contains(r#"<html lang="ru">"#), "{backend:?}: an unknown language is Russian: {page}");

        let url = format!("{}/demo/failure", gw.url);
        let page = gw.http.get(&url).query(&[("invoiceId", SCRIPT)]).send().await.unwrap().text().await.unwrap();
        assert!(!page.contains(SCRIPT) && page.contains(r#"<dd id="invoice">&"#), "{backend:?}: {page}");
    }
}
