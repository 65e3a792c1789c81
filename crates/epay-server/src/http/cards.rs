//! `GET /cards/:accountId` and `POST /card/deactivate/:cardID` (facts §10).

use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::services::cards;

pub async fn list(State(app): State<AppState>, headers: HeaderMap, Path(account_id): Path<String>) -> Response {
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match cards::list(&app, auth, &account_id).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn deactivate(State(app): State<AppState>, headers: HeaderMap, Path(card_id): Path<String>) -> Response {
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match cards::deactivate(&app, auth, card_id.trim()).await {
        Ok(()) => Json(serde_json::json!({"status": "card successfully deactivated"})).into_response(),
        Err(e) => e.into_response(),
    }
}
