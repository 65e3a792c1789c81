//! Card payments: by RSA cryptogram (`/payment/cryptopay`, facts §5), by saved card
//! (`/payments/cards/auth`, seed 003) and from the hosted page. A surface builds the command
//! (`command`) and finds the [`Payer`] first; every payment ends in `execute`, which asks the
//! card network and records the outcome in one store transaction. One job per module:
//! - `command`: what a surface asks for, as the client wrote it;
//! - `error`: why a payment is refused or declined (no HTTP status: the surfaces word it);
//! - `payer`: the token that may pay, and its terminal;
//! - `order`: the order read into domain types and checked against the token;
//! - `cryptogram`, `saved_card`, `page`: the three ways to pay;
//! - `execute`: ask the network, record everything in one transaction;
//! - `outcome`: what the network's answer makes of the payment;
//! - `answer`: the payment, its challenge or its decline, in ePay's shape.

mod answer;
mod command;
mod cryptogram;
mod error;
mod execute;
mod order;
mod outcome;
mod page;
mod payer;
mod saved_card;
#[cfg(test)]
mod tests;

pub use answer::payment_response;
pub use command::{
    EnteredCard, Field, PageCard, PagePayment, PayWithCryptogram, PayWithSavedCard, PaymentOrderRequest,
};
pub use cryptogram::{pay_with_cryptogram, CRYPTOGRAM_REFUSED};
pub use error::PaymentError;
pub(crate) use order::Order;
pub(crate) use outcome::{decide_charge, with_conversion};
pub use page::{check_page_order, pay_from_page, OfferedCard, PageOrder, SAVED_CARDS_NEED_ACCOUNT};
pub use payer::{payer, Payer};
pub use saved_card::pay_with_saved_card;
