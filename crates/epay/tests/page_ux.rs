//! Issue 19, items 3-5, in headless Chromium on SQLite and PostgreSQL: the P2P form checks and
//! formats its cards and keeps what was typed (never the CVC) after a refusal; declines are
//! worded for the shopper in the page's language with the code kept; the simulated bank's 3-D
//! Secure page speaks the payment's language, takes three tries and sends the code again.
//! (The pictures of these pages are taken by tests/screenshots.rs.)

mod common;

use common::browser::Browser;
use common::*;

const P2P_TERMINAL: &str = epay_server::platform::test_merchant::P2P_TERMINAL;

/// A card payment page for a fresh invoice of 100 KZT on `terminal`, in `language`.
async fn pay_link(gw: &Gateway, language: &str, terminal: &str) -> (String, String) {
    let invoice = invoice();
    let token = gw.token_on(&invoice, major("100"), terminal).await;
    (format!("{}/payform/?params={}", gw.url, page_params(gw, &invoice, token, language, terminal, &[])), invoice)
}

async fn value(browser: &Browser, css: &str) -> String {
    browser.execute(&format!("return document.querySelector('{css}').value;")).await.as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_p2p_form_checks_formats_and_keeps_the_fields_but_not_the_cvc_after_a_refusal() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.set_window_size(390, 844).await;
        let (link, invoice) = p2p_page_link(&gw, "RU").await;
        browser.goto(&link).await;
        browser.wait("#transfer-submit", 15).await;
        // Formatted as on the card form, and checked as typed.
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", "0127").await;
        browser.type_into("#cvc", VISA.2).await;
        browser.type_into("#holder", "ARMAN ALI").await;
        assert_eq!(value(&browser, "#pan").await, "4405 6397 0401 5096", "{backend:?}");
        assert_eq!(value(&browser, "#expiry").await, "01/27", "{backend:?}");
        assert_eq!(browser.attribute("#brand img", "alt").await.as_deref(), Some("Visa"));
        browser.type_into("#receiver_pan", "5522042705066737").await;
        browser.click("#holder").await;
        assert_eq!(browser.attribute("#receiver_pan", "aria-invalid").await.as_deref(), Some("true"));
        assert_eq!(browser.text("#receiver_pan-error").await, "Неверный номер карты", "{backend:?}");
        assert_eq!(browser.execute("return document.getElementById('transfer-submit').disabled;").await, true);
        // Past the browser's checks, the server refuses what only it checks: the receiver is the
        // sender's own card. The form goes by fetch() and its answer (the form again, without
        // the card numbers) is merged into this very page: the message in Russian by the field,
        // the typed fields kept by the browser, the CVC cleared, and nothing written.
        browser.execute("document.getElementById('receiver_pan').value = '';").await;
        browser.type_into("#receiver_pan", VISA.0).await;
        browser.execute("document.body.setAttribute('data-live', 'yes');").await;
        browser.click("#transfer-submit").await;
        browser.wait(".alert", 15).await;
        assert!(browser.text(".alert").await.starts_with("Проверьте введённые данные"), "{backend:?}");
        assert_eq!(browser.text("#receiver_pan-error").await, "Карта получателя совпадает с картой отправителя");
        assert_eq!(browser.attribute("#receiver_pan", "aria-invalid").await.as_deref(), Some("true"));
        assert_eq!(browser.attribute("body", "data-live").await.as_deref(), Some("yes"), "{backend:?}: not reloaded");
        assert_eq!(value(&browser, "#pan").await, "4405 6397 0401 5096", "{backend:?}");
        assert_eq!(value(&browser, "#expiry").await, "01/27");
        assert_eq!(value(&browser, "#holder").await, "ARMAN ALI");
        assert_eq!(value(&browser, "#receiver_pan").await, "4405 6397 0401 5096");
        assert_eq!(value(&browser, "#cvc").await, "", "{backend:?}: the CVC is typed again");
        let processing = browser.attribute("#transfer-submit", "data-processing").await.unwrap();
        assert_ne!(browser.text("#transfer-submit").await, processing, "{backend:?}: the button is back");
        let store = gw.store().await;
        assert!(store.payment_by_invoice(P2P_TERMINAL, &invoice).await.unwrap().is_none(), "nothing written");
        // Corrected: the message goes as the shopper edits, and the transfer goes through.
        browser.execute("document.getElementById('receiver_pan').value = '';").await;
        browser.type_into("#receiver_pan", MASTERCARD.0).await;
        assert_eq!(browser.text("#receiver_pan-error").await, "", "{backend:?}");
        browser.type_into("#cvc", VISA.2).await;
        browser.click("#transfer-submit").await;
        browser.wait_url("/demo/success", 30).await;
        let paid = store.payment_by_invoice(P2P_TERMINAL, &invoice).await.unwrap().unwrap();
        assert_eq!(paid.status.as_str(), "CHARGE", "{backend:?}");

        // The refusal is never cached, and echoes only what this very request carried.
        let (link, _) = p2p_page_link(&gw, "KZ").await;
        let page = gw.http.get(&link).send().await.unwrap().text().await.unwrap();
        let raw = hidden_input(&page, "params");
        let form = [
            ("params", raw.as_str()),
            ("kind", "p2p"),
            ("pan", VISA.0),
            ("expiry", "13/27"),
            ("cvc", "987"),
            ("name", "ARMAN ALI"),
            ("receiver_pan", MASTERCARD.0),
        ];
        let answer = gw.http.post(format!("{}/payform/transfer", gw.url)).form(&form).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{backend:?}");
        assert_eq!(answer.headers()["cache-control"], "no-store");
        let html = answer.text().await.unwrap();
        assert!(html.contains(r#"data-msg="Қолданылу мерзімі қате">Қолданылу мерзімі қате</p>"#), "{html}");
        assert!(html.contains(r#"value="13/27""#) && html.contains(r#"value="ARMAN ALI""#), "{backend:?}: {html}");
        assert_no_card_data(&html, &[VISA.0, MASTERCARD.0], "987");
    }
}

/// Neither card number (as typed, or grouped in fours) nor the CVC is anywhere in `html`.
fn assert_no_card_data(html: &str, pans: &[&str], cvc: &str) {
    for pan in pans {
        let grouped: Vec<String> = pan.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        assert!(!html.contains(pan) && !html.contains(&grouped.join(" ")), "{pan} came back: {html}");
    }
    let field = &html[html.find(r#"<input id="cvc""#).unwrap()..];
    assert!(!field[..field.find('>').unwrap()].contains("value"), "the CVC came back: {html}");
    assert!(!html.contains(&format!(r#""{cvc}""#)), "{html}");
}

/// The transfer form posted as a page without its script posts it: a refusal answers the form
/// again with its message by the field, the expiry and holder as typed, and never a card number
/// (docs/security.md): not the sender's, not the refused receiver's.
#[tokio::test]
async fn the_p2p_forms_answer_never_carries_a_card_number() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let store = gw.store().await;
        let bad_receiver = "5522042705066737";
        for (receiver, message) in
            [(bad_receiver, "Неверный номер карты"), (VISA.0, "Карта получателя совпадает с картой отправителя")]
        {
            let (link, invoice) = p2p_page_link(&gw, "RU").await;
            let page = gw.http.get(&link).send().await.unwrap().text().await.unwrap();
            let raw = hidden_input(&page, "params");
            let form = [
                ("params", raw.as_str()),
                ("kind", "p2p"),
                ("pan", "4405 6397 0401 5096"),
                ("expiry", "01/27"),
                ("cvc", "321"),
                ("name", "ARMAN ALI"),
                ("receiver_pan", receiver),
            ];
            let answer = gw.http.post(format!("{}/payform/transfer", gw.url)).form(&form).send().await.unwrap();
            assert_eq!(answer.status(), 400, "{backend:?} {receiver}");
            assert_eq!(answer.headers()["cache-control"], "no-store");
            let html = answer.text().await.unwrap();
            let line = &html[html.find(r#"id="receiver_pan-error""#).expect("the receiver's error line")..];
            let line = &line[..line.find("</p>").unwrap()];
            assert!(line.contains(r#"data-msg="Неверный номер карты""#), "{backend:?}: {line}");
            assert!(line.ends_with(&format!(">{message}")), "{backend:?}: {line}");
            assert!(html.contains(r#"id="transfer-form""#), "{backend:?}: the form again (form.js's marker)");
            assert!(html.contains(r#"value="01/27""#) && html.contains(r#"value="ARMAN ALI""#), "{backend:?}");
            assert_no_card_data(&html, &[VISA.0, receiver], "321");
            assert!(store.payment_by_invoice(P2P_TERMINAL, &invoice).await.unwrap().is_none(), "nothing written");
        }
    }
}

#[tokio::test]
async fn declines_are_worded_for_the_shopper_in_the_pages_language_with_the_code_kept() {
    let insufficient = ("4000000000009995", "1230", "123");
    let call_bank = ("4000000000000127", "1230", "123");
    let wrong_cvc = (VISA.0, VISA.1, "999");
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        for (language, card, code, words) in [
            ("rus", insufficient, 484, "На карте недостаточно средств"),
            ("kaz", insufficient, 484, "Картада қаражат жеткіліксіз"),
            ("eng", insufficient, 484, "There is not enough money on the card"),
            ("rus", call_bank, 462, "Позвоните в банк по номеру на обороте карты"),
            ("kaz", call_bank, 462, "банкке қоңырау шалыңыз"),
            ("eng", call_bank, 462, "Call the number on the back of the card"),
            ("rus", wrong_cvc, 2872, "Неверный CVC/CVV"),
            ("kaz", wrong_cvc, 2872, "CVC/CVV қате"),
            ("eng", wrong_cvc, 2872, "The CVC/CVV is wrong"),
        ] {
            let (link, invoice) = pay_link(&gw, language, TERMINAL).await;
            browser.goto(&link).await;
            browser.type_into("#pan", card.0).await;
            browser.type_into("#expiry", card.1).await;
            browser.type_into("#cvc", card.2).await;
            browser.type_into("#holder", "TEST TEST").await;
            browser.click("#submit").await;
            browser.wait(".alert", 15).await;
            let alert = browser.text(".alert").await;
            assert!(alert.contains(words), "{backend:?} {language}: {alert}");
            assert!(alert.ends_with(&format!("({code})")), "{backend:?} {language}: the code stays: {alert}");
            assert!(!alert.contains("Critical decline") && !alert.contains("Declined by issuer"), "{alert}");
            // The API and the callbacks keep ePay's words: only the pages change.
            let stored = gw.store().await.payment_by_invoice(TERMINAL, &invoice).await.unwrap().unwrap();
            let wire = epay_domain::ReasonCode::from_code(code).unwrap().message;
            assert_eq!((stored.reason_code, stored.reason.as_str()), (code, wire), "{backend:?}");
        }
    }
}

/// Pays with the enrolled card on the current page: the browser lands on the bank's page.
async fn pay_enrolled(browser: &Browser) {
    browser.type_into("#pan", ENROLLED.0).await;
    browser.type_into("#expiry", ENROLLED.1).await;
    browser.type_into("#cvc", ENROLLED.2).await;
    browser.type_into("#holder", "TEST TEST").await;
    browser.click("#submit").await;
    browser.wait("#otp", 15).await;
}

/// Answers the bank's page with `code` and waits until the browser has left that page.
async fn answer_code(browser: &Browser, code: &str) {
    browser.execute("document.getElementById('otp').value = ''; window.answered = true;").await;
    browser.type_into("#otp", code).await;
    browser.click("#acs-submit").await;
    for _ in 0..150 {
        let left = "return window.answered === undefined && document.readyState === 'complete';";
        if browser.execute(left).await == true {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the bank's page did not answer");
}

async fn background(browser: &Browser, css: &str) -> String {
    let script = format!("return getComputedStyle(document.querySelector('{css}')).backgroundColor;");
    browser.execute(&script).await.as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_bank_page_speaks_russian_takes_three_tries_and_sends_the_code_again() {
    for backend in backends() {
        let gw = secure_gateway(backend).await;
        let browser = Browser::start().await;
        let (link, invoice) = pay_link(&gw, "rus", SECURE_TERMINAL).await;
        browser.goto(&link).await;
        pay_enrolled(&browser).await;
        assert_eq!(browser.text("h1").await, "Подтверждение платежа", "{backend:?}");
        assert_eq!(browser.attribute("html", "lang").await.as_deref(), Some("ru"));
        assert_eq!(browser.text("#acs-submit").await, "Подтвердить");
        assert_eq!(browser.text("#acs-cancel").await, "Отменить платёж");
        // Confirm and Cancel do not look alike.
        let (primary, secondary) =
            (background(&browser, "#acs-submit").await, background(&browser, "#acs-cancel").await);
        assert_ne!(primary, secondary, "{backend:?}");
        // A wrong code: the page again, with the tries left; the code sent again; then the
        // right code pays.
        answer_code(&browser, "000000").await;
        browser.wait("#acs-error", 15).await;
        assert_eq!(browser.text("#acs-error").await, "Неверный код. Осталось попыток: 2", "{backend:?}");
        browser.click("#acs-resend").await;
        browser.wait("#acs-resent", 15).await;
        assert_eq!(browser.text("#acs-resent").await, "Код отправлен ещё раз.");
        answer_code(&browser, "123456").await;
        browser.wait_url("/demo/success", 30).await;
        let store = gw.store().await;
        let paid = store.payment_by_invoice(SECURE_TERMINAL, &invoice).await.unwrap().unwrap();
        assert!(matches!(paid.status.as_str(), "AUTH" | "CHARGE"), "{backend:?}: {}", paid.status);

        // Three wrong codes fail the payment with 473, worded for the shopper, and the right
        // one after them comes too late.
        let (link, invoice) = pay_link(&gw, "rus", SECURE_TERMINAL).await;
        browser.goto(&link).await;
        pay_enrolled(&browser).await;
        for left in [2, 1] {
            answer_code(&browser, "111111").await;
            browser.wait("#acs-error", 15).await;
            assert!(browser.text("#acs-error").await.ends_with(&format!(": {left}")), "{backend:?}");
        }
        answer_code(&browser, "111111").await;
        browser.wait("#pay-form", 15).await;
        let alert = browser.text(".alert").await;
        assert!(alert.contains("не подтверждён кодом банка") && alert.ends_with("(473)"), "{backend:?}: {alert}");
        let failed = store.payment_by_invoice(SECURE_TERMINAL, &invoice).await.unwrap().unwrap();
        assert_eq!((failed.status.as_str(), failed.reason_code), ("FAILED", 473), "{backend:?}");

        // Wrong codes sent at once are counted one by one: six at a fresh challenge give two
        // more tries and one failure, never a fourth try.
        let (link, _) = pay_link(&gw, "eng", SECURE_TERMINAL).await;
        browser.goto(&link).await;
        pay_enrolled(&browser).await;
        let html = browser.source().await;
        let answer = [
            ("acs_id", hidden_input(&html, "acs_id")),
            ("MD", hidden_input(&html, "MD")),
            ("TermUrl", hidden_input(&html, "TermUrl")),
            ("code", "222222".to_string()),
            ("action", "submit".to_string()),
        ];
        let post = || {
            let (gw, answer) = (&gw, &answer);
            async move {
                let sent = gw.http.post(format!("{}/acs/challenge/answer", gw.url)).form(&answer).send().await.unwrap();
                (sent.status().as_u16(), sent.text().await.unwrap())
            }
        };
        let (a, b, c, d, e, f) = tokio::join!(post(), post(), post(), post(), post(), post());
        let replies = [a, b, c, d, e, f];
        let count = |what: &str| replies.iter().filter(|(_, html)| html.contains(what)).count();
        assert_eq!(count(r#"id="acs-error""#), 2, "{backend:?}: {replies:?}");
        assert_eq!(count(r#"name="PaRes""#), 1, "{backend:?}");
        assert_eq!(count("already answered"), 3, "{backend:?}");
        // And then the right code is refused: the challenge is over.
        let right = [("code", "123456"), ("action", "submit")];
        let late = answer.iter().map(|(k, v)| (*k, v.as_str())).filter(|(k, _)| *k != "code" && *k != "action");
        let late: Vec<(&str, &str)> = late.chain(right).collect();
        let sent = gw.http.post(format!("{}/acs/challenge/answer", gw.url)).form(&late).send().await.unwrap();
        assert_eq!(sent.status(), 400, "{backend:?}");
        gw.assert_ledger_sound();
    }
}
