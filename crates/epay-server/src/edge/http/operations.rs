//! `POST /operation/:id/charge|cancel|refund` (facts §9).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use epay_domain::Amount;
use serde::Deserialize;
use utoipa::ToSchema;

use super::caller::Bearer;
use crate::app::AppState;
use crate::services::operations::{self, Kind, OperationCommand, OperationError};
use crate::wire::lenient::{self, Checked};
use crate::wire::{FieldError, JsonAmount};

/// What the query string and the body ask for, before the path and the kind make it a command.
#[derive(Debug, Clone, Default)]
pub struct OperationArgs {
    pub amount: Option<epay_domain::Amount>,
    pub external_id: Option<String>,
}

/// Arguments of charge and refund (also as query parameters; when both are given they must
/// agree). Cancel takes none.
// Each field keeps its own fault, reported in the order they are read: the query's amount and
// `externalID`, then the body's.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct OperationRequest {
    /// Greater than 0; default: the whole amount (charge) or all that is left (refund).
    #[schema(value_type = Option<JsonAmount>)]
    amount: Option<Checked<Amount>>,
    /// Refund only, at most 100 characters (also `externalId`): a refund with an `externalID`
    /// already used on this payment is replayed.
    #[serde(rename(deserialize = "externalID|externalId"))]
    #[schema(rename = "externalID", value_type = Option<String>)]
    external_id: Option<Checked<String>>,
}

/// Reads `?amount=` / `?externalID=` and the optional JSON body `{"amount":…, "externalID":…}`;
/// when both give an amount they must agree (D-charge).
pub(crate) fn args(query: Option<&str>, body: &[u8]) -> Result<OperationArgs, OperationError> {
    let bad = |e: FieldError| OperationError::BadRequest(e.0);
    let query: OperationRequest =
        lenient::from_pairs(url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned()).map_err(bad)?;
    let query_amount = lenient::given(query.amount).map_err(bad)?;
    let query_external = lenient::given(query.external_id).map_err(bad)?;
    let (body_amount, body_external) = if body.iter().all(u8::is_ascii_whitespace) {
        (None, None)
    } else {
        let body: OperationRequest = lenient::from_json(body).map_err(bad)?;
        (lenient::given(body.amount).map_err(bad)?, lenient::given(body.external_id).map_err(bad)?)
    };
    let amount = match (query_amount, body_amount) {
        (Some(q), Some(b)) if q != b => {
            return Err(OperationError::BadRequest(format!("amount in the query ({q}) and in the body ({b}) differ")));
        }
        (q, b) => q.or(b),
    };
    let external_id = match (query_external, body_external) {
        (Some(q), Some(b)) if q != b => {
            return Err(OperationError::BadRequest("externalID in the query and in the body differ".into()))
        }
        (q, b) => q.or(b).filter(|e| !e.trim().is_empty()),
    };
    if external_id.as_ref().is_some_and(|e| e.len() > 100) {
        return Err(OperationError::BadRequest("externalID must be at most 100 characters".into()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str, body: &str) -> String {
        match args(Some(query), body.as_bytes()) {
            Err(OperationError::BadRequest(message)) => message,
            other => panic!("{query} {body}: {other:?}"),
        }
    }

    #[test]
    fn the_query_and_the_body_are_read_alike_and_must_agree() {
        let a = args(Some("AMOUNT=12.5&externalId=r1"), br#"{"amount":12.50,"EXTERNALID":"r1"}"#).unwrap();
        assert_eq!((a.amount.map(|a| a.minor()), a.external_id.as_deref()), (Some(1250), Some("r1")));
        let a = args(None, b"  ").unwrap();
        assert_eq!((a.amount, a.external_id), (None, None));
        assert_eq!(refused("amount=1", r#"{"amount":2}"#), "amount in the query (1) and in the body (2) differ");
        assert_eq!(refused("externalID=a", r#"{"externalID":"b"}"#), "externalID in the query and in the body differ");
    }

    #[test]
    fn faults_come_in_reading_order() {
        assert_eq!(refused("amount=x", r#"{"amount":[]}"#), "field amount: amount must be a number");
        assert_eq!(refused("externalID=", r#"{"amount":[],"externalID":{}}"#), "field amount must be a number");
        assert_eq!(refused("", r#"{"externalID":{},"amount":1}"#), "field externalID must be a string");
        assert_eq!(refused("amount=1", "[]"), "request body must be a JSON object");
    }
}
