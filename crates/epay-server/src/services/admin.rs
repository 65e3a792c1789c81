//! Administration of merchants, terminals and credentials (the `epay` admin commands; the
//! cabinet reuses the same functions). Each change is one store call, so one transaction.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use epay_domain::{ids, Amount, Secret};
use epay_store::{Merchant, Store, StoreError, Terminal};
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::platform::keys::{secret_digest, KeyError, Keys, Sealing};

/// Hold period of a two-step authorization before it expires to CANCEL_OLD (7 days): a new
/// terminal's default.
pub const DEFAULT_HOLD_PERIOD_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A new client secret: 36 letters and digits, like the public test secret.
pub fn new_client_secret() -> Secret {
    Secret::new(rand::thread_rng().sample_iter(&Alphanumeric).take(36).map(char::from).collect::<String>())
}

/// A new Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes.
pub fn new_webhook_secret() -> Secret {
    let bytes: [u8; 32] = rand::thread_rng().gen();
    Secret::new(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// A new signing secret for the merchant `merchant_id`: in clear (for the operator, who hands
/// it to the merchant) and sealed (for the store).
pub fn new_sealed_webhook_secret(keys: &Keys, merchant_id: &str) -> Result<(Secret, Secret), KeyError> {
    let secret = new_webhook_secret();
    let sealed = keys.seal(Sealing::WebhookSecret { merchant_id }, secret.expose())?;
    Ok((secret, sealed.into()))
}

/// A merchant just created, with the secrets shown to the operator this once.
#[derive(Debug, Clone)]
pub struct NewMerchant {
    /// As stored: the webhook secret sealed.
    pub merchant: Merchant,
    pub client_secret: Secret,
    pub webhook_secret: Secret,
}

/// Creates a merchant; `keys` (with the data keys loaded) seal its webhook secret.
pub async fn create_merchant(
    store: &dyn Store,
    keys: &Keys,
    name: &str,
    client_id: &str,
) -> Result<NewMerchant, AdminError> {
    let name = name.trim();
    let client_id = client_id.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AdminError::Invalid("merchant name must be 1 to 200 characters".into()));
    }
    if client_id.is_empty()
        || client_id.len() > 64
        || !client_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(AdminError::Invalid("client id must be 1 to 64 letters, digits, '-', '_' or '.'".into()));
    }
    if store.merchant_by_client_id(client_id).await?.is_some() {
        return Err(AdminError::Exists(format!("a merchant with client id {client_id:?}")));
    }
    let client_secret = new_client_secret();
    let id = ids::uuid();
    let (webhook_secret, sealed) = new_sealed_webhook_secret(keys, &id)?;
    let merchant = Merchant {
        id,
        name: name.to_string(),
        client_id: client_id.to_string(),
        secret_digest: secret_digest(client_secret.expose()),
        webhook_secret: sealed,
        token_generation: 0,
    };
    store.upsert_merchant(&merchant, &[]).await?;
    Ok(NewMerchant { merchant, client_secret, webhook_secret })
}

async fn merchant_of(store: &dyn Store, client_id: &str) -> Result<Merchant, AdminError> {
    store
        .merchant_by_client_id(client_id.trim())
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("merchant with client id {client_id:?}")))
}

/// Which secret to rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The OAuth client secret: the old one stops working within a second on every node
    /// (`epay_store::CONFIG_STALENESS`: each node serves the merchant from memory).
    Client,
    /// The callback signing secret: callbacks queued from now on are signed with the new one.
    Webhook,
}

/// Replaces a merchant's client secret; returns the new one (shown once: only its digest is
/// kept).
pub async fn rotate_client_secret(store: &dyn Store, client_id: &str) -> Result<Secret, AdminError> {
    let merchant = merchant_of(store, client_id).await?;
    let secret = new_client_secret();
    store.set_merchant_secret(&merchant.id, &secret_digest(secret.expose())).await?;
    Ok(secret)
}

/// Replaces a merchant's callback signing secret, stored sealed; returns the new one.
pub async fn rotate_webhook_secret(store: &dyn Store, keys: &Keys, client_id: &str) -> Result<Secret, AdminError> {
    let merchant = merchant_of(store, client_id).await?;
    let (secret, sealed) = new_sealed_webhook_secret(keys, &merchant.id)?;
    store.set_webhook_secret(&merchant.id, &sealed).await?;
    Ok(secret)
}

/// Terminal settings an operator may set; `None` keeps the current (or default) value.
#[derive(Debug, Clone, Default)]
pub struct TerminalSettings {
    pub pos_id: Option<String>,
    pub name: Option<String>,
    pub two_step: Option<bool>,
    pub three_ds: Option<bool>,
    pub transfers_allowed: Option<bool>,
    pub hold_period_secs: Option<i64>,
    pub fee_percent_bp: Option<i64>,
    /// Amounts in major units (tenge), as an operator writes them.
    pub fee_fixed: Option<String>,
    pub fee_min: Option<String>,
    pub transfer_daily_limit: Option<String>,
    /// Replaces the terminal's callback origins when given (an empty list clears them).
    pub callback_origins: Option<Vec<String>>,
    /// Callbacks for charge, cancel, refund and expiry (docs/callbacks.md); off by default.
    pub operation_callbacks: Option<bool>,
    /// Attempts one invoice may have (docs/compatibility.md §48).
    pub max_attempts: Option<i64>,
}

fn minor(field: &str, text: &Option<String>) -> Result<Option<i64>, AdminError> {
    text.as_deref()
        .map(|t| Amount::parse_major(t).map(|a| a.minor()).map_err(|e| AdminError::Invalid(format!("{field}: {e}"))))
        .transpose()
}

fn apply(mut t: Terminal, s: &TerminalSettings) -> Result<Terminal, AdminError> {
    if let Some(pos) = &s.pos_id {
        if pos.len() != 8 || !pos.chars().all(|c| c.is_ascii_digit()) {
            return Err(AdminError::Invalid("pos id must be 8 digits".into()));
        }
        t.pos_id = pos.clone();
    }
    if let Some(name) = &s.name {
        if name.trim().is_empty() || name.len() > 200 {
            return Err(AdminError::Invalid("terminal name must be 1 to 200 characters".into()));
        }
        t.name = name.trim().to_string();
    }
    t.two_step = s.two_step.unwrap_or(t.two_step);
    t.three_ds = s.three_ds.unwrap_or(t.three_ds);
    t.transfers_allowed = s.transfers_allowed.unwrap_or(t.transfers_allowed);
    t.operation_callbacks = s.operation_callbacks.unwrap_or(t.operation_callbacks);
    if let Some(hold) = s.hold_period_secs {
        if !(60..=30 * 86_400).contains(&hold) {
            return Err(AdminError::Invalid("hold period must be between 60 seconds and 30 days".into()));
        }
        t.hold_period_secs = hold;
    }
    if let Some(bp) = s.fee_percent_bp {
        if !(0..=10_000).contains(&bp) {
            return Err(AdminError::Invalid("fee percent must be 0 to 10000 basis points".into()));
        }
        t.fee_percent_bp = bp;
    }
    if let Some(origins) = &s.callback_origins {
        t.callback_origins = origins
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| crate::services::capability::parse_callback_origin(o))
            .collect::<Result<_, _>>()
            .map_err(|e| AdminError::Invalid(format!("callback origin {e}")))?;
    }
    if let Some(n) = s.max_attempts {
        t.max_attempts = epay_domain::MaxAttempts::parse(n).map_err(AdminError::Invalid)?;
    }
    t.fee_fixed_minor = minor("fee fixed", &s.fee_fixed)?.unwrap_or(t.fee_fixed_minor);
    t.fee_min_minor = minor("fee minimum", &s.fee_min)?.unwrap_or(t.fee_min_minor);
    t.transfer_daily_limit_minor =
        minor("daily limit", &s.transfer_daily_limit)?.unwrap_or(t.transfer_daily_limit_minor);
    Ok(t)
}

/// Creates a terminal for the merchant with `client_id`; `id` defaults to a new UUID.
pub async fn create_terminal(
    store: &dyn Store,
    client_id: &str,
    id: Option<&str>,
    settings: &TerminalSettings,
) -> Result<Terminal, AdminError> {
    let merchant = merchant_of(store, client_id).await?;
    let id = match id {
        Some(id) => uuid::Uuid::parse_str(id.trim())
            .map_err(|_| AdminError::Invalid(format!("terminal id {id:?} is not a UUID")))?
            .to_string(),
        None => ids::uuid(),
    };
    if store.terminal(&id).await?.is_some() {
        return Err(AdminError::Exists(format!("terminal {id}")));
    }
    if settings.pos_id.is_none() {
        return Err(AdminError::Invalid("a new terminal needs its 8-digit pos id".into()));
    }
    let base = Terminal {
        id,
        merchant_id: merchant.id.clone(),
        name: "Terminal".into(),
        hold_period_secs: DEFAULT_HOLD_PERIOD_SECS,
        ..Terminal::default()
    };
    let terminal = apply(base, settings)?;
    store.upsert_terminal(&terminal).await?;
    Ok(terminal)
}

/// Changes a terminal's settings; what `settings` leaves out stays as it is.
pub async fn update_terminal(store: &dyn Store, id: &str, settings: &TerminalSettings) -> Result<Terminal, AdminError> {
    let current = store.terminal(id.trim()).await?.ok_or_else(|| AdminError::NotFound(format!("terminal {id}")))?;
    let terminal = apply(current, settings)?;
    store.upsert_terminal(&terminal).await?;
    Ok(terminal)
}
