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
    // The payment as it is before the operation, read only when something must be known before
    // the operation's transaction: whether an invoice-bound token may hear anything about it,
    // and, for a caller that names no terminal, whether the payment's terminal sends operation
    // callbacks. A token that names its terminal reaches only that terminal's payments (the
    // store refuses any other as not found), so its terminal decides, from the configuration
    // in memory, and a service token's operation reads nothing before its transaction. Nothing
    // here guards money: every such check (status, amounts, ePay's minimum refund) runs in the
    // store, in the operation's own transaction.
    let callbacks_need_it = app.config.operation_callbacks && reach.terminal_id.is_none();
    let before = if reach.invoice_bound.is_some() || callbacks_need_it {
        app.store.payment(&reach.merchant_id, payment_id).await.map_err(internal)?
    } else {
        None
    };
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
    let terminal = reach.terminal_id.as_deref().or(before.as_ref().map(|p| p.terminal_id.as_str()));
    let announce = match terminal {
        Some(terminal) if app.config.operation_callbacks => {
            app.store.terminal(terminal).await.map_err(internal)?.is_some_and(|t| t.operation_callbacks)
        }
        _ => false,
    };
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
    let callback = |p: &epay_store::Payment, moved_minor: i64| {
        if !announce {
            return None;
        }
        let amount = match kind {
            Kind::Charge => p.charged_minor,
            Kind::Cancel => p.amount_minor,
            // What this refund refunded: the amount asked, or all that was left.
            Kind::Refund => moved_minor,
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

#[cfg(test)]
/// Charge, cancel and refund refusals without a server: payments authorized through the payment
/// service in the in-memory gateway, operated on by each kind of caller. Every refusal leaves
/// the payment and its ledger as they were.
mod tests {
    use epay_domain::{Amount, TxStatus};
    use epay_store::{Payment, TokenRecord};

    use super::{run, Kind, OperationCommand, OperationError};
    use crate::app::App;
    use crate::platform::test_merchant::{PAYMENT_TERMINAL, TEST_MERCHANT_ID, THREE_DS_TERMINAL};
    use crate::services::auth::{Caller, NOT_A_PAGE_TOKEN, NOT_THIS_INVOICE_TOKEN};
    use crate::testing::{authorized, issue, payment_token, service_token, NOW};

    fn command(p: &Payment, kind: Kind, amount_minor: Option<i64>, external_id: Option<&str>) -> OperationCommand {
        OperationCommand {
            payment_id: p.id.clone(),
            kind,
            amount: amount_minor.map(|a| Amount::from_minor(a).unwrap()),
            external_id: external_id.map(String::from),
        }
    }

    /// The payment's status, charged and refunded amounts, and ledger transfers, as stored.
    async fn money(app: &App, p: &Payment) -> (TxStatus, i64, i64, usize) {
        let p = app.store.payment(TEST_MERCHANT_ID, &p.id).await.unwrap().unwrap();
        (p.status, p.charged_minor, p.refunded_minor, app.store.ledger_transfers_of(&p.id).await.unwrap().len())
    }

    fn refused(e: &OperationError) -> &str {
        match e {
            OperationError::Refused(m) | OperationError::BadRequest(m) | OperationError::Unauthorized(m) => m.as_str(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn bad_amounts_and_wrong_states_are_refused_and_change_nothing() {
        let app = App::for_tests(NOW).await;
        let p = authorized(&app, "000601").await;
        let merchant = Caller::Cabinet { merchant_id: TEST_MERCHANT_ID.into() };
        let before = money(&app, &p).await;
        assert_eq!(before, (TxStatus::Auth, 0, 0, 1), "authorized: one hold");
        let zero = run(&app, &merchant, command(&p, Kind::Charge, Some(0), None)).await.unwrap_err();
        assert_eq!(zero, OperationError::BadRequest("amount must be greater than 0".into()));
        let refund_auth = run(&app, &merchant, command(&p, Kind::Refund, None, None)).await.unwrap_err();
        assert_eq!(refused(&refund_auth), "transaction must have the CHARGE status to be refunded; it is AUTH");
        assert_eq!(money(&app, &p).await, before);

        let cancelled = run(&app, &merchant, command(&p, Kind::Cancel, None, None)).await.expect("cancelled");
        assert_eq!(cancelled.status, TxStatus::Cancel);
        let after_cancel = money(&app, &p).await;
        for kind in [Kind::Charge, Kind::Cancel, Kind::Refund] {
            let e = run(&app, &merchant, command(&p, kind, None, None)).await.unwrap_err();
            assert!(refused(&e).ends_with("; it is CANCEL"), "{kind:?}: {e:?}");
        }
        assert_eq!(money(&app, &p).await, after_cancel, "a cancelled payment is final");
    }

    #[tokio::test]
    async fn refunds_keep_the_minimum_and_their_external_ids() {
        let app = App::for_tests(NOW).await;
        let p = authorized(&app, "000602").await;
        let merchant = Caller::Cabinet { merchant_id: TEST_MERCHANT_ID.into() };
        run(&app, &merchant, command(&p, Kind::Charge, None, None)).await.expect("charged in full");
        let small = run(&app, &merchant, command(&p, Kind::Refund, Some(999), None)).await.unwrap_err();
        assert_eq!(
            small,
            OperationError::BadRequest("a refund must be at least 10, or all that is left; 9.99 was asked".into())
        );
        let first = run(&app, &merchant, command(&p, Kind::Refund, Some(2_000), Some("r-1"))).await.unwrap();
        assert_eq!(first.refunded_minor, 2_000);
        let reused = run(&app, &merchant, command(&p, Kind::Refund, Some(3_000), Some("r-1"))).await.unwrap_err();
        assert_eq!(
            refused(&reused),
            "externalID was already used for a refund of 20; use a new externalID for a new refund"
        );
        // The same refund again is the same refund, not a second one.
        let replayed = run(&app, &merchant, command(&p, Kind::Refund, Some(2_000), Some("r-1"))).await.unwrap();
        assert_eq!(replayed.refunded_minor, 2_000);
        let over = run(&app, &merchant, command(&p, Kind::Refund, Some(8_001), None)).await.unwrap_err();
        assert_eq!(refused(&over), "refund amount exceeds what is left to refund (80)");
        // What is left may be refunded even below the minimum.
        run(&app, &merchant, command(&p, Kind::Refund, Some(7_500), None)).await.expect("a partial refund");
        let rest = run(&app, &merchant, command(&p, Kind::Refund, Some(500), None)).await.expect("the rest");
        assert_eq!((rest.status, rest.refunded_minor), (TxStatus::Refund, 10_000));
        assert!(app.store.check_ledger().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn each_token_reaches_only_what_it_is_bound_to() {
        let app = App::for_tests(NOW).await;
        let p = authorized(&app, "000603").await;
        let charge = || command(&p, Kind::Charge, None, None);
        // Another terminal's service token does not see the payment at all.
        let elsewhere = issue(&app, service_token(THREE_DS_TERMINAL)).await;
        assert_eq!(run(&app, &elsewhere.caller, charge()).await.unwrap_err(), OperationError::NotFound(p.id.clone()));
        // A spent token, like the page's, never moves the payment's money.
        let (text, record) = payment_token(PAYMENT_TERMINAL, "000603", 10_000);
        let spent = issue(&app, (text, TokenRecord { used_at: Some(NOW), ..record })).await;
        assert_eq!(
            run(&app, &spent.caller, charge()).await.unwrap_err(),
            OperationError::Unauthorized(NOT_A_PAGE_TOKEN.into())
        );
        // A token for the invoice issued when the payment was decided, or for another invoice: refused alike.
        let same_time = issue(&app, payment_token(PAYMENT_TERMINAL, "000603", 10_000)).await;
        let other_invoice = issue(&app, payment_token(PAYMENT_TERMINAL, "000604", 10_000)).await;
        for token in [&same_time, &other_invoice] {
            assert_eq!(
                run(&app, &token.caller, charge()).await.unwrap_err(),
                OperationError::Unauthorized(NOT_THIS_INVOICE_TOKEN.into())
            );
        }
        assert_eq!(money(&app, &p).await, (TxStatus::Auth, 0, 0, 1));
        // Issued a millisecond after the payment, the invoice's token may charge it.
        let app = app.at(NOW + 1);
        let (text, record) = payment_token(PAYMENT_TERMINAL, "000603", 10_000);
        let after = issue(&app, (text, TokenRecord { created_at: NOW + 1, ..record })).await;
        assert_eq!(run(&app, &after.caller, charge()).await.unwrap().status, TxStatus::Charge);
    }
}
