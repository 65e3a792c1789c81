//! Card payment endpoints and the cryptogram public key.

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::net::SocketAddr;

use std::collections::HashMap;

use axum::extract::Query;

use super::caller::Bearer;
use crate::app::AppState;
use crate::edge::http::caller::authorization;
use crate::services::payments::{self, PaymentError};
use crate::services::three_ds_confirm;
use crate::wire::Fields;

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
    let acs = format!("{}/acs/challenge", super::public_base(&app, &headers));
    let from = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let paid = async {
        let payer = payments::payer(&app, &caller).await?;
        let fields = Fields::from_json(&body)?;
        payments::pay_with_cryptogram(&app, payer, &fields, &acs, from).await
    };
    match paid.await {
        Ok(payment) => Json(payment).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Seed 003's saved-card payment; seed 001 sends P2P transfers (an `order` and a `card` object)
/// to this same path, so those are routed to the transfer service (which answers a refused token
/// in its own shape).
pub async fn saved_card(
    State(app): State<AppState>,
    headers: HeaderMap,
    bearer: Result<Bearer<PaymentError>, Response>,
    body: Bytes,
) -> Response {
    let is_transfer = serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v.get("order").is_some_and(|o| o.is_object()) && v.get("card").is_some_and(|c| c.is_object()))
        .unwrap_or(false);
    if is_transfer {
        return super::transfers::handle(&app, &headers, &body, epay_domain::TransferKind::P2p).await;
    }
    let Bearer(caller, _) = match bearer {
        Ok(bearer) => bearer,
        Err(refused) => return refused,
    };
    let acs = format!("{}/acs/challenge", super::public_base(&app, &headers));
    let paid = async {
        let payer = payments::payer(&app, &caller).await?;
        let fields = Fields::from_json(&body)?;
        payments::pay_with_saved_card(&app, payer, &fields, &acs).await
    };
    match paid.await {
        Ok(payment) => Json(payment).into_response(),
        Err(e) => e.into_response(),
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
