//! Wiring: builds the ports from configuration and the router over them.

use std::sync::Arc;

use epay_domain::Currency;
use epay_network::{CardNetwork, Simulator, DEFAULT_CARDS};
use epay_store::{AccountKind, Store};

use crate::clock::SystemClock;
use crate::config::{Config, Mode};
use crate::keys::Keys;

/// The card file `epay card issue` writes in the data directory; a sandbox gateway loads it.
pub const ISSUED_CARDS_FILE: &str = "issued-cards.toml";

/// Everything a request handler needs. Cheap to clone (all shared).
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub network: Arc<dyn CardNetwork>,
    pub keys: Arc<Keys>,
    /// The one clock every service reads; the sandbox may move it forward.
    pub clock: Arc<SystemClock>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Failure counters for the abuse limits (secret guessing, card testing).
    pub guard: Arc<crate::guard::Guard>,
}

pub type AppState = Arc<App>;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Store(#[from] epay_store::StoreError),
    #[error("card file {0}: {1}")]
    Cards(String, String),
    #[error("card vault: {0}")]
    Vault(#[from] crate::services::vault::VaultError),
}

impl App {
    /// Opens (creating, migrating and — in sandbox mode — seeding) everything `config` names.
    pub async fn start(config: Config) -> Result<App, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
        let keys = Keys::load(
            &config.rsa_key_path(),
            config.rsa_key_bits,
            &config.vault_key_path(),
            config.vault_master_key.as_deref(),
        )?;
        let store = epay_store::connect(&config.database_url()).await?;
        store.migrate().await?;

        // Extra card files, then (sandbox) the cards `epay card issue` wrote.
        let mut card_files = config.cards_files.clone();
        let issued = config.data_dir.join(ISSUED_CARDS_FILE);
        if config.mode == Mode::Sandbox && issued.exists() {
            card_files.push(issued);
        }
        let mut card_texts = vec![DEFAULT_CARDS.to_string()];
        for path in &card_files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| StartError::Cards(path.display().to_string(), e.to_string()))?;
            card_texts.push(text);
        }
        // Each file is checked on its own first, so an error names its file.
        for (path, text) in card_files.iter().zip(card_texts.iter().skip(1)) {
            Simulator::from_card_files(&[text], keys.account_key())
                .map_err(|e| StartError::Cards(path.display().to_string(), e.to_string()))?;
        }
        let texts: Vec<&str> = card_texts.iter().map(String::as_str).collect();
        let simulator = Simulator::from_card_files(&texts, keys.account_key())
            .map_err(|e| StartError::Cards("(built-in)".into(), e.to_string()))?;

        let clock = Arc::new(SystemClock::default());
        if let Some(start) = config.sandbox_start_ms() {
            clock.advance(start - clock.now_ms());
        }
        crate::services::vault::load(&keys, store.as_ref(), clock.now_ms()).await?;
        if config.mode == Mode::Sandbox && crate::seed::seed_sandbox(store.as_ref()).await? {
            tracing::info!("seeded the public test merchant and terminals");
        }
        let mut accounts: Vec<_> = simulator
            .card_accounts()
            .into_iter()
            .map(|(id, currency, opening)| (id, AccountKind::Card, currency, opening))
            .collect();
        if config.mode == Mode::Sandbox {
            accounts.push((
                epay_store::merchant_account(crate::seed::PAYOUT_TERMINAL, Currency::Kzt.code()),
                AccountKind::Merchant,
                Currency::Kzt,
                crate::seed::PAYOUT_OPENING_BALANCE_MINOR,
            ));
        }
        store.ensure_accounts(&accounts, clock.now_ms()).await?;

        Ok(App {
            config,
            store,
            network: Arc::new(simulator),
            keys: Arc::new(keys),
            clock,
            metrics: Arc::default(),
            guard: Arc::default(),
        })
    }
}

pub fn build_router(app: AppState) -> axum::Router {
    crate::http::router(app)
}

impl App {
    /// Opens a sealed card number. A value under a data key this node has not seen yet (another
    /// node rotated) makes it re-read the keys once.
    pub async fn open_pan(&self, sealed: &str) -> Option<epay_domain::Pan> {
        if let Some(pan) = self.keys.open_pan(sealed) {
            return Some(pan);
        }
        if let Err(e) = crate::services::vault::refresh(&self.keys, self.store.as_ref()).await {
            tracing::error!(error = %e, "re-reading the vault keys failed");
        }
        self.keys.open_pan(sealed)
    }
}
