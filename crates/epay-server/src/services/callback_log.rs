//! The callback log of a payment and re-sending one callback (the cabinet uses both).

use epay_domain::{CallbackKind, DeliveryStatus, Secret};
use serde::Serialize;

use crate::app::App;
use crate::platform::clock::epay_datetime;
use crate::services::auth::{require_service_token, Caller};
use crate::services::payments::PaymentError;

/// One delivery attempt of a callback.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i32,
    pub started_at: String,
    /// The merchant's HTTP status, `null` when no answer came.
    #[schema(required = true)]
    pub http_status: Option<i32>,
    pub latency_ms: i64,
    pub error: String,
    pub response: String,
    pub node: String,
}

/// One postLink callback of a transaction and its delivery attempts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackView {
    pub id: String,
    #[schema(value_type = String)]
    pub kind: CallbackKind,
    pub url: String,
    #[schema(value_type = String)]
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// Set only while `pending`.
    #[schema(required = true)]
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    #[schema(required = true)]
    pub delivered_at: Option<String>,
    /// The callback body as sent (docs/callbacks.md).
    #[schema(value_type = Value)]
    pub payload: SentBody,
    pub attempt_log: Vec<AttemptView>,
}

/// A callback body as the outbox keeps it, answered as the JSON text it is (not read into a
/// value and written again). It carries the payment's `secret_hash`, so `Debug` hides it.
#[derive(Debug)]
pub struct SentBody(Secret);

impl SentBody {
    pub fn new(text: Secret) -> SentBody {
        SentBody(text)
    }
}

impl Serialize for SentBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Only a hand edit of the database stores a body that is not JSON: it is answered as null.
        match serde_json::value::RawValue::from_string(self.0.expose().to_string()) {
            Ok(raw) => raw.serialize(serializer),
            Err(_) => serializer.serialize_unit(),
        }
    }
}

fn internal(e: epay_store::StoreError) -> PaymentError {
    tracing::error!(error = %e, "callback log storage failed");
    PaymentError::Internal
}

/// Whose callbacks the caller may see and resend: a service token its merchant's (only its own
/// terminal's when the token is bound to one, as operations do); the cabinet's merchant all of
/// its own. Any other token is refused.
fn visible_to(caller: &Caller) -> Result<(&str, Option<&str>), PaymentError> {
    match caller {
        Caller::Token(token) => {
            require_service_token(token).map_err(PaymentError::Forbidden)?;
            Ok((&token.merchant_id, token.terminal_id.as_deref()))
        }
        Caller::Cabinet { merchant_id } => Ok((merchant_id, None)),
    }
}

/// The callback log of a payment the caller may see; any other id is "not found".
pub async fn list(app: &App, caller: &Caller, payment_id: &str) -> Result<Vec<CallbackView>, PaymentError> {
    let (merchant_id, terminal_id) = visible_to(caller)?;
    let payment = app.store.payment(merchant_id, payment_id).await.map_err(internal)?;
    let visible = payment.is_some_and(|p| terminal_id.is_none_or(|t| p.terminal_id == t));
    if !visible {
        return Err(PaymentError::BadRequest(format!("transaction {payment_id} not found")));
    }
    let events = app.store.callbacks_of(merchant_id, payment_id).await.map_err(internal)?;
    Ok(events
        .into_iter()
        .map(|(e, attempts)| CallbackView {
            next_attempt_at: (e.status == DeliveryStatus::Pending).then(|| epay_datetime(e.next_attempt_at)),
            created_at: epay_datetime(e.created_at),
            delivered_at: e.delivered_at.map(epay_datetime),
            payload: SentBody(e.payload),
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

/// Queues again one callback the caller may list; any other event is "not found".
pub async fn resend(app: &App, caller: &Caller, event_id: &str) -> Result<(), PaymentError> {
    let (merchant_id, terminal_id) = visible_to(caller)?;
    if app.store.resend_callback(merchant_id, terminal_id, event_id, app.clock.now_ms()).await.map_err(internal)? {
        tracing::info!(event_id, "callback queued again");
        Ok(())
    } else {
        Err(PaymentError::BadRequest(format!("callback {event_id} not found")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_body_is_answered_as_the_json_it_is_and_never_printed() {
        // As stored, not read and written again (which would sort the keys).
        let body = SentBody::new(r#"{"secret_hash":"s3cret","code":"ok"}"#.into());
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"secret_hash":"s3cret","code":"ok"}"#);
        assert!(!format!("{body:?}").contains("s3cret"));
        // A body that is not JSON (only a hand edit stores one) is answered as null.
        assert_eq!(serde_json::to_string(&SentBody::new("not json".into())).unwrap(), "null");
    }
}
