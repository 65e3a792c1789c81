//! `POST /operation/:id/charge|cancel|refund` (facts §9).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::services::operations::{self, Kind, OperationArgs, OperationError};
use crate::wire::Fields;

/// Reads `?amount=` / `?externalID=` and the optional JSON body `{"amount":…, "externalID":…}`;
/// when both give an amount they must agree (D-charge).
pub(crate) fn args(query: Option<&str>, body: &[u8]) -> Result<OperationArgs, OperationError> {
    let bad = |m: String| OperationError::BadRequest(m);
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
    let query_fields = Fields::from_pairs(pairs);
    let query_amount = query_fields.opt_amount(&["amount"]).map_err(|e| bad(e.0))?;
    let query_external = query_fields.opt_str(&["externalID", "externalId"]).map_err(|e| bad(e.0))?;
    let (body_amount, body_external) = if body.iter().all(u8::is_ascii_whitespace) {
        (None, None)
    } else {
        let fields = Fields::from_json(body).map_err(|e| bad(e.0))?;
        (
            fields.opt_amount(&["amount"]).map_err(|e| bad(e.0))?,
            fields.opt_str(&["externalID", "externalId"]).map_err(|e| bad(e.0))?,
        )
    };
    let amount = match (query_amount, body_amount) {
        (Some(q), Some(b)) if q != b => {
            return Err(bad(format!("amount in the query ({q}) and in the body ({b}) differ")));
        }
        (q, b) => q.or(b),
    };
    let external_id = match (query_external, body_external) {
        (Some(q), Some(b)) if q != b => return Err(bad("externalID in the query and in the body differ".into())),
        (q, b) => q.or(b).filter(|e| !e.trim().is_empty()),
    };
    if external_id.as_ref().is_some_and(|e| e.len() > 100) {
        return Err(bad("externalID must be at most 100 characters".into()));
    }
    Ok(OperationArgs { amount, external_id })
}

async fn handle(
    app: AppState,
    headers: HeaderMap,
    id: String,
    query: Option<String>,
    body: Bytes,
    kind: Kind,
) -> Response {
    let args = match args(query.as_deref(), &body) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match operations::run(&app, auth, id.trim(), kind, args).await {
        Ok(_) => operations::success_answer().into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn charge(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    handle(app, headers, id, query, body, Kind::Charge).await
}

pub async fn cancel(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    handle(app, headers, id, query, body, Kind::Cancel).await
}

pub async fn refund(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    handle(app, headers, id, query, body, Kind::Refund).await
}
