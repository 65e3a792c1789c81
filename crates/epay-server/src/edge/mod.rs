//! The surfaces: each turns its input (ePay JSON, the hosted page's forms, the cabinet's forms)
//! into a command and a caller, calls a service, and maps the service's errors to its wire shape
//! in one place. Nothing here holds a business rule.

pub mod cabinet;
pub mod html;
pub mod openapi;
pub mod page;

pub(crate) mod http;

use crate::app::AppState;

pub fn build_router(app: AppState) -> axum::Router {
    http::router(app)
}

/// The router of the separate metrics listener (`metrics_listen`): `/metrics` only.
pub fn build_metrics_router(app: AppState) -> axum::Router {
    http::metrics_router(app)
}
