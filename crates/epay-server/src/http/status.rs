//! `GET /check-status/payment/transaction/:invoiceId`.

use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::services::status;

pub async fn check(State(app): State<AppState>, headers: HeaderMap, Path(invoice_id): Path<String>) -> Response {
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match status::check(&app, auth, &invoice_id).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}
