//! The success page is a receipt (issue 19 item 6), in headless Chromium, on SQLite and
//! PostgreSQL: merchant, amount, masked card, reference and date from the gateway's record, never
//! the full card number; the e-mail receipt reaches the sandbox outbox once however often it is
//! asked for; a forged ticket, or one naming another payment, is refused and writes nothing; the
//! way back to the shop is a visible countdown; the demo shop shows the status in words.

mod common;

use common::browser::Browser;
use common::*;
use epay_client::TokenRequest;
use epay_domain::{MessageChannel, MessageKind, MessageLanguage};
use epay_server::runtime::seed::TEST_MERCHANT_ID;
use epay_store::MessageFilter;

/// A payment page link for a fresh 100 KZT order with the shopper's `email`, in `language`.
async fn page_link(gw: &Gateway, language: &str, email: &str) -> (String, String) {
    let invoice = invoice();
    let token =
        gw.client.token(&TokenRequest::payment(CLIENT, SECRET, &invoice, major("100"), "KZT", TERMINAL)).await.unwrap();
    let params = page_params(gw, &invoice, token.access_token, language, TERMINAL, &[("email", email)]);
    (format!("{}/payform/?params={params}", gw.url), invoice)
}

async fn pay_with(browser: &Browser, card: (&str, &str, &str), holder: &str) {
    browser.type_into("#pan", card.0).await;
    browser.type_into("#expiry", card.1).await;
    browser.type_into("#cvc", card.2).await;
    browser.type_into("#holder", holder).await;
    browser.click("#submit").await;
}

/// Whether the element is rendered (not `hidden`, not `display: none`).
async fn visible(browser: &Browser, css: &str) -> bool {
    let script = format!("var e = document.querySelector('{css}'); return !!e && e.offsetParent !== null;");
    browser.execute(&script).await == serde_json::Value::Bool(true)
}

async fn receipts_of(gw: &Gateway, invoice: &str) -> Vec<epay_store::OutboxMessage> {
    let filter = MessageFilter { reference: invoice.to_string(), limit: 10 };
    gw.store().await.messages_of(TEST_MERCHANT_ID, &filter).await.unwrap()
}

/// Posts the page's "send the receipt" form with `ticket`, as the browser would.
async fn send_receipt(gw: &Gateway, ticket: &str) -> (u16, String) {
    let response = gw
        .http
        .post(format!("{}/payform/receipt", gw.url))
        .form(&[("receipt", ticket), ("language", "ru")])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_success_page_is_a_receipt_and_its_e_mail_goes_once_to_the_orders_address() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        let (link, invoice) = page_link(&gw, "rus", "arman.ali@mail.kz").await;
        browser.goto(&link).await;
        pay_with(&browser, VISA, "ARMAN ALI").await;
        browser.wait("#receipt", 15).await;

        // The way back: a visible countdown with a way to stay, said once to screen readers.
        assert!(visible(&browser, "#countdown").await, "{backend:?}");
        let countdown = browser.text("#countdown").await;
        assert!(countdown.starts_with("Возврат в магазин через ") && countdown.ends_with(" с"), "{countdown}");
        assert!(browser.source().await.contains(r#"id="countdown-status" role="status">Возврат в магазин через"#));
        browser.click("#stay").await;
        assert_eq!(browser.text("#countdown").await, "Автоматический возврат отменён", "{backend:?}");
        assert!(!visible(&browser, "#stay").await, "{backend:?}");

        // The receipt, from the gateway's record.
        let merchant = gw.store().await.merchant(TEST_MERCHANT_ID).await.unwrap().unwrap().name;
        let tx = gw.store().await.payment_by_invoice(TERMINAL, &invoice).await.unwrap().unwrap();
        assert_eq!(browser.text("#receipt-merchant").await, merchant, "{backend:?}");
        // Written as the form writes amounts (a no-break space before the symbol in Russian).
        assert_eq!(browser.text("#receipt-amount").await.replace('\u{a0}', " "), "100 ₸", "{backend:?}");
        assert!(browser.source().await.contains(r#"data-currency="KZT""#), "{backend:?}");
        assert_eq!(browser.text("#receipt-card").await, "440563...5096", "{backend:?}");
        assert_eq!(browser.text("#receipt-invoice").await, invoice, "{backend:?}");
        assert_eq!(browser.text("#receipt-reference").await, tx.reference, "{backend:?}");
        assert!(tx.reference.len() == 12, "{backend:?}: {}", tx.reference);
        let date = browser.text("#receipt-date").await;
        assert!(date.contains(" г., ") && date.chars().any(|c| c.is_ascii_digit()), "{date}");
        assert_eq!(browser.text("#receipt-status").await, "Оплачено — сумма заблокирована на карте");
        assert_eq!(browser.text("#receipt-status-code").await, "AUTH", "{backend:?}");
        let page = browser.source().await;
        assert!(!page.contains(VISA.0) && !page.contains("arman.ali@"), "{backend:?}: {page}");

        // The e-mail receipt: offered to the masked address, sent once on click.
        assert_eq!(browser.text("#send-receipt").await, "Отправить чек на a…@mail.kz", "{backend:?}");
        let ticket = hidden_input(&page, "receipt");
        assert!(receipts_of(&gw, &invoice).await.is_empty(), "nothing is sent unasked: {backend:?}");
        browser.click("#send-receipt").await;
        browser.wait("#receipt-notice", 15).await;
        assert_eq!(browser.text("#receipt-notice").await, "Чек отправлен на a…@mail.kz", "{backend:?}");
        assert!(browser.find("#receipt-form").await.is_none() && browser.find("#countdown").await.is_none());
        assert_eq!(browser.text("#receipt-reference").await, tx.reference, "{backend:?}");
        assert!(browser.attribute("#continue", "href").await.unwrap().contains("/demo/success"), "{backend:?}");

        // Asked again (a reload, a second click): nothing new is written.
        let (status, again) = send_receipt(&gw, &ticket).await;
        assert_eq!(status, 200, "{backend:?}: {again}");
        assert!(again.contains("Чек уже отправлен на a…@mail.kz"), "{backend:?}: {again}");
        let sent = receipts_of(&gw, &invoice).await;
        assert_eq!(sent.len(), 1, "{backend:?}: {sent:?}");
        let m = &sent[0];
        assert_eq!((m.kind, m.channel, m.language), (MessageKind::Receipt, MessageChannel::Email, MessageLanguage::Ru));
        assert_eq!(m.recipient, "arman.ali@mail.kz", "{backend:?}");
        assert_eq!(m.subject, format!("Чек об оплате: {merchant}, 100.00 KZT"), "{backend:?}");
        for part in ["440563...5096", tx.reference.as_str(), invoice.as_str(), "Оплачено — сумма заблокирована"]
        {
            assert!(m.body.contains(part), "{backend:?}: {part} not in {}", m.body);
        }
        assert!(!m.body.contains(VISA.0), "{backend:?}");

        // Forged: another payment's id under this ticket's MAC, a longer life, junk. Each is
        // refused with the page's words and writes nothing.
        let other = gw.authorized_payment(major("50")).await;
        let payment_id = ticket.rsplit('.').nth(2).unwrap().to_string();
        let expires = ticket.rsplit('.').nth(1).unwrap().to_string();
        let messages = gw.count_rows("outbox_messages").await;
        for forged in [
            ticket.replacen(&payment_id, &other, 1),
            ticket.replacen(&expires, &(expires.parse::<i64>().unwrap() + 86_400_000).to_string(), 1),
            format!("{TEST_MERCHANT_ID}.{other}.{expires}.{}", "0".repeat(64)),
            String::new(),
            "<script>".to_string(),
        ] {
            let (status, page) = send_receipt(&gw, &forged).await;
            assert_eq!(status, 400, "{backend:?}: {forged}: {page}");
            assert!(page.contains("Чек не отправлен") && page.contains("недействительна или устарела"), "{page}");
        }
        assert_eq!(gw.count_rows("outbox_messages").await, messages, "{backend:?}");
    }
}

#[tokio::test]
async fn the_demo_shop_counts_down_back_and_shows_the_status_in_words() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/", gw.url)).await;
        browser.click("#buy").await;
        pay_with(&browser, VISA, "TEST TEST").await;
        browser.wait("#receipt", 15).await;
        assert_eq!(browser.text("#receipt-status").await, "Paid — amount held on the card", "{backend:?}");
        assert_eq!(browser.text("#receipt-amount").await, "₸2,500", "{backend:?}");
        // The demo shop's order gives no e-mail: nothing to offer.
        assert!(browser.find("#receipt-form").await.is_none(), "{backend:?}");
        let countdown = browser.text("#countdown").await;
        let seconds: u32 = countdown
            .strip_prefix("Returning to the shop in ")
            .and_then(|rest| rest.strip_suffix(" s"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{countdown}"));
        assert!((1..=10).contains(&seconds), "{countdown}");
        assert!(visible(&browser, "#stay").await && visible(&browser, "#continue").await, "{backend:?}");
        // Left alone, the page goes back by itself when the countdown ends.
        browser.wait_url("/demo/success", 30).await;
        assert_eq!(browser.text("#status").await, "Paid — amount held on the card", "{backend:?}");
        assert_eq!(browser.text("#status-code").await, "AUTH", "{backend:?}");
        assert_eq!(browser.attribute("#shop-result", "data-status").await.as_deref(), Some("AUTH"));
    }
}
