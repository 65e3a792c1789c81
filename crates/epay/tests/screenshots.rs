//! The pictures in docs/screenshots/ of the shopper's pages (issue 19, "done when"), taken in
//! headless Chromium against a real gateway: the card form in Russian, Kazakh and English on a
//! desktop (1280×800) and a phone (390×844), a decline, the result, the simulated bank's 3-D
//! Secure page, the P2P form and the widget open over the demo shop. The cabinet's pictures
//! (`cabinet-*.png`) are taken by tests/cabinet.rs, each where its page is tested.
//!
//! Every picture is of a page this test checks first (language, what the page says, nothing
//! wider than the window), so a broken page fails here instead of landing in the docs. The test
//! finds things by the pages' stable ids only (#pan, #submit, #result, #otp, …): other work
//! changes the pages' look, and the lead reruns this test with `EPAY_REFRESH_SCREENSHOTS=1` to
//! refresh the pictures (without it they go to the build's own directory, `screenshots_dir`).
//!
//! One gateway on SQLite and one browser keep it short: the pictures do not depend on the
//! database, and every flow shown here runs on both backends in the tests that own it
//! (page.rs, page_ux.rs, widget.rs, three_ds.rs).

mod common;

use std::path::PathBuf;

use common::browser::Browser;
use common::*;
use epay_client::TokenRequest;
use epay_server::platform::test_merchant::{P2P_TERMINAL, THREE_DS_TERMINAL};

const DESKTOP: (u32, u32) = (1280, 800);
const PHONE: (u32, u32) = (390, 844);

fn picture(name: &str) -> PathBuf {
    common::browser::screenshots_dir().join(name)
}

/// The page's `params` for a fresh order of 2 500 KZT in `language` on `terminal`, carrying
/// `token`; `back_link: false` leaves the shop's links out (the result page then stays).
fn params(gw: &Gateway, invoice: &str, token: String, language: &str, terminal: &str, back_link: bool) -> String {
    let mut fields = vec![
        ("invoiceId", invoice.to_string()),
        ("language", language.to_string()),
        ("description", "ePay mug".to_string()),
        ("terminal", terminal.to_string()),
        ("amount", "2500".to_string()),
        ("currency", "KZT".to_string()),
    ];
    if terminal == P2P_TERMINAL {
        // The customer the transfer token names (its saved cards are offered).
        fields.push(("accountId", "testuser1".to_string()));
    }
    if back_link {
        fields.push(("backLink", format!("{}/demo/success?invoiceId={invoice}", gw.url)));
        fields.push(("failureBackLink", format!("{}/demo/failure?invoiceId={invoice}", gw.url)));
    }
    epay_server::edge::page::params::encode(&fields, &[("access_token", token), ("expires_in", "7200".into())])
}

/// The card form for a fresh invoice.
async fn card_form(gw: &Gateway, language: &str, terminal: &str, back_link: bool) -> String {
    let invoice = invoice();
    let token = gw.token_on(&invoice, major("2500"), terminal).await;
    format!("{}/payform/?params={}", gw.url, params(gw, &invoice, token, language, terminal, back_link))
}

/// The P2P form (halyk.p2p) for testuser1.
async fn p2p_form(gw: &Gateway, language: &str) -> String {
    let request = TokenRequest {
        scope: "transfer".into(),
        client_id: CLIENT.into(),
        client_secret: SECRET.into(),
        terminal: Some(P2P_TERMINAL.into()),
        secret_hash: Some("JDKCNDDGGDTPSKJD".into()),
        account_id: Some("testuser1".into()),
        ..Default::default()
    };
    let token = gw.client.token(&request).await.unwrap().access_token;
    format!(
        "{}/payform/?params={}&isTransfer=true",
        gw.url,
        params(gw, &invoice(), token, language, P2P_TERMINAL, true)
    )
}

async fn fill_card(browser: &Browser, card: (&str, &str, &str), holder: &str) {
    browser.type_into("#pan", card.0).await;
    browser.type_into("#expiry", card.1).await;
    browser.type_into("#cvc", card.2).await;
    browser.type_into("#holder", holder).await;
}

/// Checks the page is shown at `size`, fits it (nothing scrolls sideways) and speaks `lang`,
/// then takes its picture.
async fn shoot(browser: &Browser, lang: &str, (width, height): (u32, u32), name: &str) {
    let fit = browser
        .execute(
            "return [window.innerWidth, window.innerHeight, document.documentElement.scrollWidth,
                     document.documentElement.lang];",
        )
        .await;
    assert_eq!((fit[0].as_u64(), fit[1].as_u64()), (Some(width.into()), Some(height.into())), "{name}");
    assert!(fit[2].as_u64().unwrap() <= u64::from(width), "{name}: the page is wider than the window: {fit}");
    assert_eq!(fit[3], lang, "{name}");
    browser.screenshot(&picture(name)).await;
}

#[tokio::test]
async fn the_shoppers_pages_are_pictured() {
    let gw = Gateway::start(Backend::Sqlite).await;
    let browser = Browser::start().await;

    // The card form, in each language, on a desktop and on a phone.
    for (language, lang, label) in
        [("rus", "ru", "Номер карты"), ("kaz", "kk", "Карта нөмірі"), ("eng", "en", "Card number")]
    {
        let link = card_form(&gw, language, TERMINAL, true).await;
        for (size, window) in [("desktop", DESKTOP), ("phone", PHONE)] {
            browser.set_viewport_size(window.0, window.1).await;
            browser.goto(&link).await;
            browser.wait("#submit", 15).await;
            assert!(browser.text("label[for=pan]").await.starts_with(label), "{language} {size}");
            shoot(&browser, lang, window, &format!("page-{lang}-{size}.png")).await;
        }
    }

    // A decline, worded for the shopper in Kazakh with its code, on a phone.
    browser.set_viewport_size(PHONE.0, PHONE.1).await;
    browser.goto(&card_form(&gw, "kaz", TERMINAL, true).await).await;
    fill_card(&browser, ("4000000000000127", "1230", "123"), "ARMAN ALI").await;
    browser.click("#submit").await;
    browser.wait(".alert", 15).await;
    let alert = browser.text(".alert").await;
    assert!(alert.contains("банкке қоңырау шалыңыз") && alert.ends_with("(462)"), "{alert}");
    shoot(&browser, "kk", PHONE, "decline-kk.png").await;

    // The result of a payment, in Russian. Without the shop's links it stays on the screen
    // (with them it returns to the shop by itself, maybe before the picture is taken).
    browser.set_viewport_size(DESKTOP.0, DESKTOP.1).await;
    browser.goto(&card_form(&gw, "rus", TERMINAL, false).await).await;
    fill_card(&browser, VISA, "ARMAN ALI").await;
    browser.click("#submit").await;
    browser.wait("#result", 15).await;
    assert_eq!(browser.attribute("#result", "data-success").await.as_deref(), Some("true"));
    assert!(!browser.text("#result h1").await.is_empty());
    shoot(&browser, "ru", DESKTOP, "result-ru.png").await;

    // The simulated bank's 3-D Secure page, in the payment's language.
    browser.goto(&card_form(&gw, "rus", THREE_DS_TERMINAL, true).await).await;
    fill_card(&browser, ("4000000000003220", "1230", "123"), "ARMAN ALI").await;
    browser.click("#submit").await;
    browser.wait("#otp", 15).await;
    assert_eq!(browser.text("#acs-submit").await, "Подтвердить");
    shoot(&browser, "ru", DESKTOP, "acs-ru.png").await;

    // The P2P form, filled in on a desktop; on a phone, after the server refused the receiver
    // (the sender's own card): the message by the field, the typed cards kept, the CVC not.
    browser.goto(&p2p_form(&gw, "RU").await).await;
    browser.wait("#transfer-submit", 15).await;
    fill_card(&browser, VISA, "ARMAN ALI").await;
    browser.type_into("#receiver_pan", MASTERCARD.0).await;
    browser.click("#holder").await;
    assert_eq!(browser.execute("return document.getElementById('transfer-submit').disabled;").await, false);
    shoot(&browser, "ru", DESKTOP, "p2p-ru-desktop.png").await;
    browser.set_viewport_size(PHONE.0, PHONE.1).await;
    browser.execute("document.getElementById('receiver_pan').value = '';").await;
    browser.type_into("#receiver_pan", VISA.0).await;
    browser.click("#transfer-submit").await;
    browser.wait(".alert", 15).await;
    assert_eq!(browser.text("#receiver_pan-error").await, "Карта получателя совпадает с картой отправителя");
    let kept = browser.execute("return [document.getElementById('pan').value, document.getElementById('cvc').value];");
    assert_eq!(kept.await, serde_json::json!(["4405 6397 0401 5096", ""]));
    shoot(&browser, "ru", PHONE, "p2p-ru-phone.png").await;

    // The widget open over the demo shop (a merchant page with a strict CSP), on a desktop.
    browser.set_viewport_size(DESKTOP.0, DESKTOP.1).await;
    browser.goto(&format!("{}/", gw.url)).await;
    browser.click("#buy-widget").await;
    browser.click("#open-widget").await;
    browser.enter_frame(".widgetScreen iframe").await;
    browser.wait("#pan", 15).await;
    browser.type_into("#pan", VISA.0).await;
    browser.leave_frame().await;
    let dialog = browser
        .execute(
            "var s = document.querySelector('.widgetScreen'), r = s.getBoundingClientRect();
             return [getComputedStyle(s).position, s.getAttribute('role'),
                     r.width === document.documentElement.clientWidth, window.innerWidth];",
        )
        .await;
    assert_eq!(dialog, serde_json::json!(["fixed", "dialog", true, DESKTOP.0]), "the widget covers the shop");
    let height = browser.execute("return window.innerHeight;").await;
    assert_eq!(height, DESKTOP.1, "the picture is of a desktop window");
    browser.screenshot(&picture("widget.png")).await;
}
