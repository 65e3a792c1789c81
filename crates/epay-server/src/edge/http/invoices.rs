//! The invoice-link API (issue 20, facts §14): `POST /invoice` as ePay documents it (snake_case
//! JSON), and our own `GET /invoice`, `GET /invoice/{id}`, `POST /invoice/{id}/cancel`. Every
//! answer is one [`InvoiceResponse`] (docs/compatibility.md "Invoice links"); errors are the
//! payment API's `{"code": -1, "message": "..."}`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use epay_domain::{Amount, Currency, InvoiceLinkState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::Bearer;
use crate::app::{App, AppState};
use crate::services::invoices::{self, InvoiceError, InvoiceFields, InvoiceView, NewInvoice};
use crate::wire::lenient::{self, Checked};
use crate::wire::JsonAmount;

/// `POST /invoice`'s body (facts §14): snake_case, only `shop_id` and `amount` required.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct InvoiceRequest {
    /// A terminal id of the merchant (ePay's test shop id stands for the test merchant's payments
    /// terminal).
    #[schema(value_type = String, example = "04f25a4b-d2bd-4dd8-b3a7-9390be4774c4")]
    shop_id: Option<Checked<String>>,
    /// 6 to 15 digits, unique on the shop's terminal; the gateway picks 12 digits when absent.
    #[schema(value_type = Option<String>, example = "000000777")]
    invoice_id: Option<Checked<String>>,
    #[schema(value_type = Option<String>)]
    account_id: Option<Checked<String>>,
    /// Greater than 0, at most two decimals.
    #[schema(value_type = JsonAmount)]
    amount: Option<Checked<Amount>>,
    /// Default `KZT`.
    #[schema(value_type = Option<String>, example = "KZT")]
    currency: Option<Checked<Currency>>,
    /// `rus` (default), `kaz` or `eng`: the payment page's language.
    #[schema(value_type = Option<String>, example = "rus")]
    language: Option<Checked<String>>,
    /// At most 125 bytes.
    #[schema(value_type = Option<String>)]
    description: Option<Checked<String>>,
    /// A number and `m`, `h` or `d` (`"30m"`, `"2h"`, `"1d"`), 1 minute to 30 days; default `"1d"`.
    #[schema(value_type = Option<String>, example = "1d")]
    expire_period: Option<Checked<String>>,
    /// The customer's e-mail.
    #[schema(value_type = Option<String>)]
    recipient_contact: Option<Checked<String>>,
    /// The customer's phone for SMS: `+` and 10 to 15 digits.
    #[schema(value_type = Option<String>)]
    recipient_contact_sms: Option<Checked<String>>,
    /// The merchant's phone for SMS notices.
    #[schema(value_type = Option<String>)]
    notifier_contact_sms: Option<Checked<String>>,
    #[schema(value_type = Option<String>)]
    post_link: Option<Checked<String>>,
    #[schema(value_type = Option<String>)]
    failure_post_link: Option<Checked<String>>,
    #[schema(value_type = Option<String>)]
    back_link: Option<Checked<String>>,
    #[schema(value_type = Option<String>)]
    failure_back_link: Option<Checked<String>>,
}

/// One invoice link, as every invoice endpoint answers it (ePay publishes no answer shape; this
/// one is ours and stays stable: docs/compatibility.md "Invoice links").
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceResponse {
    /// The invoice's id (UUID): `GET /invoice/{id}` and cancel take it (or `invoice_id`).
    id: String,
    /// The payment link to send to the customer.
    link: String,
    /// `ACTIVE`, `PAID`, `EXPIRED` or `CANCELLED`.
    state: String,
    invoice_id: String,
    shop_id: String,
    /// The terminal `shop_id` stands for.
    terminal_id: String,
    account_id: String,
    #[schema(value_type = JsonAmount)]
    amount: Amount,
    currency: String,
    language: String,
    description: String,
    recipient_contact: String,
    recipient_contact_sms: String,
    notifier_contact_sms: String,
    post_link: String,
    failure_post_link: String,
    back_link: String,
    failure_back_link: String,
    /// RFC 3339, UTC.
    expires_at: String,
    created_at: String,
    cancelled_at: Option<String>,
    /// The payment's transaction id once the link was paid (or a payment was tried).
    payment_id: Option<String>,
    /// That payment's `statusName`.
    payment_status: Option<String>,
}

/// `GET /invoice`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceListResponse {
    invoices: Vec<InvoiceResponse>,
    offset: i64,
    limit: i64,
}

fn time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The link's URL: `{public base}/invoice-link/{link_id}`.
pub fn link_url(base: &str, link_id: &str) -> String {
    format!("{base}/invoice-link/{link_id}")
}

fn answer(base: &str, v: InvoiceView) -> InvoiceResponse {
    InvoiceResponse {
        link: link_url(base, &v.link_id),
        state: v.state.as_str().to_string(),
        id: v.id,
        invoice_id: v.invoice_id,
        shop_id: v.shop_id,
        terminal_id: v.terminal_id,
        account_id: v.account_id,
        amount: v.amount,
        currency: v.currency,
        language: v.language,
        description: v.description,
        recipient_contact: v.recipient_contact,
        recipient_contact_sms: v.recipient_contact_sms,
        notifier_contact_sms: v.notifier_contact_sms,
        post_link: v.post_link,
        failure_post_link: v.failure_post_link,
        back_link: v.back_link,
        failure_back_link: v.failure_back_link,
        expires_at: time(v.expires_at),
        created_at: time(v.created_at),
        cancelled_at: v.cancelled_at.map(time),
        payment_id: v.payment_id,
        payment_status: v.payment_status,
    }
}

fn text(field: Option<Checked<String>>) -> Result<Option<String>, InvoiceError> {
    lenient::given(field).map_err(|e| InvoiceError::BadRequest(e.0))
}

/// The request's fields, each read as its type; a field of the wrong type is refused by name.
fn fields(r: InvoiceRequest) -> Result<InvoiceFields, InvoiceError> {
    let bad = |e: crate::wire::FieldError| InvoiceError::BadRequest(e.0);
    Ok(InvoiceFields {
        shop_id: text(r.shop_id)?,
        invoice_id: text(r.invoice_id)?,
        account_id: text(r.account_id)?,
        amount: lenient::given(r.amount).map_err(bad)?,
        currency: lenient::given(r.currency).map_err(bad)?,
        language: text(r.language)?,
        description: text(r.description)?,
        expire_period: text(r.expire_period)?,
        recipient_contact: text(r.recipient_contact)?,
        recipient_contact_sms: text(r.recipient_contact_sms)?,
        notifier_contact_sms: text(r.notifier_contact_sms)?,
        post_link: text(r.post_link)?,
        failure_post_link: text(r.failure_post_link)?,
        back_link: text(r.back_link)?,
        failure_back_link: text(r.failure_back_link)?,
    })
}

fn base(app: &App, headers: &HeaderMap) -> String {
    super::public_base(app, headers)
}

/// `POST /invoice`.
pub async fn create(
    State(app): State<AppState>,
    Bearer(caller, _): Bearer<InvoiceError>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let request: InvoiceRequest =
            lenient::from_json(&body).map_err(|e| InvoiceError::BadRequest(format!("invalid JSON body: {}", e.0)))?;
        let invoice = NewInvoice::check(&fields(request)?, app.config.mode)?;
        invoices::create(&app, &caller, invoice, &base(&app, &headers)).await
    }
    .await;
    match result {
        Ok(view) => Json(answer(&base(&app, &headers), view)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /invoice?state=&offset=&limit=`: the caller's invoices, newest first.
pub async fn list(
    State(app): State<AppState>,
    Bearer(caller, _): Bearer<InvoiceError>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result = async {
        let state = match query.get("state").map(|s| s.trim()).filter(|s| !s.is_empty()) {
            Some(s) => Some(InvoiceLinkState::parse(s).ok_or_else(|| {
                InvoiceError::BadRequest(format!(
                    "state {:?} must be ACTIVE, PAID, EXPIRED or CANCELLED",
                    crate::wire::echoed(s)
                ))
            })?),
            None => None,
        };
        let number = |name: &str, default: i64, max: i64| -> Result<i64, InvoiceError> {
            match query.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => Ok(default),
                Some(s) => s
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (0..=max).contains(n))
                    .ok_or_else(|| InvoiceError::BadRequest(format!("{name} must be a number from 0 to {max}"))),
            }
        };
        let offset = number("offset", 0, 1_000_000)?;
        let limit = number("limit", 50, invoices::MAX_PAGE)?.max(1);
        let views = invoices::list(&app, &caller, state, offset, limit).await?;
        let base = base(&app, &headers);
        Ok::<_, InvoiceError>(InvoiceListResponse {
            invoices: views.into_iter().map(|v| answer(&base, v)).collect(),
            offset,
            limit,
        })
    }
    .await;
    match result {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /invoice/{id}`: by the invoice's id or its `invoice_id`.
pub async fn read(
    State(app): State<AppState>,
    Bearer(caller, _): Bearer<InvoiceError>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match invoices::get(&app, &caller, &id).await {
        Ok(view) => Json(answer(&base(&app, &headers), view)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /invoice/{id}/cancel`: only an ACTIVE link.
pub async fn cancel(
    State(app): State<AppState>,
    Bearer(caller, _): Bearer<InvoiceError>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match invoices::cancel(&app, &caller, &id).await {
        Ok(view) => Json(answer(&base(&app, &headers), view)).into_response(),
        Err(e) => e.into_response(),
    }
}
