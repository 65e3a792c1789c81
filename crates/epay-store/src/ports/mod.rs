//! The storage ports: what the services ask of persistent storage, one trait per concern.
//! `crate::Store` is all of them together, the one trait object the application holds.
//! Each method is one database transaction: it begins and commits inside the method, so a
//! caller never holds a transaction open across a network call.

mod cabinet;
mod callbacks;
mod database;
mod invoices;
mod ledger;
mod merchants;
mod outbox;
mod payments;
mod subscriptions;
mod three_ds;
mod tokens;
mod transfers;
mod vault;

pub use cabinet::CabinetPort;
pub use callbacks::CallbackOutbox;
pub use database::DatabasePort;
pub use invoices::InvoicesPort;
pub use ledger::LedgerPort;
pub use merchants::MerchantsPort;
pub use outbox::MessageOutbox;
pub use payments::PaymentsPort;
pub use subscriptions::SubscriptionsPort;
pub use three_ds::{ThreeDsPort, WrongCode};
pub use tokens::TokensPort;
pub use transfers::TransfersPort;
pub use vault::VaultPort;
