//! The epay gateway. Layers, each depending only on those below it (docs/architecture.md):
//!
//! - [`edge`]: the surfaces (ePay HTTP API, hosted page, ACS, cabinet, `/docs`). Each turns its
//!   input into a command and a caller, calls a service, maps errors to its wire shape.
//! - [`services`]: one use case each, against the ports (`epay_store::Store`,
//!   `epay_network::CardNetwork`, [`platform::clock::Clock`]) and the pure rules of `epay_domain`.
//! - [`wire`]: ePay's JSON shapes (answers, amounts, error bodies) that services hand back.
//! - [`platform`]: time, configuration, keys, metrics, address checks.
//! - [`app`]: the context a use case runs in; [`runtime`] builds it and runs the workers.

pub mod app;
pub mod edge;
#[doc(hidden)]
pub mod fuzzing;
pub mod platform;
pub mod runtime;
pub mod services;
pub mod wire;

#[cfg(test)]
mod layers;

pub use app::{App, AppState};
pub use edge::{build_metrics_router, build_router};
pub use platform::config::{Config, Mode};
