//! The callback log of a payment and re-sending one callback (the cabinet uses both).

use serde::Serialize;

use crate::app::App;
use crate::clock::epay_datetime;
use crate::services::auth::authenticate;
use crate::services::payments::PaymentError;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i32,
    pub started_at: String,
    pub http_status: Option<i32>,
    pub latency_ms: i64,
    pub error: String,
    pub response: String,
    pub node: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackView {
    pub id: String,
    pub kind: String,
    pub url: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub payload: serde_json::Value,
    pub attempt_log: Vec<AttemptView>,
}

fn internal(e: epay_store::StoreError) -> PaymentError {
    tracing::error!(error = %e, "callback log storage failed");
    PaymentError::Internal
}

pub async fn list(app: &App, auth_header: Option<&str>, payment_id: &str) -> Result<Vec<CallbackView>, PaymentError> {
    let token = authenticate(app, auth_header).await?;
    crate::services::auth::require_service_token(&token).map_err(PaymentError::Forbidden)?;
    if app.store.payment(&token.merchant_id, payment_id).await.map_err(internal)?.is_none() {
        return Err(PaymentError::BadRequest(format!("transaction {payment_id} not found")));
    }
    let events = app.store.callbacks_of(&token.merchant_id, payment_id).await.map_err(internal)?;
    Ok(events
        .into_iter()
        .map(|(e, attempts)| CallbackView {
            next_attempt_at: (e.status == "pending").then(|| epay_datetime(e.next_attempt_at)),
            created_at: epay_datetime(e.created_at),
            delivered_at: e.delivered_at.map(epay_datetime),
            payload: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null),
            attempt_log: attempts
                .into_iter()
                .map(|a| AttemptView {
                    attempt: a.attempt_no,
                    started_at: epay_datetime(a.started_at),
                    http_status: a.http_status,
                    latency_ms: a.latency_ms,
                    error: a.error,
                    response: a.response_excerpt,
                    node: a.node,
                })
                .collect(),
            id: e.id,
            kind: e.kind,
            url: e.url,
            status: e.status,
            attempts: e.attempts,
        })
        .collect())
}

pub async fn resend(app: &App, auth_header: Option<&str>, event_id: &str) -> Result<(), PaymentError> {
    let token = authenticate(app, auth_header).await?;
    crate::services::auth::require_service_token(&token).map_err(PaymentError::Forbidden)?;
    if app.store.resend_callback(&token.merchant_id, event_id, app.clock.now_ms()).await.map_err(internal)? {
        tracing::info!(event_id, "callback queued again");
        Ok(())
    } else {
        Err(PaymentError::BadRequest(format!("callback {event_id} not found")))
    }
}
