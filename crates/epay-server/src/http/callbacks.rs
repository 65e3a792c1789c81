//! `GET /callbacks/:paymentId` (the callback log) and `POST /callbacks/:eventId/resend`.

use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::services::callback_log;

pub async fn list(State(app): State<AppState>, headers: HeaderMap, Path(payment_id): Path<String>) -> Response {
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match callback_log::list(&app, auth, payment_id.trim()).await {
        Ok(callbacks) => Json(serde_json::json!({ "callbacks": callbacks })).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn resend(State(app): State<AppState>, headers: HeaderMap, Path(event_id): Path<String>) -> Response {
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match callback_log::resend(&app, auth, event_id.trim()).await {
        Ok(()) => Json(serde_json::json!({"status": "queued"})).into_response(),
        Err(e) => e.into_response(),
    }
}
