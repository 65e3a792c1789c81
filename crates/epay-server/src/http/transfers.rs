//! `POST /p2p/transfer`, `/chdebit/transfer` (AFT), `/chpayment/transfer` (OCT).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use epay_domain::TransferKind;

use crate::app::AppState;
use crate::services::transfers;

pub async fn handle(app: &AppState, headers: &HeaderMap, body: &[u8], kind: TransferKind) -> Response {
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let acs = format!("{}/acs/challenge", super::public_base(app, headers));
    match transfers::transfer(app, auth, body, kind, &acs).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn p2p(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&app, &headers, &body, TransferKind::P2p).await
}

pub async fn aft(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&app, &headers, &body, TransferKind::Aft).await
}

pub async fn oct(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&app, &headers, &body, TransferKind::Oct).await
}
