//! A card payment as a surface asks for one. The API reads it from its JSON body
//! (`edge::http::payments`), the hosted page from its `params` and card form (`edge::page`);
//! either way with ePay's lenient rules (any case, aliases, numbers as strings), which stay at
//! the edge. The values are what the client wrote: the service turns them into domain types
//! (`InvoiceId`, `Description`, ...) and checks them against the token in the order ePay reports
//! refusals, so a request with several faults is answered with the same first one as always. A
//! field the edge could not read (a wrong JSON type, an amount that is no number) is carried as
//! its fault, [`Field`], and reported when the checks reach that field.

use std::net::IpAddr;

use epay_domain::{Amount, Currency, Cvc, Expiry, Pan};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::error::PaymentError;
use crate::platform::cryptogram::Cryptogram;
use crate::wire::lenient::{self, Checked};
use crate::wire::JsonAmount;

/// A field as read at the edge: absent, its value, or why it could not be read (`field email
/// must be a string`).
pub type Field<T> = Option<Checked<T>>;

// Read with the lenient rules (`wire::lenient`); every field keeps its own fault, so the
// service reports the first one in ePay's order. The doc comment below is the API's description.
/// The order fields shared by both payment requests and the payment page's `paymentObject`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = PaymentOrder)]
pub struct PaymentOrderRequest {
    /// Must equal the token's invoice (also `invoiceID`). 6–15 digits (a JSON number is accepted).
    #[serde(rename(deserialize = "invoiceId|invoiceID"), default)]
    #[schema(rename = "invoiceId", value_type = String, example = "000000001", required = true)]
    pub invoice_id: Field<String>,
    /// 6–15 digits if given.
    #[serde(rename(deserialize = "invoiceIdAlt"), default)]
    #[schema(rename = "invoiceIdAlt", value_type = Option<String>)]
    pub invoice_id_alt: Field<String>,
    /// Must equal the token's amount exactly.
    #[serde(default)]
    #[schema(value_type = JsonAmount, required = true)]
    pub amount: Field<Amount>,
    /// Default: the token's; must equal it.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "KZT")]
    pub currency: Field<Currency>,
    /// At most 125 bytes of UTF-8.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "test")]
    pub description: Field<String>,
    /// The merchant's customer id (also `accountID`); required with `cardSave`.
    #[serde(rename(deserialize = "accountId|accountID"), default)]
    #[schema(rename = "accountId", value_type = Option<String>, example = "testUser1")]
    pub account_id: Field<String>,
    /// Overrides the token's success callback URL.
    #[serde(rename(deserialize = "postLink"), default)]
    #[schema(rename = "postLink", value_type = Option<String>)]
    pub post_link: Field<String>,
    /// Overrides the token's failure callback URL.
    #[serde(rename(deserialize = "failurePostLink"), default)]
    #[schema(rename = "failurePostLink", value_type = Option<String>)]
    pub failure_post_link: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Field<String>,
    /// Cardholder name.
    #[serde(rename(deserialize = "name"), default)]
    #[schema(rename = "name", value_type = Option<String>, example = "TEST TEST")]
    pub payer_name: Field<String>,
    /// `rus`/`kaz`/`eng` (also `ru`, `kz`, `kk`, `en`) → `RU`/`KZ`/`EN`; anything else → `RU`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "rus")]
    pub language: Field<String>,
    /// Where the payment page sends the shopper after a success (http(s)).
    #[serde(rename(deserialize = "backLink"), default)]
    #[schema(rename = "backLink", value_type = Option<String>)]
    pub back_link: Field<String>,
    /// Where the payment page sends the shopper after a failure (http(s)).
    #[serde(rename(deserialize = "failureBackLink"), default)]
    #[schema(rename = "failureBackLink", value_type = Option<String>)]
    pub failure_back_link: Field<String>,
    /// Save the card for `accountId` after an approved payment (Boolean, or `"true"`/`"false"`/`""`;
    /// also `cardsave`). With amount 0 and `accountId`: a card verification (`status` `VERIFIED`).
    #[serde(rename(deserialize = "cardSave|cardsave"), default)]
    #[schema(rename = "cardSave", value_type = Option<bool>)]
    pub card_save: Field<bool>,
    /// Informative (also `terminal`): the payment is made on the token's terminal; another one
    /// here is ignored and logged (seeds 000 and 002 name another).
    #[serde(rename(deserialize = "terminalId|terminal"), default)]
    #[schema(rename = "terminalId", value_type = Option<String>)]
    pub terminal_id: Field<String>,
    /// Boolean (also `"true"`/`"false"`). With `cardSave`: the cardholder agrees to
    /// merchant-initiated repeats with the saved card (recorded in the card's history). On a
    /// saved-card payment: a merchant-initiated repeat, refused unless the card has that
    /// agreement; it is not challenged by 3-D Secure (no cardholder is present).
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub recurrent: Field<bool>,
    /// A JSON string, or any JSON value (kept as its JSON text).
    #[serde(default, deserialize_with = "json_text")]
    #[schema(value_type = Option<Value>)]
    pub data: String,
}

/// A field's value (`None` when absent), or the fault the edge found in it.
pub(crate) fn read<T: Clone>(field: &Field<T>) -> Result<Option<T>, PaymentError> {
    lenient::given(field.clone()).map_err(|e| PaymentError::BadRequest(e.0))
}

/// A text field's value, empty when absent.
pub(crate) fn text(field: &Field<String>) -> Result<String, PaymentError> {
    Ok(read(field)?.unwrap_or_default())
}

/// `data` as the payment keeps it: ePay documents a JSON string; another value is kept as its
/// JSON text. Never refused.
fn json_text<'de, D: Deserializer<'de>>(field: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(field) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(value) => value.to_string(),
        Err(_) => String::new(),
    })
}

/// `POST /payment/cryptopay`: the order and the card encrypted to `/public.rsa` (facts §5).
#[derive(Debug, Clone)]
pub struct PayWithCryptogram {
    pub order: PaymentOrderRequest,
    /// `cryptogram` (or, as Halyk's iOS SDK spells it, with a Cyrillic "с"), decoded from its
    /// base64; `None` when absent or blank.
    pub cryptogram: Field<Cryptogram>,
    /// Where the payer's browser meets the ACS when the card is challenged.
    pub acs_url: String,
    /// The peer address, for the abuse limits on cryptograms.
    pub from: Option<IpAddr>,
}

/// `POST /payments/cards/auth` (seed 003): the order and a saved card.
#[derive(Debug, Clone)]
pub struct PayWithSavedCard {
    pub order: PaymentOrderRequest,
    /// `paymentType`: empty or `cardId`.
    pub payment_type: Field<String>,
    /// `cardId` (or `cardID`): `"<id>"` or `{"id": "<id>"}`; `None` when absent.
    pub card_id: Field<String>,
    pub acs_url: String,
}

/// A payment from the hosted page: its `paymentObject` and the card the shopper chose.
#[derive(Debug)]
pub struct PagePayment {
    pub order: PaymentOrderRequest,
    pub card: PageCard,
    pub acs_url: String,
}

/// The card the shopper chose on the card form.
#[derive(Debug)]
pub enum PageCard {
    /// Typed on the form. `save`: the form's "save this card" box was ticked (heeded only when
    /// the token names the customer: `page::saves_typed_card`).
    Entered { card: EnteredCard, save: bool },
    /// One of the customer's saved cards the form listed, by its id (as posted: the service
    /// checks whose it is).
    Saved { card_id: String },
}

/// Card data as the payer entered it (typed on the page, or decrypted from a cryptogram). Its
/// `Debug` shows the masked number only (`Pan` and `Cvc` never print in clear).
#[derive(Debug)]
pub struct EnteredCard {
    pub pan: Pan,
    pub expiry: Expiry,
    pub cvc: Cvc,
}
