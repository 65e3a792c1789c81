//! Sandbox-only controls (mounted only in sandbox mode): move the gateway clock forward, so a
//! merchant can test authorization expiry without waiting days.
//!
//! The clock is one for the whole sandbox gateway (every merchant's payments expire against it),
//! so reading or moving it needs a merchant's service token: a shopper's browser, a payment
//! token, or a callback the gateway sends to an address it serves cannot reach it.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::edge::http::caller::{authenticate, authorization};
use crate::platform::clock::{epay_datetime, SandboxClock};
use crate::services::auth::{require_service_token, BearerError};
use crate::wire::lenient::{self, Checked};

/// The furthest one call may move the clock: 400 days.
const MAX_ADVANCE_SECS: i64 = 400 * 24 * 3600;

fn clock_state(app: &AppState, sandbox: &SandboxClock) -> serde_json::Value {
    json!({"now": epay_datetime(app.clock.now_ms()), "offsetSeconds": sandbox.offset_ms().div_euclid(1000)})
}

/// The answer without `App::sandbox_clock`, the power to move the clock. It is there in sandbox
/// mode, the only mode that mounts these routes.
fn no_sandbox_clock() -> Response {
    error(StatusCode::NOT_FOUND, "no sandbox clock in this mode".into())
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"code": -1, "message": message}))).into_response()
}

/// Lets through a request that carries a merchant's service token: 401 without a valid token,
/// 403 for a token that reaches a shopper (a payment token bound to an invoice, and the like).
async fn require_merchant(app: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let token = authenticate(app, authorization(headers)).await.map_err(|e| match e {
        BearerError::Storage => error(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()),
        other => error(StatusCode::UNAUTHORIZED, other.to_string()),
    })?;
    require_service_token(&token).map_err(|m| error(StatusCode::FORBIDDEN, m))
}

/// `GET /sandbox/clock` (service token).
pub async fn show(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(denied) = require_merchant(&app, &headers).await {
        return denied;
    }
    match &app.sandbox_clock {
        Some(sandbox) => Json(clock_state(&app, sandbox)).into_response(),
        None => no_sandbox_clock(),
    }
}

/// `POST /sandbox/clock/advance` as JSON (or `?seconds=N`), with a service token.
#[derive(Deserialize, ToSchema)]
pub struct ClockAdvance {
    /// 1 to 34 560 000 (400 days).
    #[schema(value_type = i64, example = 691200)]
    seconds: Option<Checked<String>>,
}

/// `POST /sandbox/clock/advance?seconds=N` (or JSON `{"seconds": N}`, service token); then runs
/// the expiry job.
pub async fn advance(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(denied) = require_merchant(&app, &headers).await {
        return denied;
    }
    let Some(sandbox) = &app.sandbox_clock else {
        return no_sandbox_clock();
    };
    let bad = |m: String| error(StatusCode::BAD_REQUEST, m);
    let read = |query: Option<String>| -> Result<Option<String>, crate::wire::FieldError> {
        let query = query.unwrap_or_default();
        let query: ClockAdvance = lenient::from_pairs(url::form_urlencoded::parse(query.as_bytes()).into_owned())?;
        // A body that is there must be a JSON object, even when the query says how far.
        let body: Option<ClockAdvance> =
            if body.iter().all(u8::is_ascii_whitespace) { None } else { Some(lenient::from_json(&body)?) };
        match lenient::given(query.seconds)? {
            Some(seconds) => Ok(Some(seconds)),
            None => Ok(lenient::given(body.and_then(|b| b.seconds))?),
        }
    };
    let raw = match read(query) {
        Ok(raw) => raw,
        Err(e) => return bad(e.0),
    };
    let Some(raw) = raw else {
        return bad("seconds is required, e.g. ?seconds=86400".into());
    };
    let seconds: i64 = match raw.trim().parse() {
        Ok(s) if (1..=MAX_ADVANCE_SECS).contains(&s) => s,
        _ => return bad(format!("seconds must be a whole number from 1 to {MAX_ADVANCE_SECS}")),
    };
    sandbox.advance(seconds * 1000);
    let expired = crate::services::expiry::expire_authorizations(&app).await;
    let abandoned = crate::services::three_ds_confirm::fail_abandoned(&app).await;
    // Subscriptions due by the new time are charged before the answer, so a test that moves the
    // clock a month sees that month's charge (the scheduler worker would, within its interval).
    let charged = crate::services::recurrent::run_due(&app).await;
    tracing::info!(seconds, expired, charged, "sandbox clock advanced");
    let mut state = clock_state(&app, sandbox);
    state["expired"] = json!(expired);
    state["abandoned3ds"] = json!(abandoned);
    state["subscriptionCharges"] = json!(charged);
    Json(state).into_response()
}
