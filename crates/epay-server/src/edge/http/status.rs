//! `GET /check-status/payment/transaction/:invoiceId`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::caller::Bearer;
use crate::app::AppState;
use crate::services::status::{self, StatusError, StatusQuery};

pub async fn check(
    State(app): State<AppState>,
    Path(invoice_id): Path<String>,
    Bearer(caller, _): Bearer<StatusError>,
) -> Response {
    match status::check(&app, &caller, StatusQuery { invoice_id }).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}
