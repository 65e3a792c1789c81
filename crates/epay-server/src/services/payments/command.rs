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

use crate::platform::cryptogram::Cryptogram;

/// A field as read at the edge, or why it could not be read (`field email must be a string`).
pub type Field<T> = Result<T, String>;

/// The order part of every payment request (`paymentObject` on the page). Text fields are empty
/// when absent.
#[derive(Debug, Clone)]
pub struct PaymentOrderRequest {
    /// `invoiceId` (or `invoiceID`); `None` when absent.
    pub invoice_id: Field<Option<String>>,
    pub invoice_id_alt: Field<String>,
    /// The amount in major units, `None` when absent.
    pub amount: Field<Option<Amount>>,
    /// `None` when absent: the token's currency.
    pub currency: Field<Option<Currency>>,
    pub description: Field<String>,
    /// `accountId` (or `accountID`).
    pub account_id: Field<String>,
    pub post_link: Field<String>,
    pub failure_post_link: Field<String>,
    pub email: Field<String>,
    pub phone: Field<String>,
    /// `name`: the cardholder.
    pub payer_name: Field<String>,
    /// As written (`rus`, `KZ`, ...): the service reads it into ePay's `RU`/`KZ`/`EN`.
    pub language: Field<String>,
    pub back_link: Field<String>,
    pub failure_back_link: Field<String>,
    /// `cardSave` (or `cardsave`); false when absent.
    pub card_save: Field<bool>,
    /// `terminalId` (or `terminal`): informative, the token's terminal governs.
    pub terminal_id: Field<Option<String>>,
    /// `data`: ePay documents a JSON string; the edge keeps an object as its JSON text.
    pub data: String,
}

/// `POST /payment/cryptopay`: the order and the card encrypted to `/public.rsa` (facts §5).
#[derive(Debug, Clone)]
pub struct PayWithCryptogram {
    pub order: PaymentOrderRequest,
    /// `cryptogram` (or, as Halyk's iOS SDK spells it, with a Cyrillic "с"), decoded from its
    /// base64; `None` when absent or blank.
    pub cryptogram: Field<Option<Cryptogram>>,
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
    pub card_id: Field<Option<String>>,
    pub acs_url: String,
}

/// A payment from the hosted page: its `paymentObject` and the card the shopper typed.
#[derive(Debug)]
pub struct PagePayment {
    pub order: PaymentOrderRequest,
    pub card: EnteredCard,
    pub acs_url: String,
}

/// Card data as the payer entered it (typed on the page, or decrypted from a cryptogram). Its
/// `Debug` shows the masked number only (`Pan` and `Cvc` never print in clear).
#[derive(Debug)]
pub struct EnteredCard {
    pub pan: Pan,
    pub expiry: Expiry,
    pub cvc: Cvc,
}
