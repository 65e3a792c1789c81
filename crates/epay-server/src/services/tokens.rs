//! OAuth2 client-credentials tokens (facts §2).

use epay_domain::{ids, Amount, Currency, InvoiceId, Secret, TransferKind};
use epay_store::TokenRecord;

use crate::app::App;
use crate::config::Mode;
use crate::keys::{digest, secret_digest};
use crate::services::transfers;
use crate::wire::{Fields, TokenResponse};

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

/// Scope words ePay uses (facts §2.3); a scope is any space-separated set of them.
const KNOWN_SCOPE_WORDS: &[&str] = &[
    "payment",
    "transfer",
    "webapi",
    "usermanagement",
    "email_send",
    "verification",
    "statement",
    "statistics",
    "api",
];

/// Issues a token for a request from `from` (the peer address), counting wrong secrets against
/// the client id from that address and against the address, in the store so that every node
/// shares the counts (crate::guard).
pub async fn issue(app: &App, form: &Fields, from: Option<std::net::IpAddr>) -> Result<TokenResponse, TokenError> {
    let Credentials { client_id, secret, scope } = parse_credentials(form)?;

    let guard_keys = crate::guard::token_keys(&client_id, from, &crate::guard::Limits::from_config(&app.config));
    let guard = crate::guard::SharedGuard { store: app.store.as_ref() };
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
    let merchant = match merchant {
        // Secrets compare in constant time.
        Some(m) if m.secret_digest == presented => m,
        _ => {
            guard.fail_all(&guard_keys, now).await.map_err(internal)?;
            return Err(TokenError::InvalidClient);
        }
    };

    let binding = parse_binding(form, &scope, app.config.mode)?;
    if let Some(id) = &binding.terminal_id {
        match app.store.terminal(id).await.map_err(internal)? {
            Some(t) if t.merchant_id == merchant.id => {}
            // Another merchant's terminal is "not found", exactly like a missing one.
            _ => return Err(TokenError::InvalidRequest(format!("terminal {id:?} not found"))),
        }
    }

    let token = ids::access_token();
    let now = app.clock.now_ms();
    let record = TokenRecord {
        token_digest: digest(&token),
        merchant_id: merchant.id,
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
        scope,
        token_type: "Bearer".into(),
    })
}

/// Who asks for a token, read from the request (checked against the store afterwards).
#[derive(Debug)]
pub(crate) struct Credentials {
    pub client_id: String,
    pub secret: Secret,
    /// Verbatim as requested; every word is a known scope word.
    pub scope: String,
}

pub(crate) fn parse_credentials(form: &Fields) -> Result<Credentials, TokenError> {
    let text = |names: &[&str]| form.opt_str(names).map_err(|e| TokenError::InvalidRequest(e.0));
    let grant = text(&["grant_type"])?.ok_or_else(|| TokenError::InvalidRequest("grant_type is required".into()))?;
    if grant != "client_credentials" {
        return Err(TokenError::UnsupportedGrantType(format!(
            "grant_type {grant:?} is not supported; use client_credentials"
        )));
    }
    let client_id = text(&["client_id"])?.ok_or_else(|| TokenError::InvalidRequest("client_id is required".into()))?;
    let secret =
        text(&["client_secret"])?.ok_or_else(|| TokenError::InvalidRequest("client_secret is required".into()))?;
    let scope = text(&["scope"])?.unwrap_or_default();
    let words: Vec<&str> = scope.split_whitespace().collect();
    if words.is_empty() {
        return Err(TokenError::InvalidScope("scope is required (payment, transfer or the service scope)".into()));
    }
    if let Some(bad) = words.iter().find(|w| !KNOWN_SCOPE_WORDS.contains(w)) {
        return Err(TokenError::InvalidScope(format!("unknown scope {bad:?}")));
    }
    Ok(Credentials { client_id, secret: Secret::new(secret), scope })
}

/// What a token is bound to, read from the request; the terminal is looked up afterwards.
#[derive(Debug)]
pub(crate) struct Binding {
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

pub(crate) fn parse_binding(form: &Fields, scope: &str, mode: Mode) -> Result<Binding, TokenError> {
    let invalid = |msg: String| TokenError::InvalidRequest(msg);
    let text = |names: &[&str]| form.opt_str(names).map_err(|e| invalid(e.0));
    let terminal_id =
        text(&["terminal", "terminalId", "terminal_id"])?.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let invoice = text(&["invoiceID", "invoiceId", "invoice_id"])?.filter(|s| !s.trim().is_empty());
    // Transfer order ids may have 16 digits (seed 001's example does).
    let transfer = scope.split_whitespace().any(|w| w == "transfer");
    let invoice = invoice
        .map(|s| {
            let parsed = if transfer { InvoiceId::parse_transfer_order(&s) } else { InvoiceId::parse(&s) };
            parsed.map_err(|e| invalid(format!("invoiceID: {e}")))
        })
        .transpose()?;
    let amount = form.opt_amount(&["amount"]).map_err(|e| invalid(e.0))?;
    let currency = form.opt_currency(&["currency", "curency"]).map_err(|e| invalid(e.0))?;
    if invoice.is_some() && amount.is_none() {
        return Err(invalid("amount is required with invoiceID".into()));
    }
    if invoice.is_some() && terminal_id.is_none() {
        return Err(invalid("terminal is required with invoiceID".into()));
    }
    let post_link = text(&["postLink", "post_link"])?.unwrap_or_default();
    let failure_post_link = text(&["failurePostLink", "failure_post_link"])?.unwrap_or_default();
    let secret_hash = text(&["secret_hash", "secretHash"])?.filter(|s| !s.is_empty()).map(Secret::new);
    for (name, url) in [("postLink", &post_link), ("failurePostLink", &failure_post_link)] {
        crate::delivery::check_link(name, url, mode).map_err(|e| invalid(format!("{name}: {e}")))?;
    }
    let transfer_kind = text(&["transferKind", "transfer_kind"])?
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            transfers::kind_named(&s).ok_or_else(|| {
                let kinds: Vec<&str> = TransferKind::ALL.iter().map(|k| k.as_str()).collect();
                invalid(format!("transferKind {s:?} is not one of {}", kinds.join(", ")))
            })
        })
        .transpose()?;
    if transfer_kind.is_some() && !transfer {
        return Err(invalid("transferKind needs the transfer scope".into()));
    }
    // A payout moves the merchant's money, and an AFT credits the shopper with what they paid:
    // the order and its amount are the merchant's to fix, never the page's.
    if let Some(kind @ (TransferKind::Oct | TransferKind::Aft)) = transfer_kind {
        if invoice.is_none() || amount.is_none() {
            return Err(invalid(format!(
                "transferKind {} needs invoiceID, amount and terminal: the merchant fixes its order and amount",
                kind.as_str()
            )));
        }
    }
    let account_id =
        text(&["accountId", "accountID", "account_id"])?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(Binding {
        terminal_id,
        invoice,
        amount,
        currency,
        post_link,
        failure_post_link,
        secret_hash,
        transfer_kind,
        account_id,
    })
}

fn internal(e: epay_store::StoreError) -> TokenError {
    tracing::error!(error = %e, "token storage failed");
    TokenError::Internal
}
