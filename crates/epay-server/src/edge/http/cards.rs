//! `GET /cards/:accountId` and `POST /card/deactivate/:cardID` (facts §10).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::caller::Bearer;
use crate::app::AppState;
use crate::services::cards::{self, DeactivateCard, ListCards};
use crate::services::payments::PaymentError;

pub async fn list(
    State(app): State<AppState>,
    Path(account_id): Path<String>,
    Bearer(caller, _): Bearer<PaymentError>,
) -> Response {
    match cards::list(&app, &caller, ListCards { account_id }).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn deactivate(
    State(app): State<AppState>,
    Path(card_id): Path<String>,
    Bearer(caller, _): Bearer<PaymentError>,
) -> Response {
    match cards::deactivate(&app, &caller, DeactivateCard { card_id: card_id.trim().to_string() }).await {
        Ok(()) => Json(serde_json::json!({"status": "card successfully deactivated"})).into_response(),
        Err(e) => e.into_response(),
    }
}
