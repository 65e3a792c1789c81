//! Admin commands: merchants, terminals, secrets, sandbox test cards, configuration check.
//! They work on the configured database directly (a gateway may be running on it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use epay_server::services::admin::{self, TerminalSettings};
use epay_server::{Config, Mode};
use epay_store::PurgeOutcome;

#[derive(Subcommand)]
pub enum MerchantCommand {
    /// Create a merchant; prints its client id, client secret and callback signing secret once.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// OAuth client id (letters, digits, '-', '_', '.').
        #[arg(long)]
        client_id: String,
    },
}

#[derive(Subcommand)]
pub enum TerminalCommand {
    /// Create a terminal for a merchant.
    Create {
        /// The merchant's client id.
        #[arg(long)]
        client_id: String,
        /// Terminal id (a UUID; default: a new one).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        settings: TerminalArgs,
    },
    /// Change a terminal's settings; what is not given stays as it is.
    Update {
        /// Terminal id.
        id: String,
        #[command(flatten)]
        settings: TerminalArgs,
    },
}

#[derive(Args)]
pub struct TerminalArgs {
    /// ePay's 8-digit POS number.
    #[arg(long)]
    pos_id: Option<String>,
    #[arg(long)]
    name: Option<String>,
    /// Two-step (payments end in AUTH and need a charge) or one-step.
    #[arg(long)]
    two_step: Option<bool>,
    /// Challenge 3-D Secure enrolled cards.
    #[arg(long)]
    three_ds: Option<bool>,
    /// Allow P2P, AFT and OCT transfers.
    #[arg(long)]
    transfers: Option<bool>,
    /// How long an AUTH may wait for its charge before it expires, in seconds.
    #[arg(long)]
    hold_period_secs: Option<i64>,
    /// Transfer fee: percent in basis points (100 = 1%).
    #[arg(long)]
    fee_percent_bp: Option<i64>,
    /// Transfer fee: fixed part in tenge.
    #[arg(long)]
    fee_fixed: Option<String>,
    /// Transfer fee: minimum in tenge.
    #[arg(long)]
    fee_min: Option<String>,
    /// Most the terminal may transfer per day, in tenge (0: no limit).
    #[arg(long)]
    daily_limit: Option<String>,
    /// An origin (`https://shop.kz` or `https://shop.kz:8443`) whose callback links the payment
    /// page or an API body may name when the token names none; repeat for several. Replaces the
    /// terminal's list; `--callback-origin ''` clears it.
    #[arg(long = "callback-origin")]
    callback_origins: Option<Vec<String>>,
    /// Also send callbacks for charge, cancel, refund and expiry of this terminal's payments, in
    /// their own shape (`"code":"operation"`, docs/callbacks.md): `on` or `off` (the default).
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    operation_callbacks: Option<bool>,
    /// Attempts one invoice may have: after a decline the same invoice may be paid again, until
    /// this many attempts were made (then reason 2740). 1 to 10; new terminals have 3.
    #[arg(long)]
    max_attempts: Option<i64>,
}

impl TerminalArgs {
    fn settings(&self) -> TerminalSettings {
        TerminalSettings {
            pos_id: self.pos_id.clone(),
            name: self.name.clone(),
            two_step: self.two_step,
            three_ds: self.three_ds,
            transfers_allowed: self.transfers,
            hold_period_secs: self.hold_period_secs,
            fee_percent_bp: self.fee_percent_bp,
            fee_fixed: self.fee_fixed.clone(),
            fee_min: self.fee_min.clone(),
            transfer_daily_limit: self.daily_limit.clone(),
            callback_origins: self.callback_origins.clone(),
            operation_callbacks: self.operation_callbacks,
            max_attempts: self.max_attempts,
        }
    }
}

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Replace a merchant's client secret (the old one stops working within a second on every
    /// running gateway) or, with --webhook, its callback signing secret. Prints the new secret
    /// once.
    Rotate {
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        webhook: bool,
    },
}

#[derive(Subcommand)]
pub enum CabinetCommand {
    /// Cabinet users: create.
    User {
        #[command(subcommand)]
        command: CabinetUserCommand,
    },
}

#[derive(Subcommand)]
pub enum CabinetUserCommand {
    /// Create a merchant cabinet user. The password is read from EPAY_CABINET_PASSWORD or,
    /// without it, from the first line of standard input (never from the command line, where
    /// other users of the machine could see it).
    Create {
        /// The merchant's client id.
        #[arg(long)]
        client_id: String,
        /// The user's e-mail, their sign-in name.
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new card-vault data key, make it active and reseal every stored card number and
    /// webhook signing secret under it, while gateways keep running (they learn the new key
    /// within a minute, or at once when they meet a value sealed under it).
    Rotate,
}

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Remove the public sandbox merchant (client id `test`), its terminals, tokens, cabinet
    /// users and seeded balances, and the public cabinet user, so production can start on this
    /// database. A merchant with transactions is refused unless --force.
    Purge {
        /// The merchant has transactions: keep them and its ledger, but retire the merchant
        /// (new unknown client id and secrets, no tokens, no cabinet users).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum AcsCommand {
    /// Print the one-time code of a production 3-D Secure challenge (the simulated bank's SMS).
    Code {
        /// The challenge's ACS transaction id (`acsTransID` in the paReq, `acs_id` in the log).
        acs_id: String,
    },
}

#[derive(Subcommand)]
pub enum CardCommand {
    /// Issue a simulator card with a random number and CVC into <data-dir>/issued-cards.toml
    /// (loaded at the next start, in sandbox and in production).
    Issue {
        /// visa or mastercard.
        #[arg(long, default_value = "visa")]
        brand: String,
        /// Opening balance in tenge.
        #[arg(long, default_value = "1000000")]
        balance: String,
        /// Expiry MM/YY.
        #[arg(long, default_value = "12/30")]
        expiry: String,
        /// Force this ePay reason code on every authorization (an outcome card).
        #[arg(long)]
        decline: Option<i32>,
        /// Enrolled in 3-D Secure.
        #[arg(long)]
        three_ds: bool,
    },
}

fn fail(message: impl std::fmt::Display) -> Result<ExitCode, String> {
    Err(message.to_string())
}

async fn store(config: &Config) -> Result<std::sync::Arc<dyn epay_store::Store>, String> {
    let store = epay_store::connect(config.database_url().expose()).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(store)
}

pub async fn merchant(config: Config, command: MerchantCommand) -> Result<ExitCode, String> {
    let MerchantCommand::Create { name, client_id } = command;
    let store = store(&config).await?;
    let keys = vault_keys(&config, store.as_ref()).await?;
    let created = admin::create_merchant(store.as_ref(), &keys, &name, &client_id).await.map_err(|e| e.to_string())?;
    println!("merchant id:     {}", created.merchant.id);
    println!("client id:       {}", created.merchant.client_id);
    println!("client secret:   {}", created.client_secret.expose());
    println!("webhook secret:  {}", created.webhook_secret.expose());
    println!("(the client secret is shown only now; only its digest is stored)");
    Ok(ExitCode::SUCCESS)
}

fn print_terminal(t: &epay_store::Terminal) {
    println!("terminal id:     {}", t.id);
    println!("pos id:          {}", t.pos_id);
    println!("name:            {}", t.name);
    println!("two-step:        {}", t.two_step);
    println!("3-D Secure:      {}", t.three_ds);
    println!("transfers:       {}", t.transfers_allowed);
    println!("hold period:     {} s", t.hold_period_secs);
    println!("max attempts:    {} per invoice", t.max_attempts);
    // In the units the flags take: basis points for --fee-percent-bp, tenge for the rest.
    let daily_limit = match t.transfer_daily_limit_minor {
        0 => "none".to_string(),
        minor => format!("{} KZT", tenge(minor)),
    };
    println!(
        "transfer fee:    {} bp + {} KZT, at least {} KZT; daily limit {daily_limit}",
        t.fee_percent_bp,
        tenge(t.fee_fixed_minor),
        tenge(t.fee_min_minor),
    );
    println!(
        "callback origins: {}",
        if t.callback_origins.is_empty() { "-".into() } else { t.callback_origins.join(" ") }
    );
    println!("operation callbacks: {}", if t.operation_callbacks { "on" } else { "off" });
}

/// Minor units (tiyn) as the tenge figure `--fee-fixed`, `--fee-min` and `--daily-limit` take
/// ("1000.5" for 100050).
fn tenge(minor: i64) -> String {
    epay_domain::Amount::from_minor(minor).map(|a| a.to_string()).unwrap_or_else(|_| format!("{minor} minor units"))
}

pub async fn terminal(config: Config, command: TerminalCommand) -> Result<ExitCode, String> {
    let store = store(&config).await?;
    let terminal = match command {
        TerminalCommand::Create { client_id, id, settings } => {
            admin::create_terminal(store.as_ref(), &client_id, id.as_deref(), &settings.settings()).await
        }
        TerminalCommand::Update { id, settings } => {
            admin::update_terminal(store.as_ref(), &id, &settings.settings()).await
        }
    }
    .map_err(|e| e.to_string())?;
    print_terminal(&terminal);
    Ok(ExitCode::SUCCESS)
}

pub async fn secret(config: Config, command: SecretCommand) -> Result<ExitCode, String> {
    let SecretCommand::Rotate { client_id, webhook } = command;
    let store = store(&config).await?;
    if webhook {
        // Only the signing secret is sealed, so only it needs the vault keys.
        let keys = vault_keys(&config, store.as_ref()).await?;
        let secret =
            admin::rotate_webhook_secret(store.as_ref(), &keys, &client_id).await.map_err(|e| e.to_string())?;
        println!("new webhook secret: {}\n(callbacks queued from now on are signed with it)", secret.expose());
    } else {
        let secret = admin::rotate_client_secret(store.as_ref(), &client_id).await.map_err(|e| e.to_string())?;
        println!("new client secret: {}\n(shown only now; the old secret no longer works)", secret.expose());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn cabinet(config: Config, command: CabinetCommand) -> Result<ExitCode, String> {
    let CabinetCommand::User { command: CabinetUserCommand::Create { client_id, email } } = command;
    let password = match std::env::var("EPAY_CABINET_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let store = store(&config).await?;
    let merchant = store
        .merchant_by_client_id(client_id.trim())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("merchant with client id {client_id:?} not found"))?;
    let user =
        epay_server::services::cabinet_users::create_user(store.as_ref(), &merchant.id, &email, &password, now_ms())
            .await
            .map_err(|e| e.to_string())?;
    println!("cabinet user:    {}", user.email);
    println!("merchant:        {} ({})", merchant.name, merchant.client_id);
    println!("sign in at <gateway>/cabinet");
    Ok(ExitCode::SUCCESS)
}

/// The file `epay card issue` writes and a sandbox gateway loads after the built-in cards.
pub fn issued_cards_path(data_dir: &Path) -> PathBuf {
    data_dir.join(epay_server::runtime::start::ISSUED_CARDS_FILE)
}

/// A card number with `prefix`, random digits and a valid Luhn check digit, 16 digits long.
fn luhn_pan(prefix: &str) -> String {
    use rand::Rng;
    let mut digits: Vec<u32> = prefix.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut rng = rand::thread_rng();
    while digits.len() < 15 {
        digits.push(rng.gen_range(0..10));
    }
    // Luhn: double every second digit from the right, counting the check digit as the first.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect()
}

pub fn card(config: Config, command: CardCommand) -> Result<ExitCode, String> {
    let CardCommand::Issue { brand, balance, expiry, decline, three_ds } = command;
    let prefix = match brand.to_ascii_lowercase().as_str() {
        "visa" => "4000001",
        "mastercard" | "mc" => "5100001",
        other => return fail(format!("brand {other:?}: use visa or mastercard")),
    };
    let path = issued_cards_path(&config.data_dir);
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let cvc = format!("{:03}", rand::random::<u16>() % 1000);
    let pan = loop {
        let pan = luhn_pan(prefix);
        if !existing.contains(&pan) && !epay_network::DEFAULT_CARDS.contains(&pan) {
            break pan;
        }
    };
    let mut entry = format!(
        "\n[[card]]\npan = \"{pan}\"\nexpiry = \"{}\"\ncvc = \"{cvc}\"\nbalance = {}\nissuer = \"SIMULATED BANK\"\n",
        expiry.trim(),
        balance.trim()
    );
    if let Some(code) = decline {
        entry.push_str(&format!("decline = {code}\n"));
    }
    if three_ds {
        entry.push_str("three_ds = true\n");
    }
    // The same parser the gateway uses: a bad expiry, balance or decline code is refused here.
    epay_network::Simulator::from_card_files(&[&entry], b"check").map_err(|e| format!("card: {e}"))?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| e.to_string())?;
    std::fs::write(&path, format!("{existing}{entry}")).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("card number: {pan}\nexpiry:      {}\ncvc:         {cvc}", expiry.trim());
    println!("written to {}; a sandbox gateway loads it at its next start", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Checks the configuration and what it points at; prints the effective settings (no secrets).
pub async fn config_check(config: Config) -> Result<ExitCode, String> {
    println!("mode:            {:?}", config.mode);
    println!("listen:          {}", config.listen);
    println!("data dir:        {}", config.data_dir.display());
    let url = config.database_url();
    // Never print a database password: shown as `***`.
    let shown = url.redacted();
    println!("database:        {shown}");
    println!("rsa key:         {}", config.rsa_key_path().display());
    println!("vault key:       {}", config.vault_key_path().display());
    for file in &config.cards_files {
        std::fs::read_to_string(file).map_err(|e| format!("card file {}: {e}", file.display()))?;
        println!("card file:       {} (readable)", file.display());
    }
    match epay_store::connect(url.expose()).await {
        Ok(store) => match store.health().await {
            Ok(h) => println!(
                "database check:  reachable, {} of {} migrations applied",
                h.migrations_applied, h.migrations_known
            ),
            Err(_) => println!("database check:  reachable, not migrated yet (epay migrate or epay serve does it)"),
        },
        Err(e) => return fail(format!("database {shown}: {e}")),
    }
    println!("configuration OK");
    Ok(ExitCode::SUCCESS)
}

pub async fn keys(config: Config, command: KeysCommand) -> Result<ExitCode, String> {
    let KeysCommand::Rotate = command;
    let store = store(&config).await?;
    let keys = load_keys(&config)?;
    let rotation =
        epay_server::services::vault::rotate(&keys, store.as_ref(), now_ms()).await.map_err(|e| e.to_string())?;
    println!("new data key:    {}", rotation.new_key);
    println!(
        "resealed:        {} card numbers, {} webhook secrets",
        rotation.resealed.card_numbers, rotation.resealed.webhook_secrets
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn sandbox(config: Config, command: SandboxCommand) -> Result<ExitCode, String> {
    let SandboxCommand::Purge { force } = command;
    let store = store(&config).await?;
    let keys = vault_keys(&config, store.as_ref()).await?;
    match epay_server::runtime::seed::purge_sandbox(store.as_ref(), &keys, force).await.map_err(|e| e.to_string())? {
        PurgeOutcome::Deleted => {
            println!("removed the public sandbox merchant, its terminals, tokens, cabinet users and seeded balances")
        }
        PurgeOutcome::Retired { transactions } => println!(
            "retired the public sandbox merchant: its {transactions} transactions and ledger stay; its client id, \
             secrets, tokens and cabinet users are gone"
        ),
        PurgeOutcome::NoMerchant => println!("no public sandbox merchant here; public cabinet users removed, if any"),
        PurgeOutcome::HasTransactions(n) => {
            return fail(format!(
                "the public sandbox merchant has {n} transactions; nothing was changed. Run \
                 `epay sandbox purge --force` to retire it (its transactions and ledger stay)"
            ))
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn acs(config: Config, command: AcsCommand) -> Result<ExitCode, String> {
    let AcsCommand::Code { acs_id } = command;
    if config.mode == Mode::Sandbox {
        return fail(format!("sandbox mode: the code is always {}", epay_server::services::three_ds::SANDBOX_CODE));
    }
    let store = store(&config).await?;
    let session = store.three_ds_session(acs_id.trim()).await.map_err(|e| e.to_string())?;
    let Some(session) = session else { return fail(format!("no 3-D Secure challenge {acs_id:?}")) };
    let keys = load_keys(&config)?;
    println!("{}", epay_server::services::three_ds::one_time_code(&keys, &session.id));
    Ok(ExitCode::SUCCESS)
}

/// The keys with the store's vault data keys installed, as a gateway has them: for commands
/// that seal a secret (refused when the master key is not the gateway's).
async fn vault_keys(
    config: &Config,
    store: &dyn epay_store::Store,
) -> Result<epay_server::platform::keys::Keys, String> {
    let keys = load_keys(config)?;
    epay_server::services::vault::load(&keys, store, now_ms()).await.map_err(|e| e.to_string())?;
    Ok(keys)
}

/// The admin commands run on real time (a sandbox gateway's moved clock is its own).
fn now_ms() -> i64 {
    use epay_server::platform::clock::Clock;
    epay_server::platform::clock::SystemClock::default().real_now_ms()
}

fn load_keys(config: &Config) -> Result<epay_server::platform::keys::Keys, String> {
    epay_server::platform::keys::Keys::load(
        &config.rsa_key_path(),
        config.rsa_key_bits,
        &config.vault_key_path(),
        config.vault_master_key.as_ref().map(epay_domain::Secret::expose),
    )
    .map_err(|e| e.to_string())
}
