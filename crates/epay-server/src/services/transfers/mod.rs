//! Card transfers (facts §12, seeds 000/001): P2P card to card, AFT (a card pays the
//! merchant) and OCT (the merchant pays out to a card, or to a phone + IIN).
//!
//! A surface builds a [`Transfer`] command and calls [`transfer`] with its `Caller`; the
//! service answers a [`TransferResponse`] or a [`TransferError`] the surface words. One job per
//! module:
//! - `command`: what a surface asks for;
//! - `error`: why a transfer is refused or declined (no HTTP status: the surfaces map it);
//! - `order`: the token's kind and the order, checked against the token and the terminal;
//! - `sides`: the cards, typed in, saved or found by phone, and the cards a transfer saves;
//! - `money`: the fee, the movement and the limits the store checks in its transaction;
//! - `make`: the use case: ask the network, record everything in one transaction;
//! - `answer`: the response object and the callback;
//! - `form`: what the hosted transfer form shows before the customer confirms;
//! - `after_challenge`: ending a transfer that waited for 3-D Secure.

mod after_challenge;
mod answer;
mod command;
mod error;
mod form;
mod make;
mod money;
mod order;
mod sides;

pub use after_challenge::finish_three_ds;
pub use answer::{callback, is_transfer, response, TransferResponse};
pub use command::{CardRequest, Expire, OrderRequest, Transfer};
pub use error::{Refusal, TransferError};
pub use form::{check_page_transfer, kind_for_pay_call, PageTransfer, PreselectRequest, Preselected};
pub use make::transfer;
pub use money::fee;
pub use order::{allowed_kind, caller_token, check_order, check_token, kind_named, Order};
pub use sides::{card_given, pan_side, CardGiven, Side};
