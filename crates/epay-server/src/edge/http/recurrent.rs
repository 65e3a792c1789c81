//! `POST /recurrent/subscribe` (facts §10.4) and the subscription routes beside it: list, read,
//! pause, resume, cancel. A merchant's service token (`services::subscriptions`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::caller::Bearer;
use crate::app::AppState;
use crate::services::payments::PaymentError;
use crate::services::subscriptions::{self, Change, Subscribe};
use crate::wire::lenient::{self, Checked};

/// `POST /recurrent/subscribe`'s body (read with the lenient rules: a number is read as its
/// digits, any key case of `transactionId`).
#[derive(Deserialize, ToSchema)]
pub struct SubscribeRequest {
    /// The `id` of the original payment (also `transactionID`).
    #[serde(rename(deserialize = "transactionId|transactionID"), default)]
    #[schema(rename = "transactionId", value_type = String, example = "8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10")]
    transaction_id: Option<Checked<String>>,
    /// `WEEKLY`, `MONTHLY` or `QUARTERLY`.
    #[serde(rename(deserialize = "paymentFrequency"), default)]
    #[schema(rename = "paymentFrequency", value_type = String, example = "MONTHLY")]
    payment_frequency: Option<Checked<String>>,
}

fn read_subscribe(body: &[u8]) -> Result<Subscribe, PaymentError> {
    let bad = |e: crate::wire::FieldError| PaymentError::BadRequest(e.0);
    let request: SubscribeRequest = lenient::from_json(body).map_err(bad)?;
    Ok(Subscribe {
        transaction_id: lenient::given(request.transaction_id).map_err(bad)?.unwrap_or_default(),
        payment_frequency: lenient::given(request.payment_frequency).map_err(bad)?.unwrap_or_default(),
    })
}

pub async fn subscribe(State(app): State<AppState>, Bearer(caller, _): Bearer<PaymentError>, body: Bytes) -> Response {
    let done = async {
        let command = read_subscribe(&body)?;
        subscriptions::subscribe(&app, &caller, command).await
    };
    match done.await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(rename = "accountId", alias = "accountID", default)]
    account_id: String,
}

pub async fn list(
    State(app): State<AppState>,
    Query(query): Query<ListQuery>,
    Bearer(caller, _): Bearer<PaymentError>,
) -> Response {
    match subscriptions::list(&app, &caller, &query.account_id).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn read(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Bearer(caller, _): Bearer<PaymentError>,
) -> Response {
    let done = async {
        let s = subscriptions::read(&app, &caller, &id).await?;
        subscriptions::answer(&app, s).await
    };
    match done.await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn change(app: AppState, caller: crate::services::auth::Caller, id: String, change: Change) -> Response {
    let done = async {
        let s = subscriptions::change(&app, &caller, &id, change).await?;
        subscriptions::answer(&app, s).await
    };
    match done.await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn pause(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Bearer(caller, _): Bearer<PaymentError>,
) -> Response {
    change(app, caller, id, Change::Pause).await
}

pub async fn resume(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Bearer(caller, _): Bearer<PaymentError>,
) -> Response {
    change(app, caller, id, Change::Resume).await
}

pub async fn cancel(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Bearer(caller, _): Bearer<PaymentError>,
) -> Response {
    change(app, caller, id, Change::Cancel).await
}
