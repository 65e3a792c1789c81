//! The payment widget (`halyk.showPaymentWidget`) on the demo shop's checkout, a merchant page
//! with a strict CSP, and the card form's typing aids (caret, AMEX grouping, expiry, brand
//! icons), in headless Chromium against the real gateway (issue 19, items 1 and 2).

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::*;
use serde_json::Value;

const TAB: &str = "\u{E004}";
const ESC: &str = "\u{E00C}";
const BACKSPACE: &str = "\u{E003}";

/// A card the simulator declines.
const DECLINED: (&str, &str, &str) = ("4000000000000002", "1230", "123");

/// Fills the card form on the current page (or frame) and submits it.
async fn pay_with(browser: &Browser, card: (&str, &str, &str), holder: &str) {
    browser.type_into("#pan", card.0).await;
    browser.type_into("#expiry", card.1).await;
    browser.type_into("#cvc", card.2).await;
    browser.type_into("#holder", holder).await;
    browser.click("#submit").await;
}

/// Opens the demo shop's widget checkout and starts recording the page's CSP violations in
/// `window.violations` (the event Chromium fires for each blocked style, script or frame).
async fn widget_checkout(gw: &Gateway, browser: &Browser) {
    browser.goto(&format!("{}/", gw.url)).await;
    browser.click("#buy-widget").await;
    browser.wait("#open-widget", 10).await;
    browser
        .execute(
            "window.violations = [];
             document.addEventListener('securitypolicyviolation',
                 function (e) { window.violations.push(e.violatedDirective + ' ' + e.blockedURI); });
             return true;",
        )
        .await;
}

async fn violations(browser: &Browser) -> Value {
    browser.execute("return window.violations;").await
}

/// Waits until the demo's widget status reads `want`.
async fn widget_result(browser: &Browser, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = browser.attribute("#widget-status", "data-result").await;
        if status.as_deref() == Some(want) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the widget said {status:?}, not {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The id (or tag) of the parent page's focused element, and whether it is inside the widget.
async fn focus(browser: &Browser) -> (String, bool) {
    let v = browser
        .execute(
            "var a = document.activeElement; var s = document.querySelector('.widgetScreen');
             return [a ? (a.id || a.tagName) : '', !!(s && a && s.contains(a))];",
        )
        .await;
    (v[0].as_str().unwrap_or_default().to_string(), v[1].as_bool().unwrap_or(false))
}

#[tokio::test]
async fn the_widget_is_a_modal_dialog_under_the_shops_strict_csp() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        widget_checkout(&gw, &browser).await;
        // What the shop's `style-src 'self'` blocks in this Chromium, and what it lets through:
        // a style attribute is refused (a violation, no effect), a CSSOM write is not. The
        // widget uses only the second.
        let probe = browser
            .execute(
                "var a = document.createElement('div'); a.setAttribute('style', 'position:fixed');
                 var b = document.createElement('div'); b.style.setProperty('position', 'fixed');
                 document.body.append(a, b);
                 var r = [getComputedStyle(a).position, getComputedStyle(b).position];
                 a.remove(); b.remove(); return r;",
            )
            .await;
        assert_eq!(probe, serde_json::json!(["static", "fixed"]), "{backend:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(violations(&browser).await.to_string().contains("style-src"), "{backend:?}: the probe is reported");
        browser.execute("window.violations = []; return true;").await;

        browser.click("#open-widget").await;
        browser.enter_frame(".widgetScreen iframe").await;
        browser.wait("#pan", 15).await;
        browser.leave_frame().await;
        let layout = browser
            .execute(
                "var s = document.querySelector('.widgetScreen'), c = getComputedStyle(s);
                 var f = document.querySelector('.widgetScreen iframe').getBoundingClientRect();
                 var r = s.getBoundingClientRect();
                 return [c.position, r.left, r.top, r.width === document.documentElement.clientWidth,
                         r.height === document.documentElement.clientHeight,
                         f.width > 380, f.height > 600, s.getAttribute('role'), s.getAttribute('aria-modal')];",
            )
            .await;
        assert_eq!(layout, serde_json::json!(["fixed", 0, 0, true, true, true, true, "dialog", "true"]), "{backend:?}");
        assert_eq!(violations(&browser).await, serde_json::json!([]), "{backend:?}: the widget broke the CSP");

        // Tab goes round inside the dialog: the close button, the frame's fields, never the page.
        let (focused, inside) = focus(&browser).await;
        assert!(inside, "{backend:?}: opening focuses the widget, not {focused}");
        for i in 0..14 {
            browser.press(TAB).await;
            let (focused, inside) = focus(&browser).await;
            assert!(inside, "{backend:?}: Tab #{} left the widget for {focused}", i + 1);
        }
        for i in 0..4 {
            browser.chord(&["\u{E008}", TAB]).await; // Shift+Tab
            let (focused, inside) = focus(&browser).await;
            assert!(inside, "{backend:?}: Shift+Tab #{} left the widget for {focused}", i + 1);
        }
        // Esc, typed inside the frame, closes the widget and gives the focus back to its button.
        browser.enter_frame(".widgetScreen iframe").await;
        browser.click("#pan").await;
        browser.leave_frame().await;
        browser.press(ESC).await;
        widget_result(&browser, "closed").await;
        assert!(browser.find(".widgetScreen").await.is_none(), "{backend:?}");
        assert_eq!(focus(&browser).await.0, "open-widget", "{backend:?}");
        assert_eq!(browser.execute("return document.querySelector('main').inert;").await, false, "{backend:?}");

        // Closed is not over: the same token opens the form again. The close button closes it,
        // and so does Esc with the focus on the parent's side of the dialog.
        for how in ["button", "escape"] {
            browser.execute("document.getElementById('widget-status').removeAttribute('data-result'); return 1;").await;
            browser.click("#open-widget").await;
            browser.enter_frame(".widgetScreen iframe").await;
            browser.wait("#pan", 15).await; // the form, not "the token has already been used"
            browser.leave_frame().await;
            if how == "button" {
                assert_eq!(browser.attribute(".widgetClose", "aria-label").await.as_deref(), Some("Close"));
                browser.click(".widgetClose").await;
            } else {
                browser.execute("document.querySelector('.widgetClose').focus(); return 1;").await;
                browser.press(ESC).await;
            }
            widget_result(&browser, "closed").await;
            assert!(browser.find(".widgetScreen").await.is_none(), "{backend:?} {how}");
            assert_eq!(focus(&browser).await.0, "open-widget", "{backend:?} {how}");
        }
        assert_eq!(violations(&browser).await, serde_json::json!([]), "{backend:?}");
    }
}

/// The value and caret of the field `id`.
async fn field(browser: &Browser, id: &str) -> (String, i64) {
    let v =
        browser.execute(&format!("var e = document.getElementById('{id}'); return [e.value, e.selectionStart];")).await;
    (v[0].as_str().unwrap_or_default().to_string(), v[1].as_i64().unwrap_or(-1))
}

/// Empties `id`, focuses it and puts the caret at `at`.
async fn caret_at(browser: &Browser, id: &str, at: usize) {
    browser
        .execute(&format!(
            "var e = document.getElementById('{id}'); e.focus(); e.setSelectionRange({at}, {at}); return 1;"
        ))
        .await;
}

async fn clear(browser: &Browser, id: &str) {
    browser.execute(&format!("var e = document.getElementById('{id}'); e.value = ''; e.focus(); return 1;")).await;
}

/// The brand icon the form shows: its brand, its accessible name, and whether the served SVG
/// loaded (a broken image has no natural width).
async fn brand_icon(browser: &Browser) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let v = browser
            .execute(
                "var i = document.querySelector('#brand img');
                 return i ? [i.getAttribute('data-brand'), i.alt, i.complete && i.naturalWidth > 0] : null;",
            )
            .await;
        if v.get(2).and_then(Value::as_bool) == Some(true) || tokio::time::Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Typing aids of the card form. The database plays no part: one backend.
#[tokio::test]
async fn the_card_number_keeps_the_caret_and_the_expiry_fills_itself_in() {
    let backend = backends()[0];
    let gw = Gateway::start(backend).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", gw.url)).await;
    browser.click("#buy").await;
    browser.wait("#pan", 15).await;

    browser.type_into("#pan", VISA.0).await;
    assert_eq!(field(&browser, "pan").await, ("4405 6397 0401 5096".to_string(), 19));
    assert_eq!(brand_icon(&browser).await, serde_json::json!(["VISA", "Visa", true]));
    // Delete the "3" in the middle and type it again: the rest of the number stays in place,
    // and so does the caret (the issue: "4405 6970 4015 0963").
    caret_at(&browser, "pan", 7).await;
    browser.press(BACKSPACE).await;
    assert_eq!(field(&browser, "pan").await, ("4405 6970 4015 096".to_string(), 6));
    browser.press("3").await;
    assert_eq!(field(&browser, "pan").await, ("4405 6397 0401 5096".to_string(), 7));
    // Backspace just after a group's space deletes the digit before it, not nothing.
    caret_at(&browser, "pan", 5).await;
    browser.press(BACKSPACE).await;
    assert_eq!(field(&browser, "pan").await, ("4406 3970 4015 096".to_string(), 3));
    // Typing inside a group pushes the rest along; the caret follows the typed digit, past a
    // space when the digit lands at a group's start.
    browser.press("5").await;
    assert_eq!(field(&browser, "pan").await, ("4405 6397 0401 5096".to_string(), 4));
    browser.press("1").await;
    assert_eq!(field(&browser, "pan").await, ("4405 1639 7040 1509 6".to_string(), 6));

    // AMEX: 4-6-5, 15 digits at most, its own icon.
    clear(&browser, "pan").await;
    browser.type_into("#pan", &format!("{}99", AMEX.0)).await;
    assert_eq!(field(&browser, "pan").await.0, "3775 145000 04820");
    assert_eq!(brand_icon(&browser).await, serde_json::json!(["AMEX", "American Express", true]));
    caret_at(&browser, "pan", 6).await;
    browser.press(BACKSPACE).await;
    assert_eq!(field(&browser, "pan").await, ("3775 450000 4820".to_string(), 4));
    for (number, brand, name) in [
        ("5522042705066736", "MasterCard", "Mastercard"),
        ("6250941006528599", "UnionPay", "UnionPay"),
        ("2200150000000007", "MIR", "Mir"),
    ] {
        clear(&browser, "pan").await;
        browser.type_into("#pan", number).await;
        assert_eq!(brand_icon(&browser).await, serde_json::json!([brand, name, true]), "{number}");
    }
    clear(&browser, "pan").await;
    browser.type_into("#pan", "9").await;
    assert_eq!(brand_icon(&browser).await, Value::Null, "no brand, no icon");

    // The expiry: the month is filled in as soon as it is certain.
    for (typed, shown) in [
        ("4", "04/"),
        ("1", "1"),
        ("12", "12/"),
        ("13", "01/3"),
        ("0", "0"),
        ("00", "0"),
        ("09", "09/"),
        ("1227", "12/27"),
        ("12/27", "12/27"),
        ("427", "04/27"),
    ] {
        clear(&browser, "expiry").await;
        browser.type_into("#expiry", typed).await;
        assert_eq!(field(&browser, "expiry").await.0, shown, "typed {typed}");
    }
    // Autofill gives the whole date at once, often with a four-digit year.
    for (filled, shown) in [("12/2027", "12/27"), ("1/2027", "01/27"), ("122027", "12/27")] {
        browser
            .execute(&format!(
                "var e = document.getElementById('expiry'); e.value = '{filled}';
                 e.dispatchEvent(new InputEvent('input', {{inputType: 'insertReplacementText'}})); return 1;"
            ))
            .await;
        assert_eq!(field(&browser, "expiry").await.0, shown, "autofilled {filled}");
    }
    // Backspace takes the added "/" away rather than fighting it.
    clear(&browser, "expiry").await;
    browser.type_into("#expiry", "4").await;
    browser.press(BACKSPACE).await;
    assert_eq!(field(&browser, "expiry").await.0, "04");
    browser.press(BACKSPACE).await;
    assert_eq!(field(&browser, "expiry").await.0, "0");

    // The aids leave a payable form: it pays.
    clear(&browser, "pan").await;
    clear(&browser, "expiry").await;
    browser.type_into("#pan", VISA.0).await;
    browser.type_into("#expiry", VISA.1).await;
    assert_eq!(field(&browser, "expiry").await.0, "01/27");
    browser.type_into("#cvc", VISA.2).await;
    browser.type_into("#holder", "TEST TEST").await;
    browser.click("#submit").await;
    browser.wait_url("/demo/success", 30).await;
}

/// A decline in the widget brings the form back in it; the second card pays; the finished
/// order then asks the shop for a new one instead of showing a spent token.
#[tokio::test]
async fn a_declined_card_is_retried_inside_the_widget() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        widget_checkout(&gw, &browser).await;
        let object = browser.execute("return JSON.parse(document.getElementById('payment-object').textContent);").await;
        let invoice = object["invoiceId"].as_str().unwrap().to_string();
        browser.click("#open-widget").await;
        browser.enter_frame(".widgetScreen iframe").await;
        pay_with(&browser, DECLINED, "TEST TEST").await;
        let alert = browser.text(".alert").await;
        assert!(alert.to_lowercase().contains("declined"), "{backend:?}: {alert}");
        assert_eq!(browser.text("#attempts-left").await, "Attempts left: 2", "{backend:?}");
        browser.leave_frame().await;
        assert!(browser.find(".widgetScreen").await.is_some(), "{backend:?}: a decline keeps the widget open");
        assert_eq!(browser.attribute("#widget-status", "data-result").await, None, "{backend:?}");
        browser.enter_frame(".widgetScreen iframe").await;
        browser.type_into("#pan", VISA.0).await;
        browser.type_into("#expiry", VISA.1).await;
        browser.type_into("#cvc", VISA.2).await;
        browser.click("#submit").await;
        browser.leave_frame().await;
        widget_result(&browser, "success").await;
        let token = gw.service_token(TERMINAL).await;
        let status = gw.client.status(&token, &invoice).await.unwrap().transaction.unwrap();
        assert_eq!(status.status_name, "AUTH", "{backend:?}");

        // The same payment object again (the token is spent): no frame, the callback at once.
        let answer = browser
            .execute(
                "var r = null;
                 halyk.showPaymentWidget(JSON.parse(document.getElementById('payment-object').textContent),
                     function (x) { r = x; });
                 return [r, !!document.querySelector('.widgetScreen')];",
            )
            .await;
        assert_eq!(answer, serde_json::json!([{"success": false, "newTokenNeeded": true}, false]), "{backend:?}");
        // The shop's next order: a new invoice, a new token, a working widget.
        widget_checkout(&gw, &browser).await;
        let next = browser.execute("return JSON.parse(document.getElementById('payment-object').textContent);").await;
        assert_ne!(next["invoiceId"], object["invoiceId"], "{backend:?}");
        browser.click("#open-widget").await;
        browser.enter_frame(".widgetScreen iframe").await;
        browser.wait("#pan", 15).await;
    }
}

/// The last allowed attempt declined: the widget closes with `newTokenNeeded`, the shop offers
/// a new order, and opening the old one again never shows a page about the spent order.
#[tokio::test]
async fn the_last_declined_attempt_asks_the_shop_for_a_new_order() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (ok, out) = gw.run_cli(&["terminal", "update", TERMINAL, "--max-attempts", "1"]);
        assert!(ok, "{out}");
        let browser = Browser::start().await;
        widget_checkout(&gw, &browser).await;
        browser.click("#open-widget").await;
        browser.enter_frame(".widgetScreen iframe").await;
        pay_with(&browser, DECLINED, "TEST TEST").await;
        browser.leave_frame().await;
        widget_result(&browser, "failure").await;
        assert!(browser.find(".widgetScreen").await.is_none(), "{backend:?}");
        assert_eq!(browser.attribute("#new-order", "hidden").await, None, "{backend:?}: the shop offers a new order");
        assert_eq!(browser.attribute("#open-widget", "hidden").await.as_deref(), Some("true"), "{backend:?}");
        // In this window the widget remembers the order is over: the callback at once.
        let again = browser
            .execute(
                "var r = null; halyk.showPaymentWidget(JSON.parse(document.getElementById('payment-object').textContent),
                     function (x) { r = x; }); return r;",
            )
            .await;
        assert_eq!(again, serde_json::json!({"success": false, "newTokenNeeded": true}), "{backend:?}");
        // A stale copy of the object in a fresh window (another tab, a reload) opens a frame;
        // the page it shows ("Too many failed payment attempts") reports itself as final, and
        // the widget closes with newTokenNeeded instead of leaving the shopper on it.
        let object = browser.execute("return document.getElementById('payment-object').textContent;").await;
        // The shop's "Start a new order": a new invoice and token, the form in the widget.
        browser.click("#new-order-button").await;
        // The form posts and the page reloads: wait for the new page's button (the old page's
        // is hidden), or the click lands on the page that is going away.
        browser.click("#open-widget:not([hidden])").await;
        browser.enter_frame(".widgetScreen iframe").await;
        browser.wait("#pan", 15).await;
        browser.leave_frame().await;
        widget_checkout(&gw, &browser).await;
        browser
            .execute(&format!(
                "window.stale = null; halyk.showPaymentWidget({}, function (x) {{ window.stale = x; }}); return 1;",
                object.as_str().unwrap()
            ))
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let stale = loop {
            let stale = browser.execute("return window.stale;").await;
            if !stale.is_null() || tokio::time::Instant::now() > deadline {
                break stale;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(stale, serde_json::json!({"success": false, "newTokenNeeded": true}), "{backend:?}");
        assert!(browser.find(".widgetScreen").await.is_none(), "{backend:?}");
    }
}
