//! Start: opens (creating, migrating and, in sandbox mode, seeding) everything the
//! configuration names, and builds the [`App`] the services run against.

use std::sync::Arc;

use epay_domain::Currency;
use epay_domain::Secret;
use epay_network::{CardNetwork, Simulator, DEFAULT_CARDS};
use epay_store::AccountKind;

use crate::platform::clock::{Clock, SandboxClock, SystemClock};
use crate::platform::config::{Config, Mode};
use crate::platform::keys::Keys;

use crate::app::App;

/// The card file `epay card issue` writes in the data directory; the gateway loads it at start.
pub const ISSUED_CARDS_FILE: &str = "issued-cards.toml";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Keys(#[from] crate::platform::keys::KeyError),
    #[error(transparent)]
    Store(#[from] epay_store::StoreError),
    #[error("card file {0}: {1}")]
    Cards(String, String),
    #[error("card vault: {0}")]
    Vault(#[from] crate::services::vault::VaultError),
    #[error(
        "production refuses this database: it holds {0}, whose credentials are published. \
         Remove them with `epay sandbox purge` (same configuration; docs/operations.md), then start again"
    )]
    PublicSandboxData(String),
}

impl App {
    /// Opens (creating, migrating and — in sandbox mode — seeding) everything `config` names.
    pub async fn start(config: Config) -> Result<App, StartError> {
        private_files::data_dir(&config.data_dir)
            .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
        private_files::sqlite_files(config.database_url().expose())
            .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
        let keys = Keys::load(
            &config.rsa_key_path(),
            config.rsa_key_bits,
            &config.vault_key_path(),
            config.vault_master_key.as_ref().map(Secret::expose),
        )?;
        keys.use_token_keys(&config.token_keys);
        let store = epay_store::connect(config.database_url().expose()).await?;
        store.migrate().await?;

        let simulator = load_cards(&config, &keys)?;

        let system_clock = Arc::new(match config.sandbox_start_ms() {
            Some(start) => SystemClock::starting_at(start),
            None => SystemClock::default(),
        });
        let sandbox_clock = (config.mode == Mode::Sandbox).then(|| SandboxClock::new(system_clock.clone()));
        let clock: Arc<dyn Clock> = system_clock;
        crate::services::vault::load(&keys, store.as_ref(), clock.now_ms()).await?;
        let sealed = crate::services::vault::seal_clear_secrets(&keys, store.as_ref()).await?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed the webhook secrets an older version stored in clear");
        }
        if config.mode == Mode::Production {
            if let Some(found) = crate::runtime::seed::public_sandbox_data(store.as_ref()).await? {
                return Err(StartError::PublicSandboxData(found));
            }
        }
        if config.mode == Mode::Sandbox && crate::runtime::seed::seed_sandbox(store.as_ref(), &keys).await? {
            tracing::info!("seeded the public test merchant and terminals");
        }
        let mut accounts: Vec<_> = simulator
            .card_accounts()
            .into_iter()
            .map(|(id, currency, opening)| (id, AccountKind::Card, currency, opening))
            .collect();
        if config.mode == Mode::Sandbox {
            accounts.push((
                epay_store::merchant_account(crate::runtime::seed::PAYOUT_TERMINAL, Currency::Kzt.code()),
                AccountKind::Merchant,
                Currency::Kzt,
                crate::runtime::seed::PAYOUT_OPENING_BALANCE_MINOR,
            ));
        }
        store.ensure_accounts(&accounts, clock.now_ms()).await?;

        Ok(App {
            config,
            store,
            network: Arc::new(simulator),
            keys: Arc::new(keys),
            clock,
            sandbox_clock,
            metrics: Arc::default(),
            guard: Arc::default(),
        })
    }
}

/// The simulated issuer's cards. Sandbox: the built-in public test cards, the configured card
/// files, then the cards `epay card issue` wrote. Production: no built-in card (their numbers and
/// CVCs are published), only the configured files and the issued cards; none of them may be a
/// built-in card or have a `published` combination (one that never expires).
fn load_cards(config: &Config, keys: &Keys) -> Result<Simulator, StartError> {
    let mut card_files = config.cards_files.clone();
    let issued = config.data_dir.join(ISSUED_CARDS_FILE);
    if issued.exists() {
        card_files.push(issued);
    }
    let mut texts = Vec::new();
    if config.mode == Mode::Sandbox {
        texts.push(DEFAULT_CARDS.to_string());
    }
    let public = Simulator::from_card_files(&[DEFAULT_CARDS], keys.account_key())
        .map_err(|e| StartError::Cards("(built-in)".into(), e.to_string()))?;
    for path in &card_files {
        let text =
            std::fs::read_to_string(path).map_err(|e| StartError::Cards(path.display().to_string(), e.to_string()))?;
        // Each file is checked on its own first, so an error names its file.
        let file = Simulator::from_card_files(&[&text], keys.account_key())
            .map_err(|e| StartError::Cards(path.display().to_string(), e.to_string()))?;
        if config.mode == Mode::Production {
            if let Some(card) = file.cards().find(|c| public.card(&c.pan).is_some()) {
                let problem = format!("{} is a public test card, refused in production", card.pan.masked());
                return Err(StartError::Cards(path.display().to_string(), problem));
            }
            // A published combination never expires: sandbox test data only.
            if let Some(card) = file.cards().find(|c| c.credentials().iter().any(|k| k.published.is_some())) {
                let problem =
                    format!("{} has a `published` combination, which is for the sandbox only", card.pan.masked());
                return Err(StartError::Cards(path.display().to_string(), problem));
            }
        }
        texts.push(text);
    }
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    Simulator::from_card_files(&texts, keys.account_key())
        .map_err(|e| StartError::Cards("(built-in)".into(), e.to_string()))
}

/// The data directory and the SQLite files hold sealed cards, client-secret digests and webhook
/// secrets: only the gateway's own user may read them (directory 0700, files 0600).
mod private_files {
    use std::io;
    use std::path::{Path, PathBuf};

    #[cfg(unix)]
    fn restrict(path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }

    #[cfg(not(unix))]
    fn restrict(_path: &Path, _mode: u32) -> io::Result<()> {
        Ok(())
    }

    /// Creates the data directory owner-only, and narrows an existing one to that.
    pub fn data_dir(dir: &Path) -> io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
        restrict(dir, 0o700)
    }

    /// The database file of an `sqlite:` URL (`None` for other databases or in-memory ones).
    fn sqlite_path(url: &str) -> Option<PathBuf> {
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
    }

    /// Creates the SQLite database file 0600 before SQLite opens it (SQLite gives its -wal and
    /// -shm files the database file's mode), and narrows existing files to 0600.
    pub fn sqlite_files(url: &str) -> io::Result<()> {
        let Some(db) = sqlite_path(url) else {
            return Ok(());
        };
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&db)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let file = PathBuf::from(format!("{}{suffix}", db.display()));
            if file.exists() {
                restrict(&file, 0o600)?;
            }
        }
        Ok(())
    }
}
