//! `GET /callbacks/:paymentId` (the callback log) and `POST /callbacks/:eventId/resend`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::edge::http::caller::Bearer;
use crate::services::callback_log;
use crate::services::payments::PaymentError;

pub async fn list(
    State(app): State<AppState>,
    Bearer(caller, _): Bearer<PaymentError>,
    Path(payment_id): Path<String>,
) -> Response {
    match callback_log::list(&app, &caller, payment_id.trim()).await {
        Ok(callbacks) => Json(serde_json::json!({ "callbacks": callbacks })).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn resend(
    State(app): State<AppState>,
    Bearer(caller, _): Bearer<PaymentError>,
    Path(event_id): Path<String>,
) -> Response {
    match callback_log::resend(&app, &caller, event_id.trim()).await {
        Ok(()) => Json(serde_json::json!({"status": "queued"})).into_response(),
        Err(e) => e.into_response(),
    }
}
