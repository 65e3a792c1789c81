//! Card payment endpoints and the cryptogram public key.

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::net::{IpAddr, SocketAddr};

use std::collections::HashMap;

use axum::extract::Query;

use super::caller::{Authenticated, Bearer};
use super::idempotency::json_or_error;
use crate::app::AppState;
use crate::edge::http::caller::authorization;
use crate::platform::cryptogram::Cryptogram;
use crate::services::payments::{self, PayWithCryptogram, PayWithSavedCard, PaymentError, PaymentOrderRequest};
use crate::services::three_ds_confirm;
use crate::wire::{FieldError, Fields};

pub async fn public_key(State(app): State<AppState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/x-pem-file")], app.keys.public_pem.clone())
}

pub async fn cryptopay(
    State(app): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    bearer: Result<Bearer<PaymentError>, Response>,
    body: Bytes,
) -> Response {
    // A body too large is refused before the token, as the body limit always answered first.
    let Bearer(caller, _) = match bearer {
        Ok(bearer) => bearer,
        Err(refused) => return refused,
    };
    let acs_url = format!("{}/acs/challenge", super::public_base(&app, &headers));
    let from = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let paid = async {
        let payer = payments::payer(&app, &caller).await?;
        let fields = Fields::from_json(&body).map_err(bad_body)?;
        payments::pay_with_cryptogram(&app, payer, read_cryptopay(&fields, acs_url, from)).await
    };
    json_or_error(paid.await)
}

/// Seed 003's saved-card payment; seed 001 sends P2P transfers (an `order` and a `card` object)
/// to this same path, so those are handed to the transfer endpoint, which answers a refused
/// token in its own shape.
pub async fn saved_card(
    State(app): State<AppState>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
    body: Bytes,
) -> Response {
    let is_transfer = serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v.get("order").is_some_and(|o| o.is_object()) && v.get("card").is_some_and(|c| c.is_object()))
        .unwrap_or(false);
    if is_transfer {
        return super::transfers::handle(&app, caller, &headers, &body, epay_domain::TransferKind::P2p).await;
    }
    let acs_url = format!("{}/acs/challenge", super::public_base(&app, &headers));
    let paid = async {
        let payer = payments::payer(&app, &caller?).await?;
        let fields = Fields::from_json(&body).map_err(bad_body)?;
        payments::pay_with_saved_card(&app, payer, read_saved_card(&fields, acs_url)).await
    };
    json_or_error(paid.await)
}

/// A body that is no JSON object: refused before any of its fields.
fn bad_body(e: FieldError) -> PaymentError {
    PaymentError::BadRequest(e.0)
}

/// The order of a payment request, and of the page's `paymentObject`, as ePay's clients write
/// it: each field's value, or why it cannot be read (the service reports that in its turn).
pub(crate) fn read_order(f: &Fields) -> PaymentOrderRequest {
    let text = |names: &[&str]| f.str_or_empty(names).map_err(|e| e.0);
    PaymentOrderRequest {
        invoice_id: f.opt_str(&["invoiceId", "invoiceID"]).map_err(|e| e.0),
        invoice_id_alt: text(&["invoiceIdAlt"]),
        amount: f.opt_amount(&["amount"]).map_err(|e| e.0),
        currency: f.opt_currency(&["currency"]).map_err(|e| e.0),
        description: text(&["description"]),
        account_id: text(&["accountId", "accountID"]),
        post_link: text(&["postLink"]),
        failure_post_link: text(&["failurePostLink"]),
        email: text(&["email"]),
        phone: text(&["phone"]),
        payer_name: text(&["name"]),
        language: text(&["language"]),
        back_link: text(&["backLink"]),
        failure_back_link: text(&["failureBackLink"]),
        card_save: f.opt_bool(&["cardSave", "cardsave"]).map(Option::unwrap_or_default).map_err(|e| e.0),
        terminal_id: f.opt_str(&["terminalId", "terminal"]).map_err(|e| e.0),
        data: match f.raw(&["data"]) {
            None => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            // ePay documents `data` as a JSON string; an object is kept as its JSON text.
            Some(v) => v.to_string(),
        },
    }
}

/// `/payment/cryptopay`'s body: the order and the cryptogram (also spelled with a Cyrillic "с",
/// U+0441, as Halyk's iOS SDK sends it: facts §5.1), decoded from its base64.
pub(crate) fn read_cryptopay(f: &Fields, acs_url: String, from: Option<IpAddr>) -> PayWithCryptogram {
    let cryptogram = match f.opt_str(&["cryptogram", "\u{0441}ryptogram"]) {
        Err(e) => Err(e.0),
        Ok(text) => match text.filter(|t| !t.trim().is_empty()) {
            None => Ok(None),
            Some(text) => Cryptogram::from_base64(&text).map(Some).map_err(|e| e.to_string()),
        },
    };
    PayWithCryptogram { order: read_order(f), cryptogram, acs_url, from }
}

/// `/payments/cards/auth`'s body (seed 003): the order, `paymentType` and the saved card, named
/// `"cardId": {"id": "<cardID>"}` as seed 003 writes it, or `"cardId": "<cardID>"` as some
/// integrations send it (also spelled `cardID`).
pub(crate) fn read_saved_card(f: &Fields, acs_url: String) -> PayWithSavedCard {
    let card_id = match f.raw(&["cardId", "cardID"]) {
        None => Ok(None),
        Some(serde_json::Value::String(id)) => Ok(Some(id.clone())),
        Some(object @ serde_json::Value::Object(_)) => Fields::from_value(object.clone(), "field cardId")
            .and_then(|card| card.req_str(&["id"]))
            .map(Some)
            .map_err(|_| "field cardId.id is required".to_string()),
        Some(_) => Err("field cardId must be a string or an object {\"id\": \"<cardID>\"}".to_string()),
    };
    PayWithSavedCard {
        order: read_order(f),
        payment_type: f.str_or_empty(&["paymentType"]).map_err(|e| e.0),
        card_id,
        acs_url,
    }
}

/// Reads `PaRes` and `MD` from a form or JSON body, or from the query string.
fn pa_res_and_md(query: &HashMap<String, String>, headers: &HeaderMap, body: &[u8]) -> (String, String) {
    let is_json = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.contains("json"));
    let fields = if is_json {
        Fields::from_json(body).ok()
    } else {
        Some(Fields::from_pairs(url::form_urlencoded::parse(body).into_owned()))
    };
    let get = |name: &str| {
        fields
            .as_ref()
            .and_then(|f| f.opt_str(&[name]).ok().flatten())
            .or_else(|| query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()))
            .unwrap_or_default()
    };
    (get("PaRes"), get("MD"))
}

/// `/payments/cards/confirmPayment?Access=<token>`: the TermUrl Halyk's own SDK uses (facts §7).
pub async fn confirm_payment(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = query.get("Access").or_else(|| query.get("access")).cloned().unwrap_or_default();
    let (pa_res, md) = pa_res_and_md(&query, &headers, &body);
    match three_ds_confirm::confirm(&app, &token, &md, &pa_res).await {
        Ok(payment) => Json(payment).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /payment/cryptopay/confirm` with `{"PaRes","MD"}` and the payment's Bearer token.
pub async fn cryptopay_confirm(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match super::caller::bearer_token(authorization(&headers)) {
        Ok(t) => t.to_string(),
        Err(e) => return PaymentError::Unauthorized(e.to_string()).into_response(),
    };
    let (pa_res, md) = pa_res_and_md(&query, &headers, &body);
    match three_ds_confirm::confirm(&app, &token, &md, &pa_res).await {
        Ok(payment) => Json(payment).into_response(),
        Err(e) => e.into_response(),
    }
}
