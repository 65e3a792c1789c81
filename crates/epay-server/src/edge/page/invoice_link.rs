//! `GET /invoice-link/{link_id}`: an invoice link (issue 20). An active link sends the browser
//! to the hosted payment page with a payment token minted for its invoice, in the invoice's
//! language; a paid, expired or cancelled link gets a page that says so, and no token.

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use epay_domain::InvoiceLinkState;

use super::i18n::Lang;
use super::{html, params, views};
use crate::app::AppState;
use crate::services::invoices::{self, InvoiceError, LinkOpening};

/// Headings and details of the closed-link pages: (ru, kk, en).
fn closed_words(lang: Lang, state: InvoiceLinkState) -> (&'static str, &'static str) {
    let (ru, kk, en) = match state {
        InvoiceLinkState::Expired => (
            (
                "Срок действия ссылки истёк",
                "Ссылка на оплату больше не действует. Попросите продавца выставить счёт заново.",
            ),
            ("Сілтеменің мерзімі өтті", "Төлем сілтемесі енді жарамсыз. Сатушыдан шотты қайта жіберуді сұраңыз."),
            ("This payment link has expired", "The link can no longer be paid. Ask the seller for a new invoice."),
        ),
        InvoiceLinkState::Cancelled => (
            ("Счёт отменён", "Продавец отменил этот счёт. Оплата по ссылке невозможна."),
            ("Шот жойылды", "Сатушы бұл шотты жойды. Сілтеме арқылы төлеу мүмкін емес."),
            ("This invoice was cancelled", "The seller cancelled this invoice. It cannot be paid."),
        ),
        InvoiceLinkState::Paid | InvoiceLinkState::Active => (
            ("Счёт уже оплачен", "Оплата по этой ссылке уже принята."),
            ("Шот төленген", "Бұл сілтеме бойынша төлем қабылданды."),
            ("This invoice is already paid", "The payment for this link was received."),
        ),
    };
    match lang {
        Lang::Ru => ru,
        Lang::Kk => kk,
        Lang::En => en,
    }
}

pub async fn open(State(app): State<AppState>, Path(link_id): Path<String>) -> Response {
    match invoices::open(&app, &link_id).await {
        Ok(LinkOpening::Pay { link, merchant_name: _, token }) => {
            // The payment object a merchant's page would build (facts §4.3): the order is the
            // token's, and the page shows the shop's name from the terminal's merchant.
            let fields = [
                ("invoiceId", link.invoice_id.clone()),
                ("amount", link.amount.to_string()),
                ("currency", link.currency.clone()),
                ("terminal", link.terminal_id.clone()),
                ("language", link.language.clone()),
                ("description", link.description.clone()),
                ("accountId", link.account_id.clone()),
                ("backLink", link.back_link.clone()),
                ("failureBackLink", link.failure_back_link.clone()),
            ];
            let auth = [("access_token", token.expose().to_string()), ("token_type", "Bearer".to_string())];
            let location = format!("/payform/?params={}", params::encode(&fields, &auth));
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, value);
            }
            response.headers_mut().insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(LinkOpening::Closed(link)) => {
            let lang = Lang::parse(&link.language);
            let (heading, detail) = closed_words(lang, link.state);
            let status = if link.state == InvoiceLinkState::Paid { StatusCode::OK } else { StatusCode::GONE };
            html(status, views::message(lang, false, heading, detail))
        }
        Err(InvoiceError::NotFound(_)) => {
            let (heading, detail) = ("Ссылка не найдена", "Проверьте ссылку на оплату или обратитесь к продавцу.");
            html(StatusCode::NOT_FOUND, views::message(Lang::Ru, false, heading, detail))
        }
        Err(e) => {
            tracing::error!(error = %e, "an invoice link does not open");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
