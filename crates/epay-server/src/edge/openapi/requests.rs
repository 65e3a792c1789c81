//! Request bodies, for the OpenAPI description only.
//!
//! The handlers read requests by hand through `Fields` (field names are
//! case-insensitive, a string field may come as a number, several spellings are accepted), so
//! there is no request type to derive a schema from. These types describe what the handlers read,
//! with ePay's field names; they are never constructed. `tests/openapi.rs` sends requests built
//! from these examples to the real endpoints.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

use crate::services::payments::PaymentOrderRequest;
use crate::wire::JsonAmount;

/// `POST /oauth2/token` (facts §2): `multipart/form-data`, `application/x-www-form-urlencoded`
/// or a JSON object; a body without a `Content-Type` is read as urlencoded. At most 64 KiB.
///
/// A token **with** `invoiceID` is a payment (or transfer) token bound to that invoice, amount,
/// currency and terminal, spent by one payment. A token **without** it is a service token (or,
/// with scope `transfer`, a transfer token for any order).
#[derive(Serialize, ToSchema)]
pub struct TokenRequest {
    /// Only `client_credentials`.
    #[schema(example = "client_credentials")]
    grant_type: String,
    /// Space-separated words from `payment`, `transfer`, `webapi`, `usermanagement`,
    /// `email_send`, `verification`, `statement`, `statistics`, `api`.
    #[schema(example = "payment")]
    scope: String,
    #[schema(example = "test")]
    client_id: String,
    #[schema(example = "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG")]
    client_secret: String,
    /// The terminal (also `terminalId`, `terminal_id`); required with `invoiceID`.
    #[schema(example = "67e34d63-102f-4bd1-898e-370781d0074d")]
    terminal: Option<String>,
    /// 6–15 digits (16 if the scope has `transfer`); also `invoiceId`, `invoice_id`.
    #[serde(rename = "invoiceID")]
    #[schema(example = "000000001")]
    invoice_id: Option<String>,
    /// Required with `invoiceID`; `0` for a card verification.
    amount: Option<JsonAmount>,
    /// Default `KZT` with `invoiceID`; `KZT`, `USD`, `EUR` or `RUB`.
    #[schema(example = "KZT")]
    currency: Option<String>,
    /// http(s) URL for the success callback, used when the payment request has none.
    #[serde(rename = "postLink")]
    post_link: Option<String>,
    /// http(s) URL for the failure callback.
    #[serde(rename = "failurePostLink")]
    failure_post_link: Option<String>,
    /// Echoed in callbacks.
    secret_hash: Option<String>,
}

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
    Payment(SavedCardPaymentRequest),
    Transfer(TransferRequest),
}

/// The 3-D Secure confirm (facts §7): a JSON object (`Content-Type: …json`), else a form, else
/// the query string.
#[derive(Serialize, ToSchema)]
pub struct ConfirmRequest {
    /// What the ACS posted to the merchant's TermUrl.
    #[serde(rename = "PaRes")]
    pa_res: String,
    /// The `md` of the `3D` answer (the ACS posts it back too).
    #[serde(rename = "MD")]
    md: String,
}

/// Arguments of charge and refund (also as query parameters; when both are given they must
/// agree). Cancel takes none.
#[derive(Serialize, ToSchema)]
pub struct OperationRequest {
    /// Greater than 0; default: the whole amount (charge) or all that is left (refund).
    amount: Option<JsonAmount>,
    /// Refund only, at most 100 characters (also `externalId`): a refund with an `externalID`
    /// already used on this payment is replayed.
    #[serde(rename = "externalID")]
    external_id: Option<String>,
}

/// The order of a transfer (seed 001).
#[derive(Serialize, ToSchema)]
pub struct TransferOrder {
    /// The order id (also `invoiceId`): 6–16 digits; one transfer per order id per terminal.
    #[schema(example = "8161284658529816")]
    id: String,
    /// Greater than 0.
    amount: JsonAmount,
    /// Default `KZT`.
    #[schema(example = "KZT")]
    currency: Option<String>,
    /// At most 125 bytes.
    description: Option<String>,
    /// The customer (also `accountId`): required to `save` a card; limits `TYPECARDID` to that
    /// customer's cards.
    #[serde(rename = "accountID")]
    account_id: Option<String>,
    /// Echoed as `email` (also `email`).
    #[serde(rename = "senderEmail")]
    sender_email: Option<String>,
    /// The terminal for a token issued without one (also `terminal`); with a token that names
    /// one, the token's is used and another one here is ignored and logged (seed 001).
    #[serde(rename = "terminalId")]
    terminal_id: Option<String>,
    #[serde(rename = "backLink")]
    back_link: Option<String>,
    #[serde(rename = "failureBackLink")]
    failure_back_link: Option<String>,
    /// Default: the token's.
    #[serde(rename = "postLink")]
    post_link: Option<String>,
    /// Default: the token's.
    #[serde(rename = "failurePostLink")]
    failure_post_link: Option<String>,
}

/// A card's expiry date in a transfer.
#[derive(Serialize, ToSchema)]
pub struct Expire {
    #[schema(example = "01")]
    month: String,
    #[schema(example = "27")]
    year: String,
}

/// The kind of card reference in a transfer side.
#[derive(Serialize, ToSchema)]
pub enum TransferType {
    /// A card number in `cardCred` (the default; `TYPECARD` is accepted too).
    #[serde(rename = "TYPEPAN")]
    Pan,
    /// A saved card id in `cardCred`.
    #[serde(rename = "TYPECARDID")]
    CardId,
    /// OCT receivers only: the card registered to `phone` and `iin`.
    #[serde(rename = "TYPEPHONE")]
    Phone,
}

/// One side (sender or receiver) of a transfer.
#[derive(Serialize, ToSchema)]
pub struct TransferSide {
    /// Default `TYPEPAN`.
    #[serde(rename = "transferType")]
    transfer_type: Option<TransferType>,
    /// The card number with `TYPEPAN`, the saved card id with `TYPECARDID`.
    #[serde(rename = "cardCred")]
    card_cred: Option<String>,
    /// Required for a `TYPEPAN` sender; not used for a receiver.
    expire: Option<Expire>,
    /// Required for a `TYPEPAN` sender.
    cvc: Option<String>,
    /// Cardholder name.
    name: Option<String>,
    /// Save this (`TYPEPAN`) card for `order.accountID` after a successful transfer.
    save: Option<bool>,
    /// `TYPEPHONE`: 11 digits.
    phone: Option<String>,
    /// `TYPEPHONE`: 12 digits.
    iin: Option<String>,
}

/// The cards of a transfer: P2P needs both sides, AFT the sender, OCT the receiver (the other
/// side is ignored). Sender and receiver must be different cards.
#[derive(Serialize, ToSchema)]
pub struct TransferCards {
    sender: Option<TransferSide>,
    receiver: Option<TransferSide>,
}

/// `POST /p2p/transfer`, `/chdebit/transfer`, `/chpayment/transfer` (seed 001).
#[derive(Serialize, ToSchema)]
pub struct TransferRequest {
    order: TransferOrder,
    card: TransferCards,
}

/// The merchant page's auto-submitted form to the ACS (seed 003).
#[derive(Serialize, ToSchema)]
pub struct AcsChallengeForm {
    /// `secure3D.paReq` of the `3D` answer.
    #[serde(rename = "PaReq")]
    pa_req: String,
    /// `secure3D.md` of the `3D` answer.
    #[serde(rename = "MD")]
    md: String,
    /// The merchant's URL that receives `PaRes` and `MD` (any http(s) URL in sandbox mode,
    /// public addresses only in production).
    #[serde(rename = "TermUrl")]
    term_url: String,
}

/// The ACS page's own form (the shopper's answer).
#[derive(Serialize, ToSchema)]
pub struct AcsAnswerForm {
    acs_id: String,
    #[serde(rename = "MD")]
    md: String,
    #[serde(rename = "TermUrl")]
    term_url: String,
    /// The one-time code; `123456` passes in sandbox mode (production: the challenge's own
    /// code), anything else fails with 473.
    #[schema(example = "123456")]
    code: String,
    /// `submit`, or `cancel` (fails with 499).
    #[schema(example = "submit")]
    action: String,
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

/// The card form's submission (the page's own form).
#[derive(Serialize, ToSchema)]
pub struct PayForm {
    /// The page's `params`, unchanged.
    params: String,
    #[serde(rename = "isShortForm")]
    is_short_form: Option<bool>,
    pan: String,
    /// `MM/YY`.
    expiry: String,
    cvc: String,
    /// Cardholder name.
    name: String,
}

/// The transfer form's submission (the page's own form).
#[derive(Serialize, ToSchema)]
pub struct TransferForm {
    /// The page's `params`, unchanged.
    params: String,
    /// `p2p`, `aft` or `oct`.
    kind: String,
    #[serde(rename = "isShortForm")]
    is_short_form: Option<bool>,
    /// A saved sender card, instead of `pan`/`expiry`/`cvc`.
    sender_card_id: Option<String>,
    pan: Option<String>,
    expiry: Option<String>,
    cvc: Option<String>,
    name: Option<String>,
    /// A saved receiver card, instead of `receiver_pan`.
    receiver_card_id: Option<String>,
    receiver_pan: Option<String>,
}

/// `POST /sandbox/clock/advance` as JSON (or `?seconds=N`), with a service token.
#[derive(Serialize, ToSchema)]
pub struct ClockAdvance {
    /// 1 to 34 560 000 (400 days).
    #[schema(example = 691200)]
    seconds: i64,
}
