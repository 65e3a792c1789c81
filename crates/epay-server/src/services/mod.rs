//! Use cases. Each public function is one request's worth of work against the ports.

pub mod admin;
pub mod attempts;
pub mod auth;
pub mod callback_log;
pub mod callbacks;
pub mod capability;
pub mod cards;
pub mod idempotency;
pub mod operations;
pub mod payments;
pub mod status;
pub mod three_ds;
pub mod tokens;
pub mod transfers;
pub mod vault;
