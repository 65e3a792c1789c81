//! What the services use besides the store and the card network: time, configuration, keys,
//! metrics and the address checks for outgoing callbacks. Nothing here calls a service.

pub mod clock;
pub mod config;
pub mod cryptogram;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod netblocks;
pub mod test_merchant;
