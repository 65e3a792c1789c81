//! Card payment endpoints and the cryptogram public key.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::services::payments;

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
}

pub async fn public_key(State(app): State<AppState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/x-pem-file")], app.keys.public_pem.clone())
}

pub async fn cryptopay(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match payments::pay_with_cryptogram(&app, authorization(&headers), &body).await {
        Ok(payment) => Json(payment).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Seed 003's saved-card payment; seed 001 sends P2P transfers (an `order` and a `card` object)
/// to this same path, so those are routed to the transfer service.
pub async fn saved_card(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_transfer = serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v.get("order").is_some_and(|o| o.is_object()) && v.get("card").is_some_and(|c| c.is_object()))
        .unwrap_or(false);
    if is_transfer {
        return super::transfers::handle(&app, &headers, &body, crate::services::transfers::Kind::P2p).await;
    }
    match payments::pay_with_saved_card(&app, authorization(&headers), &body).await {
        Ok(payment) => Json(payment).into_response(),
        Err(e) => e.into_response(),
    }
}
