//! The payment page's languages in headless Chromium, on SQLite and PostgreSQL: amounts as each
//! language writes them ("2 500 ₸", "₸2,500"), the Pay button in each language's word order,
//! the translated expiry placeholder, and the language switch, which changes the words and
//! nothing else about the payment (issue 19 item 8).

mod common;

use common::browser::Browser;
use common::*;
use epay_client::TokenRequest;

/// The no-break space the page puts inside amounts (edge/page/money.rs).
const NB: char = '\u{a0}';

fn nb(text: &str) -> String {
    text.replace('_', &NB.to_string())
}

/// A card payment page for 2 500 tenge in `language`, as payment-api.js builds it; and its
/// `params` (what every switch link must carry unchanged).
async fn page_link(gw: &Gateway, invoice: &str, language: &str) -> (String, String) {
    let token =
        gw.client.token(&TokenRequest::payment(CLIENT, SECRET, invoice, major("2500"), "KZT", TERMINAL)).await.unwrap();
    let params = epay_server::edge::page::params::encode(
        &[
            ("invoiceId", invoice.to_string()),
            ("backLink", format!("{}/demo/success?invoiceId={invoice}", gw.url)),
            ("failureBackLink", format!("{}/demo/failure?invoiceId={invoice}", gw.url)),
            ("language", language.into()),
            ("description", "Locale test".into()),
            ("terminal", TERMINAL.into()),
            ("amount", "2500".into()),
            ("currency", "KZT".into()),
        ],
        &[("access_token", token.access_token), ("scope", "payment".into())],
    );
    (format!("{}/payform/?params={params}", gw.url), params)
}

/// An element's text exactly as the page has it (WebDriver's element text turns the no-break
/// spaces into plain ones).
async fn content(browser: &Browser, css: &str) -> String {
    browser.wait(css, 10).await;
    let script = format!("return document.querySelector('{css}').textContent;");
    browser.execute(&script).await.as_str().unwrap().to_string()
}

/// The `params` as the page received them: the query string reads LZString's `+` as a space,
/// which LZString reads back as `+` (edge/page/params.rs); the switch carries what it received.
fn received(params: &str) -> String {
    params.replace('+', " ")
}

/// The page's language as the document and the switch say it.
async fn assert_language(browser: &Browser, code: &str, context: &str) {
    let lang = browser.execute("return document.documentElement.lang;").await;
    assert_eq!(lang.as_str(), Some(code), "{context}");
    let current = format!("#lang-{code}");
    assert_eq!(browser.attribute(&current, "aria-current").await.as_deref(), Some("true"), "{context}");
    let marked = browser.execute("return document.querySelectorAll('nav.languages a[aria-current]').length;").await;
    assert_eq!(marked, 1, "{context}: one language is current");
}

/// Every switch link's query, read back: it must be the page's own params, the language, and
/// the form's flags only.
async fn switch_queries(browser: &Browser) -> Vec<Vec<(String, String)>> {
    let hrefs = browser
        .execute("return Array.from(document.querySelectorAll('nav.languages a')).map(a => a.getAttribute('href'));")
        .await;
    hrefs
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let href = h.as_str().unwrap();
            assert!(href.starts_with("/payform/?"), "{href}");
            let url = reqwest::Url::parse(&format!("http://page{href}")).unwrap();
            url.query_pairs().into_owned().collect()
        })
        .collect()
}

#[tokio::test]
async fn the_page_writes_amounts_per_language_and_switches_language_without_touching_the_payment() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        let invoice = invoice();
        let (link, params) = page_link(&gw, &invoice, "rus").await;

        // Russian: "2 500 ₸", the verb first, the placeholder in Cyrillic.
        browser.goto(&link).await;
        assert_eq!(content(&browser, "#amount").await, nb("2_500_₸"), "{backend:?}");
        assert_eq!(content(&browser, "#submit").await, nb("Оплатить 2_500_₸"), "{backend:?}");
        assert_eq!(browser.attribute("#expiry", "placeholder").await.as_deref(), Some("ММ/ГГ"));
        assert_language(&browser, "ru", "ru").await;
        assert_eq!(browser.attribute("#lang-kk", "lang").await.as_deref(), Some("kk"));
        assert_eq!(browser.attribute("nav.languages", "aria-label").await.as_deref(), Some("Язык"));

        // Kazakh, by keyboard, with some fields typed: the holder and the expiry come along,
        // the card number does not (card data leaves the form only by its own submit).
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", "1230").await;
        browser.type_into("#holder", "ARMAN ALI").await;
        browser.execute("document.getElementById('lang-kk').focus();").await;
        browser.press("\u{E007}").await;
        browser.wait_url("lang=kk", 10).await;
        assert_language(&browser, "kk", "kk").await;
        assert_eq!(content(&browser, "#submit").await, nb("2_500_₸ төлеу"), "{backend:?}");
        assert_eq!(content(&browser, "#amount").await, nb("2_500_₸"));
        assert_eq!(browser.attribute("#expiry", "placeholder").await.as_deref(), Some("АА/ЖЖ"));
        assert_eq!(browser.text("label[for=pan]").await, "Карта нөмірі");
        let typed = "return ['pan', 'expiry', 'holder'].map(id => document.getElementById(id).value);";
        assert_eq!(browser.execute(typed).await, serde_json::json!(["", "12/30", "ARMAN ALI"]), "{backend:?}");
        browser.execute("['expiry', 'holder'].forEach(id => document.getElementById(id).value = '');").await;

        // A declined attempt answers in the language the shopper chose (the form posts it).
        browser.type_into("#pan", "4000000000000002").await;
        browser.type_into("#expiry", "1230").await;
        browser.type_into("#cvc", "123").await;
        browser.type_into("#holder", "TEST TEST").await;
        browser.click("#submit").await;
        browser.wait("#attempts-left", 15).await;
        assert_language(&browser, "kk", "kk after a decline").await;
        assert!(browser.text(".alert").await.starts_with("Төлем қабылданбады"), "{backend:?}");

        // English: the symbol first, "Pay" first.
        browser.click("#lang-en").await;
        browser.wait_url("lang=en", 10).await;
        assert_language(&browser, "en", "en").await;
        assert_eq!(browser.text("#amount").await, "₸2,500", "{backend:?}");
        assert_eq!(browser.text("#submit").await, "Pay ₸2,500", "{backend:?}");
        assert_eq!(browser.attribute("#expiry", "placeholder").await.as_deref(), Some("MM/YY"));

        // Every link carries the page's own params and nothing but the language: a parameter
        // added to the address is not carried on, and `lang` changes only the words.
        browser.goto(&format!("{link}&lang=en&amount=1&backLink=https://evil.example/&lang2=x")).await;
        assert_eq!(browser.text("#submit").await, "Pay ₸2,500", "{backend:?}");
        let queries = switch_queries(&browser).await;
        let expected: Vec<Vec<(String, String)>> = ["ru", "kk", "en"]
            .iter()
            .map(|code| vec![("params".to_string(), received(&params)), ("lang".to_string(), code.to_string())])
            .collect();
        assert_eq!(queries, expected, "{backend:?}");
        // A `lang` that names no language leaves the payment's own.
        browser.goto(&format!("{link}&lang=%22%3E%3Cscript%3E")).await;
        assert_language(&browser, "ru", "junk lang").await;

        // After all that switching, the payment goes through, for the token's amount.
        browser.click("#lang-en").await;
        browser.wait_url("lang=en", 10).await;
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", VISA.1).await;
        browser.type_into("#cvc", VISA.2).await;
        browser.type_into("#holder", "TEST TEST").await;
        browser.click("#submit").await;
        browser.wait_url("/demo/success", 15).await;
        let token = gw.service_token(TERMINAL).await;
        let tx = gw.client.status(&token, &invoice).await.unwrap().transaction.unwrap();
        assert_eq!(tx.status_name, "AUTH", "{backend:?}");
        let paid = gw.store().await.payment_by_invoice(TERMINAL, &invoice).await.unwrap().unwrap();
        assert_eq!(paid.amount_minor, 250_000, "{backend:?}");
        // The payment keeps the merchant's language: the switch is the page's words only.
        assert_eq!(paid.language, "RU", "{backend:?}");
        gw.assert_ledger_sound();
    }
}

const P2P_TERMINAL: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";

#[tokio::test]
async fn the_transfer_form_switches_language_and_still_transfers() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        let invoice = invoice();
        // A seed-002 style P2P token: no order in it; the page's params name the order.
        let token = gw
            .client
            .token(&TokenRequest {
                scope: "transfer".into(),
                client_id: CLIENT.into(),
                client_secret: SECRET.into(),
                terminal: Some(P2P_TERMINAL.into()),
                secret_hash: Some("JDKCNDDGGDTPSKJD".into()),
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
                ("terminal", P2P_TERMINAL.into()),
                ("amount", "100".into()),
                ("currency", "KZT".into()),
            ],
            &[("access_token", token.access_token), ("scope", "transfer".into())],
        );
        browser.goto(&format!("{}/payform/?params={params}&isTransfer=true", gw.url)).await;
        // 100 and the terminal's fee (95), in English first.
        assert_eq!(browser.text("#amount").await, "₸100", "{backend:?}");
        assert_eq!(browser.text("#total").await, "₸195", "{backend:?}");
        assert_eq!(browser.text("#transfer-submit").await, "Transfer ₸195");
        assert_language(&browser, "en", "transfer en").await;
        for query in switch_queries(&browser).await {
            assert_eq!(&query[..2], [("params".into(), received(&params)), ("isTransfer".into(), "true".into())]);
        }

        browser.click("#lang-kk").await;
        browser.wait_url("lang=kk", 10).await;
        assert_eq!(content(&browser, "#total").await, nb("195_₸"), "{backend:?}");
        assert_eq!(content(&browser, "#transfer-submit").await, nb("195_₸ аудару"), "{backend:?}");
        assert_eq!(browser.attribute("#expiry", "placeholder").await.as_deref(), Some("АА/ЖЖ"));
        browser.click("#lang-ru").await;
        browser.wait_url("lang=ru", 10).await;
        assert_eq!(content(&browser, "#fee").await, nb("95_₸"), "{backend:?}");
        assert_eq!(content(&browser, "#transfer-submit").await, nb("Перевести 195_₸"), "{backend:?}");

        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", VISA.1).await;
        browser.type_into("#cvc", VISA.2).await;
        browser.type_into("#holder", "ARMAN ALI").await;
        browser.type_into("#receiver_pan", MASTERCARD.0).await;
        browser.click("#transfer-submit").await;
        browser.wait_url("/demo/success", 15).await;
        let token = gw.service_token(P2P_TERMINAL).await;
        let tx = gw.client.status(&token, &invoice).await.unwrap().transaction.unwrap();
        assert_eq!(tx.status_name, "CHARGE", "{backend:?}");
        gw.assert_ledger_sound();
    }
}
