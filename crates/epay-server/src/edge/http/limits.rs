//! Request limits that protect the gateway itself: a body-size cap (checked on the declared
//! length before anything is read, and on the bytes actually read by `DefaultBodyLimit`) and a
//! whole-request timeout, both answered in the API's JSON error shape.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::AppState;

pub async fn limit(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let max = app.config.max_body_bytes;
    let declared =
        request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large(max);
    }
    let timeout = Duration::from_secs(app.config.request_timeout_secs);
    match tokio::time::timeout(timeout, next.run(request)).await {
        // A chunked body over the cap fails inside the handler's extractor with a bare 413.
        Ok(response) if response.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(max),
        Ok(response) => response,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            Json(json!({"code": -1, "message": format!("request not completed within {} seconds", timeout.as_secs())})),
        )
            .into_response(),
    }
}

fn too_large(max: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({"code": -1, "message": format!("request body too large: at most {max} bytes")})),
    )
        .into_response()
}
