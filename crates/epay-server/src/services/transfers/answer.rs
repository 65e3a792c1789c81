//! What a transfer answers: seed 001's response object, and the callback of facts §11.3.

use epay_domain::{CallbackKind, TxStatus};
use epay_store::{NewCallback, Payment, ThreeDsSession};
use serde::Serialize;

use super::error::{Refusal, TransferError};
use super::sides::CardGiven;
use crate::services::{callbacks, three_ds};
use crate::wire::{JsonAmount, Secure3D};

/// The answer of a successful transfer: seed 001's response, field for field.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransferResponse {
    pub id: String,
    pub amount: JsonAmount,
    pub fee: JsonAmount,
    #[serde(rename = "accountID")]
    pub account_id: String,
    pub currency: String,
    pub email: String,
    pub description: String,
    pub reference: String,
    #[serde(rename = "orderID")]
    pub order_id: String,
    #[serde(rename = "senderCardID")]
    pub sender_card_id: String,
    #[serde(rename = "senderCardPAN")]
    pub sender_card_pan: String,
    #[serde(rename = "senderCardType")]
    pub sender_card_type: String,
    #[serde(rename = "senderTransferType")]
    pub sender_transfer_type: String,
    #[serde(rename = "receiverCardID")]
    pub receiver_card_id: String,
    #[serde(rename = "receiverCardPAN")]
    pub receiver_card_pan: String,
    #[serde(rename = "receiverCardType")]
    pub receiver_card_type: String,
    #[serde(rename = "receiverTransferType")]
    pub receiver_transfer_type: String,
    #[serde(rename = "intReference")]
    pub int_reference: String,
    #[serde(rename = "terminalID")]
    pub terminal_id: String,
    #[schema(value_type = String)]
    pub status: TxStatus,
    /// Only while the transfer waits for the sender's 3-D Secure challenge (status `3D`).
    #[serde(rename = "secure3D", skip_serializing_if = "Option::is_none")]
    pub secure3d: Option<Secure3D>,
}

/// The callback of a successful transfer: the transfer object of facts §11.3 and `code: 0`.
#[derive(Serialize)]
struct TransferNotice {
    #[serde(flatten)]
    transfer: TransferResponse,
    /// ePay's success code of a transfer.
    code: u8,
}

/// The callback of a transfer: [`TransferNotice`] to `postLink` on success; a failed transfer
/// sends the payment failure shape.
pub fn callback(p: &Payment) -> Option<NewCallback> {
    if p.status != TxStatus::Charge {
        return callbacks::for_payment(p);
    }
    callbacks::event(p, CallbackKind::TransferSuccess, &p.post_link, &TransferNotice { transfer: response(p), code: 0 })
}

pub fn response(p: &Payment) -> TransferResponse {
    TransferResponse {
        id: p.id.clone(),
        amount: JsonAmount(p.amount_minor),
        fee: JsonAmount(p.fee_minor),
        account_id: p.account_id.clone(),
        currency: p.currency.clone(),
        email: p.email.clone(),
        description: p.description.clone(),
        reference: p.reference.clone(),
        order_id: p.invoice_id.clone(),
        sender_card_id: p.card_id.clone().unwrap_or_default(),
        sender_card_pan: p.card_mask.clone(),
        sender_card_type: p.card_brand.clone(),
        sender_transfer_type: p.sender_transfer_type.clone(),
        receiver_card_id: p.receiver_card_id.clone().unwrap_or_default(),
        receiver_card_pan: receiver_shown(p, &p.receiver_card_mask),
        receiver_card_type: receiver_shown(p, &p.receiver_card_brand),
        receiver_transfer_type: p.receiver_transfer_type.clone(),
        int_reference: p.int_reference.clone(),
        terminal_id: p.terminal_id.clone(),
        status: p.status,
        secure3d: None,
    }
}

/// A receiver found by phone is shown only once it has been paid: before that, its mask would
/// tell the holder of a token who has which card.
fn receiver_shown(p: &Payment, value: &str) -> String {
    if p.receiver_transfer_type == CardGiven::Phone.as_str() && p.status != TxStatus::Charge {
        String::new()
    } else {
        value.to_string()
    }
}

/// The answer to a recorded transfer: its decline, or the transfer (with its 3-D Secure
/// challenge when it waits for one).
pub(super) fn answer(
    p: &Payment,
    three_ds: Option<&ThreeDsSession>,
    acs_url: &str,
) -> Result<TransferResponse, TransferError> {
    if p.reason_code != 0 {
        return Err(
            Refusal::Declined { code: p.reason_code, message: p.reason.clone(), transaction_id: p.id.clone() }.into()
        );
    }
    let mut answer = response(p);
    if let Some(session) = three_ds {
        answer.secure3d = Some(three_ds::secure3d(session, acs_url));
    }
    Ok(answer)
}

/// Whether a recorded transaction is a transfer rather than a card payment.
pub fn is_transfer(p: &Payment) -> bool {
    p.kind.is_transfer()
}
