//! Invoice links in the cabinet (issue 20): the list with a state filter, the form that creates
//! one, and cancel. Through the same service as `POST /invoice`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use epay_domain::{Amount, Currency, InvoiceLinkState};

use super::error::CabinetError;
use super::views::{self, Section};
use super::{form, html, redirect, Signed};
use crate::services::invoices::{self, InvoiceError, InvoiceFields, NewInvoice};

impl From<InvoiceError> for CabinetError {
    fn from(e: InvoiceError) -> Self {
        match e {
            InvoiceError::BadRequest(m) => CabinetError::BadInput(m),
            InvoiceError::Conflict(m) => CabinetError::Refused(m),
            InvoiceError::NotFound(m) => CabinetError::NotFound(m),
            InvoiceError::Unauthorized(_) | InvoiceError::Forbidden(_) | InvoiceError::Internal => {
                CabinetError::Internal
            }
        }
    }
}

pub async fn list(signed: Signed, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let state = query.get("state").and_then(|s| InvoiceLinkState::parse(s));
        let links = invoices::list(&signed.app, &signed.caller(), state, 0, invoices::MAX_PAGE).await?;
        let terminals = signed.app.store.terminals_of(signed.merchant_id()).await?;
        let base = crate::edge::http::public_base(&signed.app, &headers);
        Ok::<_, CabinetError>(html(
            StatusCode::OK,
            views::invoices(&signed.chrome(Section::Invoices), &links, &terminals, state, query.get("created"), &base),
        ))
    }
    .await;
    signed.reply(result)
}

pub async fn create(signed: Signed, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let form = form(&body);
        signed.check_csrf(&form)?;
        let text = |k: &str| form.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let amount = text("amount")
            .map(|a| Amount::parse_major(&a.replace(',', ".")))
            .transpose()
            .map_err(|e| CabinetError::BadInput(format!("amount: {e}")))?;
        let currency = text("currency")
            .map(|c| c.parse::<Currency>())
            .transpose()
            .map_err(|_| CabinetError::BadInput("currency: KZT, USD, EUR or RUB".into()))?;
        let fields = InvoiceFields {
            shop_id: text("shop_id"),
            invoice_id: text("invoice_id"),
            amount,
            currency,
            language: text("language"),
            description: text("description"),
            expire_period: text("expire_period"),
            recipient_contact: text("recipient_contact"),
            recipient_contact_sms: text("recipient_contact_sms"),
            back_link: text("back_link"),
            ..InvoiceFields::default()
        };
        let invoice = NewInvoice::check(&fields, signed.app.config.mode)?;
        let base = crate::edge::http::public_base(&signed.app, &headers);
        let created = invoices::create(&signed.app, &signed.caller(), invoice, &base).await?;
        tracing::info!(user_id = %signed.session.user_id, invoice_link = %created.id, "cabinet invoice link created");
        Ok(redirect(&format!("/cabinet/invoices?created={}", created.id)))
    }
    .await;
    signed.reply(result)
}

pub async fn cancel(signed: Signed, Path(id): Path<String>, body: Bytes) -> Response {
    let result = async {
        let form = form(&body);
        signed.check_csrf(&form)?;
        let cancelled = invoices::cancel(&signed.app, &signed.caller(), &id).await?;
        tracing::info!(user_id = %signed.session.user_id, invoice_link = %cancelled.id, "cabinet invoice link cancelled");
        Ok(redirect("/cabinet/invoices"))
    }
    .await;
    signed.reply(result)
}
