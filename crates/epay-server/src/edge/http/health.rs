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

/// Whether `/metrics` is served on the API's own address: not when it has its own listener,
/// and in production only behind a token (volumes by status are business data).
pub fn metrics_on_api(config: &crate::platform::config::Config) -> bool {
    config.metrics_listen.is_none()
        && (config.mode == crate::platform::config::Mode::Sandbox || config.metrics_token.is_some())
}

/// True when no `metrics_token` is configured, or the request carries it as a bearer token.
fn metrics_caller_allowed(config: &crate::platform::config::Config, headers: &axum::http::HeaderMap) -> bool {
    let Some(expected) = &config.metrics_token else {
        return true;
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    crate::platform::keys::digests_equal(
        &crate::platform::keys::digest(given),
        &crate::platform::keys::digest(expected.expose()),
    )
}

pub async fn metrics(State(app): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if !metrics_caller_allowed(&app.config, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({"code": -1, "message": "metrics need Authorization: Bearer <metrics_token>"})),
        )
            .into_response();
    }
    let health = app.store.health().await.ok();
    let depth = app.store.pending_callbacks().await.ok();
    let mut text = app.metrics.render(health, depth);
    text.push_str(&crate::platform::metrics::render_config_cache(app.store.config_cache_stats()));
    text.push_str(&crate::platform::metrics::render_group_commits(app.store.group_commit_stats()));
    text.push_str(&crate::platform::metrics::render_read_ahead(app.store.read_ahead_stats()));
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// How long a client is asked to wait before retrying a request that met a lost database
/// connection. The pool has already thrown the stale connections away by then.
const RETRY_AFTER_LOST_CONNECTION: &str = "1";

/// Middleware: a request whose store call met a connection the database closed (restart,
/// failover) fails with 503 and `Retry-After` instead of 500. The request's transaction did not
/// commit (a dead connection cannot commit; only a connection lost during the COMMIT itself
/// leaves that open, and the status endpoints tell), and the pool checks the remaining idle
/// connections before it hands them out again (`epay_store::watch_connection_loss`), so the
/// retry meets a live one.
pub async fn database_lost(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (mut response, lost) = epay_store::watch_connection_loss(next.run(request)).await;
    if lost && response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static(RETRY_AFTER_LOST_CONNECTION));
    }
    response
}
