//! The demo shop's pages (`templates/demo/`): the shop, its checkout, its success and failure
//! pages. In English; a merchant's pages, framed like ours.

use askama::Template;

use super::{Frame, Rendered};
use crate::edge::html::{script_data, TrustedHtml};
use crate::edge::page::assets::assets;
use crate::edge::page::i18n::Lang;
use crate::services::receipts;
use epay_domain::{MessageLanguage, TxStatus};

/// `templates/demo/shop.html`.
#[derive(Template)]
#[template(path = "demo/shop.html")]
struct ShopPage<'a> {
    frame: Frame<'a>,
    /// Production has no demo shop: the page only points to the documentation.
    production: bool,
}

/// The demo shop: a product and two ways to pay.
pub fn shop(production: bool) -> Rendered {
    ShopPage { frame: Frame::new(Lang::En, "epay demo shop", false), production }.render()
}

/// `templates/demo/checkout.html`.
#[derive(Template)]
#[template(path = "demo/checkout.html")]
struct CheckoutPage {
    css_integrity: &'static str,
    payment_api_integrity: &'static str,
    demo_integrity: &'static str,
    /// Whether the shop opens the widget (a button) or goes to the page (at once).
    widget: bool,
    /// The payment object, for demo.js to hand to payment-api.js.
    payment_object: TrustedHtml,
}

/// The checkout page of the demo shop: the payment object, then payment-api.js does the rest.
pub fn checkout(payment_object: &serde_json::Value, widget: bool) -> Rendered {
    let a = assets();
    CheckoutPage {
        css_integrity: &a.form_css.integrity,
        payment_api_integrity: &a.payment_api_js.integrity,
        demo_integrity: &a.demo_js.integrity,
        widget,
        payment_object: script_data::json(payment_object),
    }
    .render()
}

/// `templates/demo/result.html`.
#[derive(Template)]
#[template(path = "demo/result.html")]
struct ShopResultPage<'a> {
    frame: Frame<'a>,
    success: bool,
    invoice: &'a str,
    /// The payment's status in words ("Paid — amount held on the card"), and its code (`AUTH`)
    /// as a hint; both empty when the shop knows no such order.
    status: &'static str,
    status_code: &'static str,
    /// Why the payment failed; empty: no reason row.
    reason: &'a str,
}

/// The demo shop's success and failure pages; `status`: the order's payment, if the shop found
/// it.
pub fn shop_result(success: bool, invoice: &str, status: Option<TxStatus>, reason: &str) -> Rendered {
    let title = if success { "Payment received" } else { "Payment failed" };
    // The demo shop speaks English, as its checkout asks the page to.
    let (status, status_code) =
        status.map(|s| (receipts::words::status(MessageLanguage::En, s), s.as_str())).unwrap_or_default();
    ShopResultPage { frame: Frame::new(Lang::En, title, false), success, invoice, status, status_code, reason }.render()
}
