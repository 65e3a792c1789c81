//! A transfer as a surface asks for one. The API reads its JSON body into [`OrderRequest`] and
//! [`CardRequest`] with ePay's lenient rules (`wire::lenient`: any case, aliases, numbers as
//! strings); the hosted transfer form builds them from its fields (`page`). The values are the
//! texts the client wrote: the service turns them into domain types (`InvoiceId`, `Amount`,
//! `Pan`, ...) in the order ePay reports refusals, after the token and the terminal, so a request
//! with several faults is answered with the same first one as always. (The amount and currency are
//! read with the body; a fault in either is carried to that point in a [`Checked`].)
//!
//! The same types describe the bodies in the OpenAPI description.

use epay_domain::{Amount, Currency, TransferKind};
use epay_store::TokenSpend;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::wire::lenient::{self, Checked};
use crate::wire::JsonAmount;

/// One transfer request.
#[derive(Clone)]
pub struct Transfer {
    pub kind: TransferKind,
    pub order: OrderRequest,
    /// `card.sender`; absent for a payout, which the merchant pays.
    pub sender: Option<CardRequest>,
    /// `card.receiver`; absent for an AFT, which pays the merchant.
    pub receiver: Option<CardRequest>,
    /// The API spends the token whatever the outcome; the transfer form keeps it after a
    /// decline, so the shopper can try again (docs/compatibility.md §48).
    pub token_spend: TokenSpend,
    /// Where the shopper's browser meets the ACS when the sender card is challenged.
    pub acs_url: String,
}

/// The order of a transfer (seed 001).
//
// As written; `None` where a field was absent. The fields are declared in the order ePay reports
// their faults (`wire::lenient` reads them in that order): the customer's first, since a wrongly
// typed `accountID` is refused before any other fault of the order.
#[derive(Clone, Deserialize, ToSchema)]
#[schema(as = TransferOrder)]
pub struct OrderRequest {
    /// The customer (also `accountId`): required to `save` a card; limits `TYPECARDID` to that
    /// customer's cards.
    #[serde(rename(deserialize = "accountID|accountId"), default)]
    #[schema(rename = "accountID", value_type = Option<String>)]
    pub account_id: String,
    /// The order id (also `invoiceId`): 6–16 digits; one transfer per order id per terminal.
    // Wrongly typed, it reads as none: the answer is `order.id is required`.
    #[serde(rename(deserialize = "id|invoiceId"), default, deserialize_with = "lenient::or_none")]
    #[schema(rename = "id", value_type = String, example = "8161284658529816")]
    pub id: Option<String>,
    /// The terminal for a token issued without one (also `terminal`); with a token that names
    /// one, the token's is used and another one here is ignored and logged (seed 001).
    #[serde(rename(deserialize = "terminalId|terminal"), default)]
    #[schema(rename = "terminalId")]
    pub terminal_id: Option<String>,
    /// Greater than 0.
    // A fault in it (`amount is required`, `amount: …`) is reported where ePay reports it, after
    // the token and terminal.
    #[schema(value_type = JsonAmount)]
    pub amount: Checked<Amount>,
    /// Default `KZT`.
    #[schema(value_type = Option<String>, example = "KZT")]
    pub currency: Option<Checked<Currency>>,
    /// At most 125 bytes.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: String,
    /// Echoed as `email` (also `email`).
    #[serde(rename(deserialize = "senderEmail|email"), default)]
    #[schema(rename = "senderEmail", value_type = Option<String>)]
    pub email: String,
    /// Default: the token's.
    #[serde(rename(deserialize = "postLink"), default)]
    #[schema(rename = "postLink", value_type = Option<String>)]
    pub post_link: String,
    /// Default: the token's.
    #[serde(rename(deserialize = "failurePostLink"), default)]
    #[schema(rename = "failurePostLink", value_type = Option<String>)]
    pub failure_post_link: String,
    #[serde(rename(deserialize = "backLink"), default)]
    #[schema(rename = "backLink", value_type = Option<String>)]
    pub back_link: String,
    #[serde(rename(deserialize = "failureBackLink"), default)]
    #[schema(rename = "failureBackLink", value_type = Option<String>)]
    pub failure_back_link: String,
}

impl OrderRequest {
    /// The amount, or the service's refusal of it (`order.amount is required`, `order.amount: …`).
    pub fn amount(&self) -> Result<Amount, String> {
        self.amount.clone().into_result().map_err(|e| format!("order.{}", e.0.trim_start_matches("field ")))
    }

    /// The currency (KZT when absent), or the refusal of it.
    pub fn currency(&self) -> Result<Currency, String> {
        lenient::given(self.currency.clone()).map(|c| c.unwrap_or(Currency::Kzt)).map_err(|e| e.0)
    }
}

/// One side (sender or receiver) of a transfer.
//
// As written. The fields are declared in the order ePay reports their faults: `expire` first.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[schema(as = TransferSide)]
pub struct CardRequest {
    /// Required for a `TYPEPAN` sender; not used for a receiver.
    pub expire: Option<Expire>,
    /// `TYPEPAN` (the default; `TYPECARD` is accepted too): a card number in `cardCred`.
    /// `TYPECARDID`: a saved card id in `cardCred`. `TYPEPHONE` (OCT receivers only): the card
    /// registered to `phone` and `iin`.
    #[serde(rename(deserialize = "transferType"), default)]
    #[schema(rename = "transferType", value_type = Option<super::CardGiven>)]
    pub transfer_type: String,
    /// The card number with `TYPEPAN`, the saved card id with `TYPECARDID`.
    // Wrongly typed, it reads as none (as do `phone` and `iin`): the answer is `… is required`.
    #[serde(rename(deserialize = "cardCred"), default, deserialize_with = "lenient::or_none")]
    #[schema(rename = "cardCred")]
    pub card_cred: Option<String>,
    /// `TYPEPHONE`: 11 digits.
    #[serde(default, deserialize_with = "lenient::or_none")]
    pub phone: Option<String>,
    /// `TYPEPHONE`: 12 digits.
    #[serde(default, deserialize_with = "lenient::or_none")]
    pub iin: Option<String>,
    /// Required for a `TYPEPAN` sender.
    pub cvc: Option<String>,
    /// Cardholder name.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: String,
    /// Save this (`TYPEPAN`) card for `order.accountID` after a successful transfer.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub save: bool,
}

/// A card's expiry date in a transfer.
#[derive(Clone, Default, Deserialize, ToSchema)]
pub struct Expire {
    #[serde(default)]
    #[schema(example = "01")]
    pub month: String,
    #[serde(default)]
    #[schema(example = "27")]
    pub year: String,
}
