//! The context every use case runs in: the ports (store, card network, clock, keys) and the
//! configuration, built once at start (`runtime::start`) and shared by every request.

use std::sync::Arc;

use epay_domain::Secret;
use epay_network::CardNetwork;
use epay_store::Store;

use crate::platform::clock::{Clock, SandboxClock};
use crate::platform::config::Config;
use crate::platform::keys::{Keys, Sealing};

#[cfg(test)]
use crate::platform::config::Mode;

/// Everything a request handler needs. Cheap to clone (all shared).
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub network: Arc<dyn CardNetwork>,
    pub keys: Arc<Keys>,
    /// The one clock every service reads (the port: a test may give a fixed one).
    pub clock: Arc<dyn Clock>,
    /// Sandbox mode only: moves `clock` forward. Only the sandbox clock routes use it.
    pub sandbox_clock: Option<SandboxClock>,
    pub metrics: Arc<crate::platform::metrics::Metrics>,
    /// Failure counters for the abuse limits (secret guessing, card testing).
    pub guard: Arc<crate::services::guard::Guard>,
}

pub type AppState = Arc<App>;

#[cfg(test)]
impl App {
    /// A sandbox gateway for unit tests, with no server: a real store in memory
    /// (`sqlite::memory:`, migrated and seeded with the public test merchant and terminals), the
    /// simulated card network with the public test cards, and a clock that stands at `now_ms`.
    pub(crate) async fn for_tests(now_ms: i64) -> App {
        // One key pair for every test of the process: generating RSA keys is the slow part.
        static KEYS_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
        let data_dir = KEYS_DIR.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("epay-unit-{}", uuid::Uuid::new_v4()));
            let config = Config { data_dir: dir.clone(), rsa_key_bits: 2048, ..Config::default() };
            Keys::load_or_generate(&config.rsa_key_path(), config.rsa_key_bits, &config.vault_key_path())
                .expect("test keys");
            dir
        });
        let config = Config {
            data_dir: data_dir.clone(),
            database_url: Some(epay_domain::secret::DatabaseUrl::new("sqlite::memory:")),
            mode: Mode::Sandbox,
            ..Config::default()
        };
        let app = App::start(config).await.expect("an in-memory sandbox gateway starts");
        App { clock: Arc::new(crate::platform::clock::FixedClock(now_ms)), sandbox_clock: None, ..app }
    }
}

impl App {
    /// Opens a stored sealed value (see [`Keys::open`]). A value under a data key this node has
    /// not seen yet (another node or `epay keys rotate` added it) makes it re-read the keys once.
    pub async fn open(&self, what: Sealing<'_>, stored: &str) -> Option<String> {
        if let Some(plain) = self.keys.open(what, stored) {
            return Some(plain);
        }
        if let Err(e) = crate::services::vault::refresh(&self.keys, self.store.as_ref()).await {
            tracing::error!(error = %e, "re-reading the vault keys failed");
        }
        self.keys.open(what, stored)
    }

    /// Opens a sealed card number (see [`App::open`]).
    pub async fn open_pan(&self, sealed: &str) -> Option<epay_domain::Pan> {
        epay_domain::Pan::parse(&self.open(Sealing::Pan, sealed).await?).ok()
    }

    /// Opens a merchant's stored webhook signing secret (see [`App::open`]).
    pub async fn open_webhook_secret(&self, merchant_id: &str, stored: &Secret) -> Option<Secret> {
        self.open(Sealing::WebhookSecret { merchant_id }, stored.expose()).await.map(Secret::new)
    }
}
