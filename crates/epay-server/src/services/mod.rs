//! Use cases. Each public function is one request's worth of work against the ports.

pub mod admin;
pub mod attempts;
pub mod auth;
pub mod cabinet_users;
pub mod callback_log;
pub mod callbacks;
pub mod capability;
pub mod cards;
pub mod expiry;
pub mod guard;
pub mod idempotency;
pub mod invoices;
pub mod links;
pub mod operations;
pub mod outbox;
pub mod password_grant;
pub mod payments;
pub mod receipts;
pub mod recurrent;
pub mod status;
pub mod subscriptions;
pub mod three_ds;
pub mod three_ds_confirm;
pub mod tokens;
pub mod transfers;
pub mod vault;
