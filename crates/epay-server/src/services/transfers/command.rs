//! A transfer as a surface asks for one. The API reads it from its JSON body (`http::transfers`),
//! the hosted transfer form from its fields (`page`); either way with ePay's lenient rules (any
//! case, aliases, numbers as strings), which stay at the edge. The values are the texts the
//! client wrote: the service turns them into domain types (`InvoiceId`, `Amount`, `Pan`, ...) in
//! the order ePay reports refusals, after the token and the terminal, so a request with several
//! faults is answered with the same first one as always. (The amount and currency are read at
//! the edge; a fault in either is carried to that point.)

use epay_domain::{Amount, Currency, TransferKind};
use epay_store::TokenSpend;

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

/// `order{…}` as written; `None` where the field was absent.
#[derive(Clone)]
pub struct OrderRequest {
    /// `id` (or `invoiceId`).
    pub id: Option<String>,
    /// `accountID`.
    pub account_id: String,
    /// `terminalId` (or `terminal`).
    pub terminal_id: Option<String>,
    /// The amount, or why it could not be read (`amount is required`, `amount: …`): a surface
    /// reads it, the service reports a fault in it where ePay does, after the token and terminal.
    pub amount: Result<Amount, String>,
    /// The currency (KZT when absent), or why it could not be read, reported likewise.
    pub currency: Result<Currency, String>,
    pub description: String,
    /// `senderEmail` (or `email`).
    pub email: String,
    pub post_link: String,
    pub failure_post_link: String,
    pub back_link: String,
    pub failure_back_link: String,
}

/// `card.sender` or `card.receiver` as written.
#[derive(Clone, Default)]
pub struct CardRequest {
    /// `transferType`: `TYPEPAN` (or `TYPECARD`, or empty), `TYPECARDID`, `TYPEPHONE`.
    pub transfer_type: String,
    /// `cardCred`: the card number, or the saved card's id.
    pub card_cred: Option<String>,
    /// `expire{month, year}`.
    pub expire: Option<(String, String)>,
    pub cvc: Option<String>,
    pub name: String,
    pub save: bool,
    /// A payout's receiver by phone: `phone` and `iin`.
    pub phone: Option<String>,
    pub iin: Option<String>,
}
