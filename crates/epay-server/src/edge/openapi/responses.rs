//! Answers that the handlers build with `serde_json::json!` rather than from a type. Their shapes
//! are written down here; `tests/openapi.rs` compares each with the keys of a real answer, so a
//! change to a handler that is not made here too fails the test. The rest of the answers are
//! described by the types the handlers serialize (`wire.rs`, `services/`).
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

use crate::services::callback_log::CallbackView;
use crate::services::transfers::TransferResponse;
use crate::wire::{ErrorBody, PaymentAnswer, TransferErrorBody};

/// What `/payments/cards/auth` answers: the payment, or the transfer when the body was one.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SavedCardAnswer {
    Payment(PaymentAnswer),
    Transfer(TransferResponse),
}

/// The errors of `/payments/cards/auth`: the payment shape, or the transfer shape for a transfer
/// body.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SavedCardError {
    Payment(ErrorBody),
    Transfer(TransferErrorBody),
}

/// Success of charge, cancel and refund.
#[derive(Serialize, ToSchema)]
pub struct OperationResult {
    /// Always 0.
    code: i32,
    /// `""`.
    message: String,
}

/// `POST /card/deactivate/{cardID}` (facts §10.3).
#[derive(Serialize, ToSchema)]
pub struct CardDeactivated {
    /// `card successfully deactivated`.
    #[schema(example = "card successfully deactivated")]
    status: String,
}

/// `GET /callbacks/{transactionId}`: the transaction's callbacks, oldest first.
#[derive(Serialize, ToSchema)]
pub struct CallbackLog {
    callbacks: Vec<CallbackView>,
}

/// `POST /callbacks/{callbackId}/resend`.
#[derive(Serialize, ToSchema)]
pub struct CallbackQueued {
    /// `queued`.
    #[schema(example = "queued")]
    status: String,
}

/// The sandbox clock.
#[derive(Serialize, ToSchema)]
pub struct SandboxClock {
    /// The gateway's time, `YYYY-MM-DDTHH:MM:SS.ffffff+05:00`.
    now: String,
    /// How far the gateway clock is ahead of the wall clock.
    #[serde(rename = "offsetSeconds")]
    offset_seconds: i64,
}

/// The sandbox clock after moving it, and what the jobs it ran did.
#[derive(Serialize, ToSchema)]
pub struct SandboxClockAdvanced {
    now: String,
    #[serde(rename = "offsetSeconds")]
    offset_seconds: i64,
    /// Authorizations that became `CANCEL_OLD`.
    expired: i64,
    /// 3-D Secure payments failed with 877.
    #[serde(rename = "abandoned3ds")]
    abandoned_3ds: i64,
    /// Subscription periods charged (approved or declined) by the scheduler after the move.
    #[serde(rename = "subscriptionCharges")]
    subscription_charges: i64,
}

/// `/readyz` when the node can serve payments.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// `ready`.
    #[schema(example = "ready")]
    status: String,
    /// `sqlite` or `postgres`.
    database: String,
    /// Migrations applied.
    migrations: i64,
    /// `loaded`.
    keys: String,
}

/// `/readyz` when the node cannot serve payments.
#[derive(Serialize, ToSchema)]
pub struct NotReady {
    /// `not ready`.
    #[schema(example = "not ready")]
    status: String,
    /// Why: the database does not answer, migrations are pending, or the key is not loaded.
    reason: String,
}
