//! `POST /operation/:id/charge|cancel|refund` (facts §9).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::caller::Bearer;
use crate::app::AppState;
use crate::services::operations::{self, Kind, OperationCommand, OperationError};
use crate::wire::Fields;

/// What the query string and the body ask for, before the path and the kind make it a command.
#[derive(Debug, Clone, Default)]
pub struct OperationArgs {
    pub amount: Option<epay_domain::Amount>,
    pub external_id: Option<String>,
}

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

/// The body is read before the token is refused: a malformed request is answered 400 whatever
/// its token, as it always was.
async fn handle(
    app: AppState,
    bearer: Result<Bearer<OperationError>, Response>,
    id: String,
    query: Option<String>,
    body: Bytes,
    kind: Kind,
) -> Response {
    let OperationArgs { amount, external_id } = match args(query.as_deref(), &body) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let Bearer(caller, _) = match bearer {
        Ok(bearer) => bearer,
        Err(refused) => return refused,
    };
    let command = OperationCommand { payment_id: id.trim().to_string(), kind, amount, external_id };
    match operations::run(&app, &caller, command).await {
        Ok(_) => success_answer(),
        Err(e) => e.into_response(),
    }
}

/// The answer to an operation that succeeded: ePay documents only "HTTP 200"; we answer its
/// `{code, message}` shape with code 0.
pub(crate) fn success_answer() -> Response {
    axum::Json(serde_json::json!({"code": 0, "message": ""})).into_response()
}

pub async fn charge(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    bearer: Result<Bearer<OperationError>, Response>,
    body: Bytes,
) -> Response {
    handle(app, bearer, id, query, body, Kind::Charge).await
}

pub async fn cancel(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    bearer: Result<Bearer<OperationError>, Response>,
    body: Bytes,
) -> Response {
    handle(app, bearer, id, query, body, Kind::Cancel).await
}

pub async fn refund(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    bearer: Result<Bearer<OperationError>, Response>,
    body: Bytes,
) -> Response {
    handle(app, bearer, id, query, body, Kind::Refund).await
}
