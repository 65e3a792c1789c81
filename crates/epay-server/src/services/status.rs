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
