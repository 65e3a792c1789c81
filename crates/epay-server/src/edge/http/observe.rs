//! One middleware for every request: a request id (taken from `X-Request-Id` when the caller
//! sends a sane one, else new) carried by every log line of the request and returned in the
//! response header; one access log line; and the request metrics.
//!
//! Only the route template is logged and measured, never the URI: query strings carry tokens
//! (`confirmPayment?Access=…`) and paths carry ids.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::app::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// The route a request matched, handed from the inner layer to the outer one.
#[derive(Clone)]
struct Route(String);

/// Inner layer (on matched routes only): records which route template matched.
pub async fn mark_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then(|| text.to_string())
}

/// Outer layer: request id, access log, metrics.
pub async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let route = response.extensions().get::<Route>().map(|r| r.0.clone()).unwrap_or_else(|| "unmatched".into());
    let status = response.status().as_u16();
    app.metrics.observe_request(&method, &route, status, elapsed);
    span.in_scope(|| {
        tracing::info!(method, route, status, latency_us = elapsed.as_micros() as u64, "request");
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
