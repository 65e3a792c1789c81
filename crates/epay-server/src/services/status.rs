//! Transaction status by invoice (facts §8).

use epay_domain::{InvoiceId, ResultCode, TxStatus};
use epay_store::Payment;

use crate::app::App;
use crate::platform::clock::epay_datetime;
use crate::services::auth::{BearerError, Caller};
use crate::wire::{JsonAmount, StatusResponse, StatusTransaction};

/// Errors of the status surface; all are answered in the status shape with a `resultCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusError {
    Unauthorized(String),
    Internal,
}

fn result(code: ResultCode, message: &str) -> StatusResponse {
    StatusResponse { result_code: code.code().into(), result_message: message.into(), transaction: None }
}

/// `resultCode` and `resultMessage` of a found transaction (docs/api.md has the table): `100`
/// once the payment stands (read `statusName`), `107` while it is still in progress (a 3-D Secure
/// challenge is open), `101` when it was rejected. The transaction is sent with each of them, so a
/// client reads `statusName` and `reasonCode` whatever the code.
fn found(status: TxStatus) -> (ResultCode, &'static str) {
    let code = ResultCode::of(status);
    let message = match code {
        ResultCode::InProgress => "operation in progress, request the status later",
        // ePay's message for 101 is the word REJECT, for a FAILED transaction too.
        ResultCode::Rejected => TxStatus::Reject.as_str(),
        _ => "SUCCESS",
    };
    (code, message)
}

impl From<BearerError> for StatusError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Storage => StatusError::Internal,
            other => StatusError::Unauthorized(other.to_string()),
        }
    }
}

/// `GET /check-status/payment/transaction/:invoiceId`, as its path names the invoice.
#[derive(Debug, Clone)]
pub struct StatusQuery {
    /// As the client sent it: an id that is not 6 to 16 digits is answered "not found" (code 102)
    /// like an unknown one, not refused as bad input.
    pub invoice_id: String,
}

pub async fn check(app: &App, caller: &Caller, query: StatusQuery) -> Result<StatusResponse, StatusError> {
    let invoice = query.invoice_id.as_str();
    // The status answers only token holders: the cabinet shows its merchant's payments itself.
    let Some(token) = caller.token() else {
        return Err(StatusError::Unauthorized(BearerError::Missing.to_string()));
    };
    let Some(terminal_id) = token.terminal_id.as_deref() else {
        return Ok(result(ResultCode::TerminalAbsent, "terminal absent in token"));
    };
    // Transfer order ids may have 16 digits (seed 001).
    if InvoiceId::parse_transfer_order(invoice).is_err() {
        return Ok(result(ResultCode::NotFound, "invoiceId must be 6 to 16 digits"));
    }
    // A token issued for one invoice travels through the shopper's browser (the payment page):
    // it may read that invoice's status, never another's. Any other invoice needs a service
    // token; a transfer token without an invoice (seed 002's page token) reads none.
    let readable = match token.invoice_id.as_deref() {
        Some(bound) => bound == invoice,
        None => crate::services::auth::require_service_token(token).is_ok(),
    };
    if !readable {
        return Ok(result(ResultCode::NotFound, "invoice not found"));
    }
    let payment = app.store.payment_by_invoice(terminal_id, invoice).await.map_err(|e| {
        tracing::error!(error = %e, "status lookup failed");
        StatusError::Internal
    })?;
    let Some(p) = payment else {
        return Ok(result(ResultCode::NotFound, "invoice not found"));
    };
    let pos = app.store.terminal(terminal_id).await.ok().flatten().map(|t| t.pos_id).unwrap_or_default();
    let (code, message) = found(p.status);
    Ok(StatusResponse {
        result_code: code.code().into(),
        result_message: message.into(),
        transaction: Some(transaction(&p, &pos)),
    })
}

/// `amount` is what the payment is worth now: the authorized amount until it is charged, then
/// what was charged less what was refunded (`orgAmount` keeps the original; docs/compatibility.md).
pub(crate) fn current_amount(p: &Payment) -> i64 {
    match p.status {
        TxStatus::Charge | TxStatus::Refund => p.charged_minor - p.refunded_minor,
        TxStatus::New
        | TxStatus::ThreeD
        | TxStatus::Auth
        | TxStatus::Cancel
        | TxStatus::CancelOld
        | TxStatus::Reject
        | TxStatus::Failed
        | TxStatus::Verified => p.amount_minor,
    }
}

/// What reaches the receiving side: for a payment, what was charged less refunds and fee; for
/// a transfer the sender pays the fee on top, so the receiver gets the whole amount.
fn payout_amount(p: &Payment) -> i64 {
    if p.kind.is_transfer() {
        p.charged_minor
    } else {
        p.charged_minor - p.refunded_minor - p.fee_minor
    }
}

pub fn transaction(p: &Payment, terminal_pos: &str) -> StatusTransaction {
    StatusTransaction {
        id: p.id.clone(),
        created_date: epay_datetime(p.created_at),
        invoice_id: p.invoice_id.clone(),
        amount: JsonAmount(current_amount(p)),
        amount_bonus: JsonAmount(0),
        payout_amount: JsonAmount(payout_amount(p)),
        org_amount: JsonAmount(p.amount_minor),
        approval_code: p.approval_code.clone(),
        data: p.data.clone(),
        currency: p.currency.clone(),
        terminal: terminal_pos.to_string(),
        terminal_id: p.terminal_id.clone(),
        account_id: p.account_id.clone(),
        description: p.description.clone(),
        language: p.language.clone(),
        card_mask: p.card_mask.clone(),
        card_type: p.card_brand.clone(),
        issuer: p.issuer.clone(),
        reference: p.reference.clone(),
        reason: p.reason.clone(),
        reason_code: p.reason_code.to_string(),
        int_reference: p.int_reference.clone(),
        secure: p.secure,
        secure_details: if p.secure { "Y".into() } else { String::new() },
        // ePay does not document its numbering; ours is stable and listed in docs/api.md.
        status_id: p.status.id().to_string(),
        status_name: p.status.to_string(),
        name: p.payer_name.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
        card_id: p.card_id.clone().unwrap_or_default(),
        xls_rrn: p.reference.clone(),
        ip: String::new(),
        ip_country: String::new(),
        ip_city: String::new(),
        ip_region: String::new(),
        ip_district: String::new(),
        ip_latitude: 0.0,
        ip_longitude: 0.0,
    }
}

#[cfg(test)]
/// The status service without a server: payments made through the payment service in the
/// in-memory gateway, read back by invoice as each kind of token may read them.
mod tests {
    use epay_domain::TxStatus;
    use epay_store::{Payment, TokenRecord};

    use super::{check, current_amount, payout_amount, StatusError, StatusQuery};
    use crate::app::App;
    use crate::platform::clock::epay_datetime;
    use crate::platform::test_merchant::{PAYMENT_TERMINAL, TEST_MERCHANT_ID, THREE_DS_TERMINAL};
    use crate::services::auth::Caller;
    use crate::services::three_ds::{self, AnswerChallenge, ShopperAnswer};
    use crate::services::three_ds_confirm::{self, ConfirmChallenge};
    use crate::testing::{authorized, challenged, issue, payment_token, service_token, NOW};
    use crate::wire::three_ds::{md, AcsTransId, ServerTransId};
    use crate::wire::StatusResponse;

    async fn status(app: &App, caller: &Caller, invoice: &str) -> StatusResponse {
        check(app, caller, StatusQuery { invoice_id: invoice.into() }).await.expect("an answer")
    }

    /// The answer's `resultCode` and `resultMessage`, and whether it carries the transaction.
    fn said(answer: &StatusResponse) -> (&str, &str, bool) {
        (answer.result_code.as_str(), answer.result_message.as_str(), answer.transaction.is_some())
    }

    #[tokio::test]
    async fn a_service_token_reads_its_terminals_payment_by_invoice() {
        let app = App::for_tests(NOW).await;
        let paid = authorized(&app, "000401").await;
        let service = issue(&app, service_token(PAYMENT_TERMINAL)).await;
        let found = status(&app, &service.caller, "000401").await;
        assert_eq!(said(&found), ("100", "SUCCESS", true));
        let tx = found.transaction.unwrap();
        assert_eq!((tx.id.as_str(), tx.status_name.as_str(), tx.status_id.as_str()), (paid.id.as_str(), "AUTH", "2"));
        assert_eq!((tx.amount.0, tx.org_amount.0, tx.payout_amount.0), (10_000, 10_000, 0));
        assert_eq!((tx.terminal.as_str(), tx.invoice_id.as_str()), ("98120001", "000401"));
        assert_eq!(tx.created_date, epay_datetime(NOW));
        assert!(!tx.card_mask.contains("4405639704015096"), "{}", tx.card_mask);
        assert_eq!(said(&status(&app, &service.caller, "000499").await), ("102", "invoice not found", false));
        assert_eq!(
            said(&status(&app, &service.caller, "12345").await),
            ("102", "invoiceId must be 6 to 16 digits", false)
        );
        // Another terminal's token sees none of this terminal's invoices.
        let elsewhere = issue(&app, service_token(THREE_DS_TERMINAL)).await;
        assert_eq!(said(&status(&app, &elsewhere.caller, "000401").await), ("102", "invoice not found", false));
        let (text, record) = service_token(PAYMENT_TERMINAL);
        let no_terminal = issue(&app, (text, TokenRecord { terminal_id: None, ..record })).await;
        assert_eq!(
            said(&status(&app, &no_terminal.caller, "000401").await),
            ("104", "terminal absent in token", false)
        );
        let cabinet = Caller::Cabinet { merchant_id: TEST_MERCHANT_ID.into() };
        let refused = check(&app, &cabinet, StatusQuery { invoice_id: "000401".into() }).await.unwrap_err();
        assert!(matches!(refused, StatusError::Unauthorized(_)), "{refused:?}");
    }

    #[tokio::test]
    async fn a_page_token_reads_only_its_own_invoice() {
        let app = App::for_tests(NOW).await;
        authorized(&app, "000402").await;
        authorized(&app, "000403").await;
        let page = issue(&app, payment_token(PAYMENT_TERMINAL, "000402", 10_000)).await;
        assert_eq!(said(&status(&app, &page.caller, "000402").await), ("100", "SUCCESS", true));
        assert_eq!(said(&status(&app, &page.caller, "000403").await), ("102", "invoice not found", false));
        // A transfer token without an invoice (seed 002's page token) reads none.
        let (text, record) = service_token(PAYMENT_TERMINAL);
        let transfer = issue(&app, (text, TokenRecord { scope: "transfer".into(), ..record })).await;
        assert_eq!(said(&status(&app, &transfer.caller, "000402").await), ("102", "invoice not found", false));
    }

    #[tokio::test]
    async fn a_challenge_is_in_progress_until_it_ends_and_a_failure_reads_reject() {
        let app = App::for_tests(NOW).await;
        let c = challenged(&app, "000404").await;
        let service = issue(&app, service_token(THREE_DS_TERMINAL)).await;
        let waiting = status(&app, &service.caller, "000404").await;
        assert_eq!(said(&waiting), ("107", "operation in progress, request the status later", true));
        assert_eq!(waiting.transaction.unwrap().status_name, "3D");
        let (acs, server) = (AcsTransId::parse(&c.session.id).unwrap(), &c.session.server_trans_id);
        let form = AnswerChallenge {
            challenge: acs.clone(),
            md: ServerTransId::from_md(&md(server)),
            answer: ShopperAnswer::Code("000000".into()),
        };
        // The ACS's last try fails the challenge.
        while let three_ds::Answered::TryAgain(_) = three_ds::answer(&app, form.clone()).await.expect("answered") {}
        let command = ConfirmChallenge { md: ServerTransId::from_md(&md(server)).unwrap(), pa_res: Some(acs) };
        three_ds_confirm::confirm(&app, Some(&c.token.caller), command).await.expect_err("a wrong code fails it");
        let failed = status(&app, &service.caller, "000404").await;
        // ePay's message for 101 is the word REJECT, for a FAILED transaction too.
        assert_eq!(said(&failed), ("101", "REJECT", true));
        let tx = failed.transaction.unwrap();
        assert_eq!(
            (tx.status_name.as_str(), tx.reason_code.as_str(), tx.secure_details.as_str()),
            ("FAILED", "473", "Y")
        );
    }

    #[test]
    fn the_amount_is_what_the_payment_is_worth_now() {
        let auth = Payment { status: TxStatus::Auth, amount_minor: 10_000, fee_minor: 200, ..Payment::default() };
        assert_eq!((current_amount(&auth), payout_amount(&auth)), (10_000, -200));
        let charged = Payment { status: TxStatus::Charge, charged_minor: 6_000, ..auth.clone() };
        assert_eq!((current_amount(&charged), payout_amount(&charged)), (6_000, 5_800));
        let refunded = Payment { status: TxStatus::Refund, refunded_minor: 1_000, ..charged.clone() };
        assert_eq!((current_amount(&refunded), payout_amount(&refunded)), (5_000, 4_800));
        let cancelled = Payment { status: TxStatus::Cancel, ..auth.clone() };
        assert_eq!(current_amount(&cancelled), 10_000, "orgAmount's value: nothing was charged");
        // A transfer's receiver gets all that was charged: the sender paid the fee on top.
        let transfer = Payment { kind: epay_domain::PaymentKind::P2p, ..refunded };
        assert_eq!(payout_amount(&transfer), 6_000);
    }
}
