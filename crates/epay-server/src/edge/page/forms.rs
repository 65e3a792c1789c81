//! The hosted page's own forms, as its handlers read them (`wire::lenient`) and as the OpenAPI
//! description shows them. Every field of a form is text: one left out reads as empty (or
//! `None`), and is refused where the handler checks it.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::wire::lenient;

/// The card form's submission (the page's own form).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct PayForm {
    /// The page's `params`, unchanged.
    #[schema(required = true)]
    pub params: String,
    /// `true`: the widget (any other value: the full page).
    #[serde(rename(deserialize = "isShortForm"), deserialize_with = "lenient::or_none")]
    #[schema(rename = "isShortForm")]
    pub is_short_form: Option<bool>,
    /// The card number (with `expiry`, `cvc` and `name`), unless `card_id` names a saved card.
    pub pan: String,
    /// `MM/YY`.
    pub expiry: String,
    pub cvc: String,
    /// Cardholder name.
    pub name: String,
    /// The page's language as the shopper switched it (`ru`, `kk`, `en`); anything else, or
    /// none: the payment's `language`. Words only: it changes nothing about the payment.
    pub lang: Option<String>,
    /// One of the customer's saved cards the form lists, instead of the typed card; empty: the
    /// typed card. Only a token requested with `accountId` may use one, and only that customer's.
    pub card_id: Option<String>,
    /// `true`: "save this card" is ticked. Heeded only where the form offers the box (a token
    /// requested with `accountId`); elsewhere ignored.
    #[serde(deserialize_with = "lenient::or_none")]
    pub save_card: Option<bool>,
}

/// The transfer form's submission (the page's own form).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct TransferForm {
    /// The page's `params`, unchanged.
    #[schema(required = true)]
    pub params: String,
    /// `p2p`, `aft` or `oct` (anything else: `p2p`).
    #[schema(required = true)]
    pub kind: String,
    /// `true`: the widget (any other value: the full page).
    #[serde(rename(deserialize = "isShortForm"), deserialize_with = "lenient::or_none")]
    #[schema(rename = "isShortForm")]
    pub is_short_form: Option<bool>,
    /// A saved sender card, instead of `pan`/`expiry`/`cvc`.
    pub sender_card_id: Option<String>,
    pub pan: Option<String>,
    /// `MM/YY`.
    pub expiry: Option<String>,
    pub cvc: Option<String>,
    pub name: Option<String>,
    /// A saved receiver card, instead of `receiver_pan`.
    pub receiver_card_id: Option<String>,
    pub receiver_pan: Option<String>,
    /// As on the card form: the page's language as the shopper switched it.
    pub lang: Option<String>,
}

/// The result page's "send the receipt" form: the ticket the page was given, nothing else the
/// gateway acts on (the payment, the address and the language come from the gateway's record).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ReceiptForm {
    /// The ticket the result page carries (`services::receipts`): the payment it names, sealed by
    /// the gateway's MAC, and until when it may be used.
    #[schema(required = true)]
    pub receipt: String,
    /// `ru`, `kk` or `en`: the language of an error page only (a refused ticket names no
    /// payment whose language could be used).
    pub language: String,
}

/// A form of the page: its fields are all text, so only a field left out reads as empty.
pub(super) fn read<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> T {
    lenient::from_pairs(url::form_urlencoded::parse(body).into_owned()).unwrap_or_default()
}

/// Text the shopper typed, or empty.
pub(super) fn typed(field: &Option<String>) -> &str {
    field.as_deref().unwrap_or_default().trim()
}
