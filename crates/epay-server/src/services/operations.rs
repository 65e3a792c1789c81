//! Charge, cancel and refund of an existing payment (facts §9).

use epay_domain::{Amount, PaymentKind, MIN_REFUND_MINOR};
use epay_store::{InvoiceBound, Operation, OperationRequest, Refusal, StoreError};

use crate::app::App;
use crate::services::auth::{operation_grant, BearerError, Caller, OperationGrant, NOT_THIS_INVOICE_TOKEN};
use crate::services::callbacks;
use crate::services::idempotency;

/// Errors of the operations surface; answered as `{"code": 100, "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperationError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("transaction {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("internal error")]
    Internal,
}

impl From<BearerError> for OperationError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Storage => OperationError::Internal,
            other => OperationError::Unauthorized(other.to_string()),
        }
    }
}

/// Charge, cancel or refund of one payment: the API builds it from its path, query string and
/// body, the cabinet from its form.
#[derive(Debug, Clone)]
pub struct OperationCommand {
    pub payment_id: String,
    pub kind: Kind,
    /// Part of the authorized (charge) or charged (refund) amount; the whole when absent.
    pub amount: Option<Amount>,
    /// A refund's own id (at most 100 characters): the same id again is the same refund.
    pub external_id: Option<String>,
}

/// The operations a merchant asks for (the sandbox's expiry is not one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Charge,
    Cancel,
    Refund,
}

impl Kind {
    /// This operation in the payment state machine.
    pub fn operation(self) -> epay_domain::Operation {
        match self {
            Kind::Charge => epay_domain::Operation::Charge,
            Kind::Cancel => epay_domain::Operation::Cancel,
            Kind::Refund => epay_domain::Operation::Refund,
        }
    }
}

/// Which payments a caller's operation may reach.
struct Reach {
    merchant_id: String,
    /// Only this terminal's payments are visible when set (a terminal-bound token).
    terminal_id: Option<String>,
    /// Set for a token bound to an invoice: only that invoice's payment, and only if the token
    /// was issued after the payment was decided (docs/compatibility.md 45).
    invoice_bound: Option<InvoiceBound>,
}

/// Runs an operation for its caller: the API's token or the cabinet's signed-in merchant, so the
/// rules are the same for both.
pub async fn run(app: &App, caller: &Caller, command: OperationCommand) -> Result<epay_store::Payment, OperationError> {
    let reach = match caller {
        Caller::Token(token) => {
            let invoice_bound = match operation_grant(token).map_err(OperationError::Unauthorized)? {
                OperationGrant::Service => None,
                OperationGrant::Invoice(bound) => Some(bound),
            };
            Reach { merchant_id: token.merchant_id.clone(), terminal_id: token.terminal_id.clone(), invoice_bound }
        }
        Caller::Cabinet { merchant_id } => {
            Reach { merchant_id: merchant_id.clone(), terminal_id: None, invoice_bound: None }
        }
    };
    let OperationCommand { payment_id, kind, amount, external_id } = command;
    let payment_id = payment_id.as_str();
    if amount.is_some_and(Amount::is_zero) {
        return Err(OperationError::BadRequest("amount must be greater than 0".into()));
    }
    if kind == Kind::Cancel && amount.is_some() {
        return Err(OperationError::BadRequest("cancel takes no amount: it releases the whole authorization".into()));
    }
    // The payment as it is before the operation, read for what the operation's transaction
    // cannot ask for: whether its terminal sends operation callbacks, and what is left to refund
    // (the callback of a full refund reports "all that was left"). Nothing here guards money:
    // every such check (status, amounts, ePay's minimum refund) runs in the store, in the
    // operation's own transaction.
    let before = app.store.payment(&reach.merchant_id, payment_id).await.map_err(internal)?;
    if let Some(bound) = &reach.invoice_bound {
        // Before any answer that reads the payment: another invoice's token hears only that it
        // is refused. The store decides in the transaction.
        let own = before.as_ref().is_some_and(|p| {
            p.invoice_id == bound.invoice_id && reach.terminal_id.as_ref().is_none_or(|t| *t == p.terminal_id)
        });
        if !own {
            return Err(OperationError::Unauthorized(NOT_THIS_INVOICE_TOKEN.into()));
        }
    }
    let announce = match &before {
        Some(p) if app.config.operation_callbacks => {
            app.store.terminal(&p.terminal_id).await.map_err(internal)?.is_some_and(|t| t.operation_callbacks)
        }
        _ => false,
    };
    let left_to_refund = before.as_ref().map(|p| p.charged_minor - p.refunded_minor);
    let requested = amount.map(Amount::minor);
    let operation = match kind {
        Kind::Charge => Operation::Charge { amount_minor: requested },
        Kind::Cancel => Operation::Cancel,
        Kind::Refund => Operation::Refund { amount_minor: requested, external_id },
    };
    let request = OperationRequest {
        merchant_id: reach.merchant_id.clone(),
        terminal_id: reach.terminal_id.clone(),
        invoice_bound: reach.invoice_bound.clone(),
        payment_id: payment_id.to_string(),
        operation,
        now_ms: app.clock.now_ms(),
        idempotency: idempotency::record(|_| Applied),
    };
    let callback = |p: &epay_store::Payment| {
        if !announce {
            return None;
        }
        let amount = match kind {
            Kind::Charge => p.charged_minor,
            Kind::Cancel => p.amount_minor,
            Kind::Refund => requested.or(left_to_refund).unwrap_or(p.refunded_minor),
        };
        callbacks::for_operation(p, kind.operation(), amount)
    };
    match app.store.operate(request, &callback).await {
        Ok(outcome) => {
            if !outcome.replayed {
                app.metrics.observe_outcome(&outcome.payment);
            }
            tracing::info!(
                payment_id, operation = ?kind, status = %outcome.payment.status, replayed = outcome.replayed,
                "operation applied"
            );
            Ok(outcome.payment)
        }
        // An invoice-bound token learns nothing about payments it may not touch: another
        // invoice's, terminal's or merchant's payment, and one that does not exist, all answer
        // as the token's own refusal.
        Err(StoreError::Refused(Refusal::NotFound | Refusal::NotThisToken)) if reach.invoice_bound.is_some() => {
            Err(OperationError::Unauthorized(NOT_THIS_INVOICE_TOKEN.into()))
        }
        Err(StoreError::Refused(refusal)) => Err(refused(kind, payment_id, refusal)),
        Err(e) => Err(internal(e)),
    }
}

/// An operation that was applied: what a keyed operation commits as its answer (the API words
/// it, `edge::http::operations::success_answer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied;

fn refused(kind: Kind, payment_id: &str, refusal: Refusal) -> OperationError {
    let major = |minor: i64| Amount::from_minor(minor).unwrap_or_default();
    let wrong_status = |status: &dyn std::fmt::Display| {
        let done = match kind {
            Kind::Charge => "charged",
            Kind::Cancel => "cancelled",
            Kind::Refund => "refunded",
        };
        let needed = kind.operation().from_status();
        OperationError::Refused(format!("transaction must have the {needed} status to be {done}; it is {status}"))
    };
    match refusal {
        Refusal::NotFound | Refusal::NotThisToken => OperationError::NotFound(payment_id.to_string()),
        Refusal::WrongStatus { status } => wrong_status(&status),
        // A concurrent refund with the same externalID kept winning: the payment was busy.
        Refusal::Busy => wrong_status(&"busy"),
        Refusal::OverAmount { left_minor } => OperationError::Refused(match kind {
            Kind::Refund => format!("refund amount exceeds what is left to refund ({})", major(left_minor)),
            _ => format!("charge amount exceeds the authorized amount ({})", major(left_minor)),
        }),
        Refusal::NotAPayment { kind } => {
            let what = match kind {
                PaymentKind::P2p => "a P2P transfer",
                PaymentKind::Aft => "an AFT transfer",
                PaymentKind::Oct => "an OCT payout transfer",
                PaymentKind::Verification => "a card verification",
                // Never refused as not a payment; said in case the rule ever changes.
                PaymentKind::Payment => "not a card payment",
            };
            OperationError::Refused(format!(
                "transaction {payment_id} is {what}: only card payments can be charged, cancelled or refunded"
            ))
        }
        Refusal::BelowMinimumRefund { amount_minor } => OperationError::BadRequest(format!(
            "a refund must be at least {}, or all that is left; {} was asked",
            major(MIN_REFUND_MINOR),
            major(amount_minor)
        )),
        Refusal::ExternalIdReused { amount_minor } => OperationError::Refused(format!(
            "externalID was already used for a refund of {}; use a new externalID for a new refund",
            major(amount_minor)
        )),
    }
}

fn internal(e: StoreError) -> OperationError {
    tracing::error!(error = %e, "operation storage failed");
    OperationError::Internal
}
