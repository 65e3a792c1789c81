//! The answers of the payment services: a payment in ePay's shape, its 3-D Secure challenge, or
//! the decline the attempt was recorded with.

use epay_domain::{ReasonCode, TxStatus};
use epay_store::Payment;

use super::error::PaymentError;
use crate::wire::{JsonAmount, PaymentAnswer, PaymentResponse, ThreeDResponse};

/// The answer to a recorded payment: its 3-D Secure challenge, its decline, or the payment.
pub(crate) fn answer(
    p: &Payment,
    three_ds: Option<&epay_store::ThreeDsSession>,
    acs_url: &str,
) -> Result<PaymentAnswer, PaymentError> {
    if let Some(session) = three_ds {
        return Ok(PaymentAnswer::ThreeD(three_d_response(p, session, acs_url)));
    }
    if p.reason_code != 0 {
        let reason = ReasonCode::from_code(p.reason_code).unwrap_or(ReasonCode::ISSUER_DECLINE);
        return Err(PaymentError::Declined { reason, transaction_id: p.id.clone() });
    }
    Ok(PaymentAnswer::Final(payment_response(p)))
}

/// Seed 003's `3D` answer: ids and amount, the challenge, everything else empty.
fn three_d_response(p: &Payment, session: &epay_store::ThreeDsSession, acs_url: &str) -> ThreeDResponse {
    ThreeDResponse {
        id: p.id.clone(),
        account_id: String::new(),
        amount: JsonAmount(p.amount_minor),
        amount_bonus: JsonAmount(0),
        currency: String::new(),
        description: String::new(),
        email: String::new(),
        invoice_id: String::new(),
        language: String::new(),
        phone: String::new(),
        reference: String::new(),
        int_reference: String::new(),
        secure3d: crate::services::three_ds::secure3d(session, acs_url),
        card_id: p.card_id.clone().unwrap_or_default(),
        fee: JsonAmount(0),
        code: 0,
        status: TxStatus::ThreeD.to_string(),
    }
}

pub fn payment_response(p: &Payment) -> PaymentResponse {
    PaymentResponse {
        id: p.id.clone(),
        account_id: p.account_id.clone(),
        amount: JsonAmount(p.amount_minor),
        amount_bonus: JsonAmount(0),
        currency: p.currency.clone(),
        description: p.description.clone(),
        email: p.email.clone(),
        invoice_id: p.invoice_id.clone(),
        invoice_id_alt: p.invoice_id_alt.clone(),
        language: p.language.clone(),
        phone: p.phone.clone(),
        reference: p.reference.clone(),
        int_reference: p.int_reference.clone(),
        secure3d: None,
        card_id: p.card_id.clone().unwrap_or_default(),
        fee: JsonAmount(p.fee_minor),
        code: 0,
        status: p.status.to_string(),
    }
}
