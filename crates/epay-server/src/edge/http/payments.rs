//! Card payment endpoints and the cryptogram public key.

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::net::SocketAddr;

use super::caller::Bearer;
use crate::app::AppState;
use crate::services::payments::{self, PaymentError};
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
