//! What runs the gateway outside a request: start-up (opening, migrating, seeding), the
//! background workers and the callback delivery they drive. It calls services; no service
//! calls it.

pub mod delivery;
pub mod outbox;
pub mod seed;
pub mod start;
pub mod workers;
