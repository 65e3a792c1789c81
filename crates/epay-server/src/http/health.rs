//! Operability endpoints: `/healthz` (the process answers), `/readyz` (it can serve payments),
//! `/metrics` (Prometheus).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers, every migration this build carries is applied, and the
/// cryptogram key is loaded. A load balancer takes the node out while this answers 503.
pub async fn readyz(State(app): State<AppState>) -> Response {
    let key_loaded = !app.keys.public_pem.is_empty();
    match app.store.health().await {
        Ok(h) if h.migrations_applied >= h.migrations_known && key_loaded => Json(json!({
            "status": "ready",
            "database": app.store.backend(),
            "migrations": h.migrations_applied,
            "keys": "loaded",
        }))
        .into_response(),
        Ok(h) => {
            let reason = if key_loaded {
                format!("migrations pending: {} of {} applied", h.migrations_applied, h.migrations_known)
            } else {
                "the cryptogram key is not loaded".to_string()
            };
            not_ready(&reason)
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            not_ready("the database does not answer")
        }
    }
}

fn not_ready(reason: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "not ready", "reason": reason}))).into_response()
}

pub async fn metrics(State(app): State<AppState>) -> Response {
    let health = app.store.health().await.ok();
    let depth = app.store.pending_callbacks().await.ok();
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], app.metrics.render(health, depth)).into_response()
}
