//! HTTP surfaces. Handlers are thin: read the request, call a service, map the result. Each
//! surface's error enum is turned into its ePay shape in `errors.rs`, in one place.

mod callbacks;
pub(crate) mod caller;
mod cards;
mod errors;
mod headers;
mod health;
mod idempotency;
pub(crate) mod invoices;
mod limits;
pub(crate) mod oauth;
mod observe;
pub(crate) mod operations;
pub(crate) mod payments;
pub(crate) mod recurrent;
pub(crate) mod sandbox;
mod status;
pub(crate) mod three_ds;
pub(crate) mod transfers;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::AppState;

/// The gateway's base URL as the client sees it: `public_url` from the configuration, else the
/// request's Host (and X-Forwarded-Proto).
pub(crate) fn public_base(app: &crate::app::App, headers: &axum::http::HeaderMap) -> String {
    if let Some(url) = &app.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    let scheme =
        headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).filter(|p| *p == "https").unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The ePay API routes. They answer at the root (newer hosts) and under `/api` (the older test
/// host), facts §1.
fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/oauth2/token", post(oauth::token))
        .route("/epay2/oauth2/token", post(oauth::token))
        .route("/public.rsa", get(payments::public_key))
        .route("/payment/cryptopay", post(payments::cryptopay))
        .route("/payments/cards/auth", post(payments::saved_card))
        .route("/payments/cards/confirmPayment", get(three_ds::confirm_payment).post(three_ds::confirm_payment))
        .route("/payment/cryptopay/confirm", post(three_ds::cryptopay_confirm))
        .route("/check-status/payment/transaction/{invoice_id}", get(status::check))
        .route("/operation/{id}/charge", post(operations::charge))
        .route("/operation/{id}/cancel", post(operations::cancel))
        .route("/operation/{id}/refund", post(operations::refund))
        .route("/cards/{account_id}", get(cards::list))
        .route("/card/deactivate/{card_id}", post(cards::deactivate))
        .route("/p2p/transfer", post(transfers::p2p))
        .route("/chdebit/transfer", post(transfers::aft))
        .route("/chpayment/transfer", post(transfers::oct))
        .route("/invoice", post(invoices::create).get(invoices::list))
        .route("/invoice/{id}", get(invoices::read))
        .route("/invoice/{id}/cancel", post(invoices::cancel))
        .route("/callbacks/{id}", get(callbacks::list))
        .route("/callbacks/{id}/resend", post(callbacks::resend))
        .route("/recurrent/subscribe", post(recurrent::subscribe))
        .route("/recurrent/subscriptions", get(recurrent::list))
        .route("/recurrent/subscriptions/{id}", get(recurrent::read))
        .route("/recurrent/subscriptions/{id}/pause", post(recurrent::pause))
        .route("/recurrent/subscriptions/{id}/resume", post(recurrent::resume))
        .route("/recurrent/subscriptions/{id}/cancel", post(recurrent::cancel))
}

pub fn router(app: AppState) -> Router {
    let api = api_routes().layer(axum::middleware::from_fn_with_state(app.clone(), idempotency::layer));
    let mut router = Router::new()
        .merge(api.clone())
        .nest("/api", api)
        .merge(crate::edge::page::routes())
        .merge(crate::edge::cabinet::routes())
        .merge(crate::edge::openapi::routes())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if health::metrics_on_api(&app.config) {
        router = router.route("/metrics", get(health::metrics));
    }
    if app.config.mode == crate::platform::config::Mode::Sandbox {
        router =
            router.route("/sandbox/clock", get(sandbox::show)).route("/sandbox/clock/advance", post(sandbox::advance));
    }
    router
        .route_layer(axum::middleware::from_fn(observe::mark_route))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(health::database_lost))
        // A panic is a bug, but the client still gets ePay's error shape, never a dropped socket.
        .layer(CatchPanicLayer::custom(|_| {
            (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"code": -1, "message": "internal error"})))
                .into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(app.clone(), headers::secure))
        .layer(axum::middleware::from_fn_with_state(app.clone(), limits::limit))
        .layer(axum::extract::DefaultBodyLimit::max(app.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(app.clone(), observe::observe))
        .with_state(app)
}

/// `/metrics` alone, for its own listener (`metrics_listen`).
pub fn metrics_router(app: AppState) -> Router {
    Router::new().route("/metrics", get(health::metrics)).with_state(app)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({"code": -1, "message": "no such endpoint"})))
}
