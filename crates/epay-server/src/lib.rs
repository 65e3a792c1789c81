//! The epay gateway: configuration, keys, services (use cases) and the HTTP surfaces.
//!
//! Layers (DESIGN §3): `http` parses the wire format and maps errors; `services` run one use case
//! each against the ports (`epay_store::Store`, `epay_network::CardNetwork`, [`clock::Clock`]);
//! `epay_domain` holds the pure rules.

pub mod app;
pub mod cabinet;
pub mod clock;
pub mod config;
pub mod delivery;
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod html;
pub mod keys;
pub mod metrics;
pub mod netblocks;
pub mod openapi;
pub mod page;
pub mod seed;
pub mod services;
pub mod wire;
pub mod workers;

mod http;

pub use app::{build_metrics_router, build_router, App, AppState};
pub use config::{Config, Mode};
