//! Request bodies for the OpenAPI description only: the parts of the payment bodies beside their
//! order, the 3-D Secure confirm's and the hosted pages' own forms. These types describe what the
//! handlers read, with ePay's field names; they are never constructed. `tests/openapi.rs` sends
//! requests built from these examples to the real endpoints.
//!
//! The token, operation, transfer and sandbox bodies, and the payments' order
//! (`PaymentOrder`), are the types the handlers read (`edge::http::{oauth, operations,
//! transfers, sandbox}`, `services::transfers`, `services::payments::PaymentOrderRequest`).
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

use crate::services::payments::PaymentOrderRequest;

/// `POST /payment/cryptopay`: the order plus the encrypted card (facts §5).
#[derive(ToSchema)]
pub struct CryptopayRequest {
    #[serde(flatten)]
    order: PaymentOrderRequest,
    /// Base64 (standard with or without padding, or URL-safe) of the `Cryptogram` JSON
    /// encrypted with RSA PKCS#1 v1.5 to the key from `GET /public.rsa`. Also accepted as
    /// `сryptogram` with a Cyrillic `с` (U+0441), as Halyk's iOS SDK sends it.
    cryptogram: String,
}

/// What the cryptogram encrypts: compact JSON, encrypted with RSA PKCS#1 v1.5 to the key from
/// `GET /public.rsa`, then base64.
#[derive(Serialize, ToSchema)]
pub struct Cryptogram {
    /// The card number: 12–19 digits passing Luhn (spaces ignored).
    #[schema(example = "4405639704015096")]
    hpan: String,
    /// `MMYY` (also `MM/YY`, `MM/YYYY`).
    #[serde(rename = "expDate")]
    #[schema(example = "0127")]
    exp_date: String,
    /// 3–4 digits.
    #[schema(example = "321")]
    cvc: String,
    /// If present, must equal the token's terminal.
    #[serde(rename = "terminalId")]
    #[schema(example = "67e34d63-102f-4bd1-898e-370781d0074d")]
    terminal_id: Option<String>,
}

/// The saved card to pay with: seed 003's object, or the id alone as some integrations send it.
/// Either is the `cardID` of a payment, verification or transfer that saved the card.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum CardIdRef {
    /// `{"id": "<cardID>"}`, as seed 003 writes it.
    Object { id: String },
    /// `"<cardID>"`.
    Id(String),
}

/// `POST /payments/cards/auth` (seed 003): the order plus a saved card. A JSON body with both an
/// `order` and a `card` object is a P2P transfer instead (`TransferRequest`).
#[derive(ToSchema)]
pub struct SavedCardPaymentRequest {
    #[serde(flatten)]
    order: PaymentOrderRequest,
    /// `"cardId"`; any other non-empty value is refused.
    #[serde(rename = "paymentType")]
    #[schema(example = "cardId")]
    payment_type: Option<String>,
    /// The saved card (also `cardID`), as `{"id": "<cardID>"}` or `"<cardID>"`. It must belong to
    /// the token's merchant, be active, and belong to `accountId` (required; the token's when it
    /// names one).
    #[serde(rename = "cardId")]
    card_id: CardIdRef,
    /// Accepted and ignored.
    recurrent: Option<bool>,
}

/// `POST /payments/cards/auth`: a saved-card payment, or (a JSON object with both `order` and
/// `card`) a P2P transfer, as seed 001 sends it.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum SavedCardRequest {
    Payment(Box<SavedCardPaymentRequest>),
    /// The transfer's own body type.
    Transfer(Box<crate::edge::http::transfers::TransferRequest>),
}

/// What `halyk.pay(paymentObject)` takes and the payment page receives in `params`: the fields
/// of `PaymentOrder` (its `cardSave`, for transfers, saves the sender's card) plus `auth`, the
/// whole token answer (or just the token string).
#[derive(ToSchema)]
pub struct PaymentObject {
    #[serde(flatten)]
    order: PaymentOrderRequest,
    /// The token answer of `POST /oauth2/token`, or just its `access_token`.
    #[schema(value_type = Value)]
    auth: serde_json::Value,
    /// Transfer form (seed 000): the saved card to pre-select as the sender. Only a payable card
    /// of the token's `accountId` is pre-selected; any other id is ignored.
    #[serde(rename = "senderCardId")]
    sender_card_id: Option<String>,
    /// Transfer form (seed 000): the saved card to pre-select as the receiver, of the token's
    /// `accountId`; any other id is ignored.
    #[serde(rename = "receiverCardId")]
    receiver_card_id: Option<String>,
}
