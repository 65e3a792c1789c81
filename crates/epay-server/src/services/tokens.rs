//! OAuth2 client-credentials tokens (facts §2).

use epay_domain::{ids, Amount, Currency, InvoiceId, Secret, TransferKind};
use epay_store::TokenRecord;

use crate::app::App;
use crate::platform::keys::{digest, secret_digest};
use crate::wire::TokenResponse;

/// RFC 6749 §5.2 errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("too many failed attempts; retry after {0} seconds")]
    TooManyAttempts(u64),
    #[error("internal error")]
    Internal,
}

/// A client that proved its secret: the merchant a token is issued to, and the scope it asked.
#[derive(Debug)]
pub struct Client {
    merchant_id: String,
    scope: String,
}

impl Client {
    /// The scope as requested (every word a known scope word); what the token may be bound to
    /// depends on it.
    pub fn scope(&self) -> &str {
        &self.scope
    }
}

/// Authenticates a token request's client, asking from `from` (the peer address). Wrong secrets
/// count against the client id from that address and against the address, in the store so that
/// every node shares the counts (crate::services::guard). The request's binding is read only after this,
/// so a wrong secret is answered as such whatever else the request holds.
pub async fn client(app: &App, credentials: Credentials, from: Option<std::net::IpAddr>) -> Result<Client, TokenError> {
    let Credentials { client_id, secret, scope } = credentials;
    let guard_keys =
        crate::services::guard::token_keys(&client_id, from, &crate::services::guard::Limits::from_config(&app.config));
    let guard = crate::services::guard::SharedGuard { store: app.store.as_ref() };
    let now = app.clock.now_ms();
    guard
        .check_all(&guard_keys, now)
        .await
        .map_err(internal)?
        .map_err(|t| TokenError::TooManyAttempts(t.retry_after_secs))?;
    let merchant = app.store.merchant_by_client_id(&client_id).await.map_err(internal)?;
    // Digest the presented secret even for an unknown client, so timing does not tell which
    // client ids exist.
    let presented = secret_digest(secret.expose());
    match merchant {
        // Secrets compare in constant time.
        Some(m) if m.secret_digest == presented => Ok(Client { merchant_id: m.id, scope }),
        _ => {
            guard.fail_all(&guard_keys, now).await.map_err(internal)?;
            Err(TokenError::InvalidClient)
        }
    }
}

/// `POST /oauth2/token`: a new token for an authenticated client, bound as the request asks.
pub async fn issue(app: &App, client: &Client, binding: Binding) -> Result<TokenResponse, TokenError> {
    let Client { merchant_id, scope } = client;
    if let Some(id) = &binding.terminal_id {
        match app.store.terminal(id).await.map_err(internal)? {
            Some(t) if t.merchant_id == *merchant_id => {}
            // Another merchant's terminal is "not found", exactly like a missing one.
            _ => return Err(TokenError::InvalidRequest(format!("terminal {id:?} not found"))),
        }
    }

    let token = ids::access_token();
    let now = app.clock.now_ms();
    let record = TokenRecord {
        token_digest: digest(&token),
        merchant_id: merchant_id.clone(),
        terminal_id: binding.terminal_id,
        scope: scope.clone(),
        invoice_id: binding.invoice.as_ref().map(|i| i.as_str().to_string()),
        amount_minor: binding.amount.map(Amount::minor),
        currency: binding.invoice.as_ref().map(|_| binding.currency.unwrap_or(Currency::Kzt).code().to_string()),
        post_link: binding.post_link,
        failure_post_link: binding.failure_post_link,
        secret_hash: binding.secret_hash,
        transfer_kind: binding.transfer_kind,
        account_id: binding.account_id,
        expires_at: now + app.config.token_ttl_secs * 1000,
        used_at: None,
        created_at: now,
    };
    app.store.insert_token(&record).await.map_err(internal)?;
    Ok(TokenResponse {
        access_token: token.into(),
        expires_in: app.config.token_ttl_secs,
        refresh_token: String::new(),
        scope: scope.clone(),
        token_type: "Bearer".into(),
    })
}

/// Who asks for a token, as the request names them (checked by [`client`]).
#[derive(Debug)]
pub struct Credentials {
    pub client_id: String,
    pub secret: Secret,
    /// Verbatim as requested; every word is a known scope word.
    pub scope: String,
}

/// What a new token is bound to, as the request asks; the terminal is checked by [`issue`].
#[derive(Debug)]
pub struct Binding {
    /// Trimmed; `None` when absent or blank.
    pub terminal_id: Option<String>,
    pub invoice: Option<InvoiceId>,
    pub amount: Option<Amount>,
    pub currency: Option<Currency>,
    pub post_link: String,
    pub failure_post_link: String,
    pub secret_hash: Option<Secret>,
    /// Extension (docs/compatibility.md): the one kind of transfer the token may make.
    pub transfer_kind: Option<TransferKind>,
    /// Extension: the customer whose saved cards the token may list and use.
    pub account_id: Option<String>,
}

fn internal(e: epay_store::StoreError) -> TokenError {
    tracing::error!(error = %e, "token storage failed");
    TokenError::Internal
}
