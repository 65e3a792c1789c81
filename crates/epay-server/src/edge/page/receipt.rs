//! The success page's receipt and its "send the receipt" action (`POST /payform/receipt`).
//! What the receipt says is read from the gateway's record of the payment by
//! `services::receipts`; this module only writes it out in the page's language.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use epay_domain::MessageLanguage;

use super::i18n::{words, Lang};
use super::{forms, html, views};
use crate::app::{App, AppState};
use crate::services::receipts::{self, words as said, Receipt, ReceiptError, Sent};

/// The page after a payment or transfer went through: its receipt, then back to the shop's
/// `back_link` after a visible countdown (none in the widget, which closes itself).
/// `paid` names the payment (merchant id, payment id); without it, or if its record cannot be
/// read, the page still says the payment went through.
pub(super) async fn success_page(
    app: &App,
    lang: Lang,
    short: bool,
    heading: Option<&str>,
    back_link: &str,
    paid: Option<(&str, &str)>,
) -> Response {
    let receipt = match paid {
        Some((merchant_id, payment_id)) => match receipts::of_payment(app, merchant_id, payment_id).await {
            Ok(r) => Some(r),
            Err(error) => {
                tracing::warn!(%error, payment_id, "the success page shows no receipt");
                None
            }
        },
        None => None,
    };
    // The widget closes on success: no e-mail offer there (docs/compatibility.md).
    let view = receipt.as_ref().map(|r| view(lang, r, !short, None));
    page(lang, short, heading, if short { "" } else { back_link }, "", view.as_ref())
}

fn page(
    lang: Lang,
    short: bool,
    heading: Option<&str>,
    redirect: &str,
    shop_link: &str,
    receipt: Option<&views::ReceiptView>,
) -> Response {
    html(
        StatusCode::OK,
        views::result(&views::ResultView {
            lang,
            heading,
            short,
            success: true,
            reason: None,
            redirect,
            shop_link,
            receipt,
        }),
    )
}

/// The language of messages and dates for the page's language.
fn message_language(lang: Lang) -> MessageLanguage {
    match lang {
        Lang::Ru => MessageLanguage::Ru,
        Lang::Kk => MessageLanguage::Kk,
        Lang::En => MessageLanguage::En,
    }
}

/// The receipt written out for the page; `offer`: whether to offer the e-mail (when the order
/// gave one).
fn view(lang: Lang, r: &Receipt, offer: bool, notice: Option<String>) -> views::ReceiptView {
    let (w, ml) = (words(lang), message_language(lang));
    let offer = r
        .email_masked
        .as_ref()
        .filter(|_| offer)
        .map(|email| views::ReceiptOffer { label: w.receipt_send.replace("{email}", email), ticket: r.ticket.clone() });
    views::ReceiptView {
        merchant: r.merchant_name.clone(),
        // As the card form writes amounts: "2 500 ₸", "₸2,500" (money.rs).
        amount: super::money::money_coded(lang, r.amount.minor(), &r.currency),
        currency: r.currency.clone(),
        card: r.card_mask.clone(),
        status: said::status(ml, r.status),
        status_code: r.status.as_str(),
        invoice: r.invoice_id.clone(),
        reference: r.reference.clone(),
        date: said::date(ml, r.at_ms),
        offer,
        notice,
    }
}

/// `POST /payform/receipt`: sends the receipt the page's ticket names, then shows the receipt
/// again with where it went. A forged, expired or otherwise refused ticket gets a page saying so
/// (400) and writes nothing; a second send writes nothing either and says it was sent before.
pub(super) async fn send(State(app): State<AppState>, body: Bytes) -> Response {
    let form: forms::ReceiptForm = forms::read(&body);
    match receipts::send(&app, form.receipt.trim()).await {
        Ok((receipt, sent)) => {
            // The payment's own language from here on, as the e-mail's.
            let lang = Lang::parse(receipt.language.as_str());
            let w = words(lang);
            let email = receipt.email_masked.clone().unwrap_or_default();
            let notice = match sent {
                Sent::Now => w.receipt_sent,
                Sent::Before => w.receipt_sent_before,
            };
            let shown = view(lang, &receipt, false, Some(notice.replace("{email}", &email)));
            // The shopper chose to stay: no countdown now, the link back remains.
            page(lang, false, None, "", &receipt.back_link, Some(&shown))
        }
        Err(e) => {
            let lang = Lang::parse(&form.language);
            let w = words(lang);
            let (status, detail) = match e {
                ReceiptError::BadTicket => (StatusCode::BAD_REQUEST, w.receipt_bad_link),
                ReceiptError::NotFound | ReceiptError::NotPaid(_) | ReceiptError::NoEmail => {
                    (StatusCode::BAD_REQUEST, w.receipt_unavailable)
                }
                ReceiptError::Internal => (StatusCode::SERVICE_UNAVAILABLE, w.receipt_try_later),
            };
            html(status, views::message(lang, false, w.receipt_not_sent, detail))
        }
    }
}
