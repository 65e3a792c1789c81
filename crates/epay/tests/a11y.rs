//! Issue 19 item 7, in headless Chromium on SQLite and PostgreSQL: the pages pass axe-core's
//! WCAG 2.0 / 2.1 / 2.2 A and AA rules (the card form in ru/kk/en on a phone, with its field
//! errors, the P2P form, the simulated bank's 3-D Secure page, the result page, the cabinet's
//! sign-in and overview); field borders reach 3:1 and the brand label 4.5:1; empty fields ask for
//! their value; a disabled Pay button says why; a Kazakh name pays; expiry and CVC line up in
//! Kazakh on a phone.

mod common;

use common::browser::Browser;
use common::*;
use epay_server::runtime::seed::{CABINET_EMAIL, CABINET_PASSWORD};

/// The card form for a fresh invoice of 100 KZT on `terminal`, in `language`; the widget's
/// (`short`) result page stays put, the full page's goes back to the shop.
async fn pay_link(gw: &Gateway, language: &str, terminal: &str, short: bool) -> (String, String) {
    let invoice = invoice();
    let token = gw.token_on(&invoice, major("100"), terminal).await;
    let params = page_params(gw, &invoice, token, language, terminal, &[]);
    let widget = if short { "&isShortForm=true" } else { "" };
    (format!("{}/payform/?params={params}{widget}", gw.url), invoice)
}

/// Fails listing every axe-core violation on the current page.
async fn assert_axe_clean(browser: &Browser, page: &str) {
    let violations = browser.axe().await;
    assert!(violations.is_empty(), "{page}: {} WCAG violation(s):\n{}", violations.len(), violations.join("\n"));
}

/// WCAG's relative luminance and contrast ratio, in the page, over computed colours; the
/// background is the nearest ancestor's (the element's own included) that is not transparent.
const CONTRAST_JS: &str = r#"
    const rgb = s => s.match(/[\d.]+/g).map(Number);
    const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                       return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const background = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
                                 if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
"#;

/// Each visible field's border contrast (WCAG 1.4.11): against the field's own background and
/// the one around it, whichever is lower; (id, ratio).
async fn border_contrasts(browser: &Browser) -> Vec<(String, f64)> {
    let script = format!(
        "{CONTRAST_JS}
        return [...document.querySelectorAll('input:not([type=hidden]), select')]
          .filter(el => el.offsetParent !== null)
          .map(el => {{ const border = rgb(getComputedStyle(el).borderTopColor);
                       return [el.id, Math.min(ratio(border, background(el)), ratio(border, background(el.parentElement)))]; }});"
    );
    let found = browser.execute(&script).await;
    let fields: Vec<(String, f64)> = found
        .as_array()
        .unwrap_or_else(|| panic!("{found}"))
        .iter()
        .map(|pair| (pair[0].as_str().unwrap().to_string(), pair[1].as_f64().unwrap()))
        .collect();
    assert!(!fields.is_empty(), "no fields found at {}", browser.url().await);
    fields
}

async fn assert_borders_reach_3_to_1(browser: &Browser, page: &str) {
    for (id, ratio) in border_contrasts(browser).await {
        assert!(ratio >= 3.0, "{page}: the border of #{id} is {ratio:.2}:1, under 3:1");
    }
}

/// The text contrast of `css` against its background.
async fn text_contrast(browser: &Browser, css: &str) -> f64 {
    let script = format!(
        "{CONTRAST_JS} const el = document.querySelector('{css}');
         return ratio(rgb(getComputedStyle(el).color), background(el));"
    );
    browser.execute(&script).await.as_f64().unwrap()
}

async fn top(browser: &Browser, css: &str) -> f64 {
    browser
        .execute(&format!("return document.querySelector('{css}').getBoundingClientRect().top;"))
        .await
        .as_f64()
        .unwrap()
}

async fn height(browser: &Browser, css: &str) -> f64 {
    let script = format!("return document.querySelector('{css}').getBoundingClientRect().height;");
    browser.execute(&script).await.as_f64().unwrap()
}

/// Focuses and leaves each field in turn, typing nothing: the form shows what each needs.
async fn leave_empty(browser: &Browser, fields: &[&str]) {
    for field in fields {
        browser.click(field).await;
    }
    browser.click("h1").await;
}

#[tokio::test]
async fn the_card_form_passes_axe_in_three_languages_on_a_phone_with_and_without_errors() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.set_window_size(390, 844).await;
        for (language, asks, wrong, waits) in [
            (
                "rus",
                [
                    "Введите номер карты",
                    "Введите срок действия карты",
                    "Введите CVC/CVV",
                    "Введите имя владельца карты",
                ],
                "Неверный номер карты",
                "Кнопка станет доступна",
            ),
            (
                "kaz",
                [
                    "Карта нөмірін енгізіңіз",
                    "Картаның қолданылу мерзімін енгізіңіз",
                    "CVC/CVV кодын енгізіңіз",
                    "Карта иесінің атын енгізіңіз",
                ],
                "Карта нөмірі қате",
                "түйме қолжетімді болады",
            ),
            (
                "eng",
                ["Enter the card number", "Enter the expiry date", "Enter the CVC/CVV", "Enter the cardholder name"],
                "Invalid card number",
                "The button becomes available",
            ),
        ] {
            let page = format!("{backend:?} card form {language}");
            let (link, _) = pay_link(&gw, language, TERMINAL, false).await;
            browser.goto(&link).await;
            browser.wait("#submit", 15).await;
            assert_axe_clean(&browser, &page).await;
            assert_borders_reach_3_to_1(&browser, &page).await;
            let brand = text_contrast(&browser, "#brand").await;
            assert!(brand >= 4.5, "{page}: the brand label is {brand:.2}:1, under 4.5:1");

            // Pay is disabled at first, and says why: tied to it, naming the fields to fill in.
            assert_eq!(browser.execute("return document.getElementById('submit').disabled;").await, true);
            assert_eq!(browser.attribute("#submit", "aria-describedby").await.as_deref(), Some("submit-why"));
            let why = browser.text("#submit-why").await;
            assert!(why.contains(waits), "{page}: {why}");
            let number_label =
                browser.execute("return document.querySelector('label[for=pan]').firstChild.textContent.trim();").await;
            assert!(why.contains(number_label.as_str().unwrap()), "{page}: {why} names the card number field");

            // Empty fields ask for their value; axe passes with the errors shown.
            leave_empty(&browser, &["#pan", "#expiry", "#cvc", "#holder"]).await;
            for (field, ask) in ["#pan-error", "#expiry-error", "#cvc-error", "#holder-error"].iter().zip(asks) {
                assert_eq!(browser.text(field).await, ask, "{page} {field}");
            }
            assert_eq!(browser.attribute("#pan", "aria-invalid").await.as_deref(), Some("true"));
            assert_axe_clean(&browser, &format!("{page} with errors")).await;
            // A wrong value says it is wrong.
            browser.type_into("#pan", "4405639704015097").await;
            browser.click("h1").await;
            assert_eq!(browser.text("#pan-error").await, wrong, "{page}");
            // Once every field is right, Pay is enabled and the reason goes.
            browser.execute("document.getElementById('pan').value = '';").await;
            browser.type_into("#pan", VISA.0).await;
            browser.type_into("#expiry", VISA.1).await;
            browser.type_into("#cvc", VISA.2).await;
            browser.type_into("#holder", "Арман Әли").await;
            browser.click("h1").await;
            assert_eq!(browser.execute("return document.getElementById('submit').disabled;").await, false, "{page}");
            assert_eq!(browser.text("#submit-why").await, "", "{page}");
            assert_eq!(browser.text("#holder-error").await, "", "{page}: a Kazakh name is accepted");
            let brand = text_contrast(&browser, "#brand").await;
            assert!(brand >= 4.5, "{page}: the brand label is {brand:.2}:1 with a brand shown");
        }
    }
}

#[tokio::test]
async fn expiry_and_cvc_line_up_in_kazakh_on_a_phone_with_and_without_errors() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.set_window_size(390, 844).await;
        let (link, _) = pay_link(&gw, "kaz", TERMINAL, false).await;
        browser.goto(&link).await;
        browser.wait("#submit", 15).await;
        // The Kazakh expiry label wraps on a phone and the CVC label does not: the case at hand.
        let (expiry_label, cvc_label) =
            (height(&browser, "label[for=expiry]").await, height(&browser, "label[for=cvc]").await);
        assert!(expiry_label > cvc_label * 1.5, "{backend:?}: the expiry label wraps ({expiry_label} vs {cvc_label})");
        let (expiry, cvc) = (top(&browser, "#expiry").await, top(&browser, "#cvc").await);
        assert!((expiry - cvc).abs() < 0.5, "{backend:?}: expiry at {expiry}, CVC at {cvc}");
        // A long error under one of them moves neither input.
        browser.type_into("#expiry", "13").await;
        browser.type_into("#cvc", "1").await;
        leave_empty(&browser, &["#expiry", "#cvc"]).await;
        assert!(!browser.text("#expiry-error").await.is_empty(), "{backend:?}");
        let (expiry_after, cvc_after) = (top(&browser, "#expiry").await, top(&browser, "#cvc").await);
        assert!((expiry_after - cvc_after).abs() < 0.5, "{backend:?}: expiry at {expiry_after}, CVC at {cvc_after}");
        assert!((expiry_after - expiry).abs() < 0.5, "{backend:?}: errors below do not move the inputs");
    }
}

#[tokio::test]
async fn a_kazakh_name_pays_and_the_result_page_passes_axe() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.set_window_size(390, 844).await;
        let (link, invoice) = pay_link(&gw, "kaz", TERMINAL, true).await;
        browser.goto(&link).await;
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", VISA.1).await;
        browser.type_into("#cvc", VISA.2).await;
        browser.type_into("#holder", "Арман Әли").await;
        browser.click("#submit").await;
        browser.wait("#result", 15).await;
        assert_eq!(browser.attribute("#result", "data-success").await.as_deref(), Some("true"), "{backend:?}");
        assert_axe_clean(&browser, &format!("{backend:?} result page")).await;
        let paid = gw.store().await.payment_by_invoice(TERMINAL, &invoice).await.unwrap().expect("paid");
        assert_eq!(paid.payer_name, "Арман Әли", "{backend:?}");
        // The status API answers the name as typed (ePay's `name` is free text).
        let status = gw.status_answer(TERMINAL, &invoice).await;
        assert_eq!(status["transaction"]["name"], "Арман Әли", "{backend:?}: {status}");
    }
}

#[tokio::test]
async fn the_server_asks_for_empty_fields_and_refuses_a_name_that_is_not_letters() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.token_on(&invoice, major("100"), TERMINAL).await;
        let raw = page_params(&gw, &invoice, token, "rus", TERMINAL, &[]);
        let post = |pan: &str, expiry: &str, cvc: &str, name: &str| {
            let form = [("params", raw.as_str()), ("pan", pan), ("expiry", expiry), ("cvc", cvc), ("name", name)];
            let request = gw.http.post(format!("{}/payform/pay", gw.url)).form(&form);
            async move {
                let answer = request.send().await.unwrap();
                (answer.status().as_u16(), answer.text().await.unwrap())
            }
        };
        // The form comes back with the refusal in its alert (the fields' own lines hold form.js's
        // texts in data-empty and data-msg).
        let alert = |page: &str| {
            let start = page.find(r#"<p class="alert" role="alert">"#).unwrap_or_else(|| panic!("no alert: {page}"));
            page[start..].split("</p>").next().unwrap().to_string()
        };
        let (status, page) = post("", "", "", " ").await;
        assert_eq!(status, 400, "{backend:?}");
        let page = alert(&page);
        for ask in
            ["Введите номер карты", "Введите срок действия карты", "Введите CVC/CVV", "Введите имя владельца карты"]
        {
            assert!(page.contains(ask), "{backend:?}: {ask} in {page}");
        }
        let (status, page) = post(VISA.0, VISA.1, VISA.2, "Arman 007").await;
        assert_eq!(status, 400, "{backend:?}");
        assert!(alert(&page).contains("только буквы (латиница или кириллица)"), "{backend:?}: {page}");
        let (status, page) = post("4405639704015097", VISA.1, VISA.2, "Арман Әли").await;
        assert_eq!(status, 400, "{backend:?}");
        let page = alert(&page);
        assert!(page.contains("Неверный номер карты") && !page.contains("Введите номер карты"), "{backend:?}: {page}");
        assert!(gw.store().await.payment_by_invoice(TERMINAL, &invoice).await.unwrap().is_none(), "nothing written");
        let (status, _) = post(VISA.0, VISA.1, VISA.2, "Ғалым Құдайберген-Өмір").await;
        assert_eq!(status, 200, "{backend:?}");
        let paid = gw.store().await.payment_by_invoice(TERMINAL, &invoice).await.unwrap().expect("paid");
        assert_eq!(paid.payer_name, "Ғалым Құдайберген-Өмір", "{backend:?}");
    }
}

#[tokio::test]
async fn the_p2p_form_and_the_bank_page_pass_axe() {
    for backend in backends() {
        let gw = secure_gateway(backend).await;
        let browser = Browser::start().await;
        browser.set_window_size(390, 844).await;
        browser.goto(&p2p_page_link(&gw, "RU").await.0).await;
        browser.wait("#transfer-submit", 15).await;
        assert_axe_clean(&browser, &format!("{backend:?} P2P form")).await;
        assert_borders_reach_3_to_1(&browser, &format!("{backend:?} P2P form")).await;
        assert!(browser.text("#transfer-submit-why").await.starts_with("Кнопка станет доступна"), "{backend:?}");
        leave_empty(&browser, &["#pan", "#expiry", "#cvc", "#receiver_pan"]).await;
        assert_eq!(browser.text("#pan-error").await, "Введите номер карты", "{backend:?}");
        assert_eq!(browser.text("#receiver_pan-error").await, "Введите номер карты получателя", "{backend:?}");
        assert_axe_clean(&browser, &format!("{backend:?} P2P form with errors")).await;

        let (link, _) = pay_link(&gw, "kaz", SECURE_TERMINAL, false).await;
        browser.goto(&link).await;
        browser.type_into("#pan", ENROLLED.0).await;
        browser.type_into("#expiry", ENROLLED.1).await;
        browser.type_into("#cvc", ENROLLED.2).await;
        browser.type_into("#holder", "Арман Әли").await;
        browser.click("#submit").await;
        browser.wait("#otp", 15).await;
        assert_axe_clean(&browser, &format!("{backend:?} 3-D Secure page")).await;
        assert_borders_reach_3_to_1(&browser, &format!("{backend:?} 3-D Secure page")).await;
    }
}

#[tokio::test]
async fn the_cabinet_sign_in_and_overview_pass_axe() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let request = gw.payment_request(&invoice, major("100"), VISA).await;
        gw.client.cryptopay(&token, &request).await.unwrap();
        let browser = Browser::start().await;
        browser.set_window_size(1280, 1000).await;
        browser.goto(&format!("{}/cabinet/lang/en?back=/cabinet/login", gw.url)).await;
        browser.wait("#sign-in", 10).await;
        assert_axe_clean(&browser, &format!("{backend:?} cabinet sign-in")).await;
        assert_borders_reach_3_to_1(&browser, &format!("{backend:?} cabinet sign-in")).await;
        browser.type_into("#email", CABINET_EMAIL).await;
        browser.type_into("#password", CABINET_PASSWORD).await;
        browser.click("#sign-in").await;
        browser.wait_url("/cabinet/overview", 15).await;
        browser.wait("#chart-count", 5).await;
        assert_axe_clean(&browser, &format!("{backend:?} cabinet overview")).await;
        // On a phone too.
        browser.set_window_size(390, 844).await;
        assert_axe_clean(&browser, &format!("{backend:?} cabinet overview on a phone")).await;
    }
}
