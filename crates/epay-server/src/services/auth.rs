//! Bearer-token authentication shared by every API surface.

use epay_store::TokenRecord;

use crate::app::App;
use crate::keys::digest;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    #[error("Authorization header with a Bearer token is required")]
    Missing,
    #[error("access token is invalid")]
    Unknown,
    #[error("access token has expired")]
    Expired,
    #[error("storage unavailable")]
    Storage,
}

/// Pulls the token out of an `Authorization: Bearer …` header value (scheme case-insensitive).
pub fn bearer_token(header: Option<&str>) -> Result<&str, BearerError> {
    let value = header.ok_or(BearerError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(BearerError::Missing);
    }
    Ok(token.trim())
}

/// Looks the token up by its digest and checks it has not expired.
pub async fn authenticate(app: &App, header: Option<&str>) -> Result<TokenRecord, BearerError> {
    let token = bearer_token(header)?;
    let record = app
        .store
        .token(&digest(token))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "token lookup failed");
            BearerError::Storage
        })?
        .ok_or(BearerError::Unknown)?;
    if record.expires_at <= app.clock.now_ms() {
        return Err(BearerError::Expired);
    }
    Ok(record)
}

/// Scope words of a token (`"webapi … payment"` → `["webapi", …, "payment"]`).
pub fn has_scope(record: &TokenRecord, word: &str) -> bool {
    record.scope.split_whitespace().any(|w| w == word)
}

/// Operations, card lists, the callback log and the status of any invoice need a service token:
/// one issued without an invoice or a customer, for the `webapi` scope (or `payment` alone, as
/// public clients request it). Tokens that reach the shopper's browser are not service tokens:
/// a payment or transfer token bound to an invoice, a token bound to a customer or a transfer
/// kind, and a `transfer` token (seed 002 puts one without an invoice on the page). Each reads
/// and does only what its binding names (DESIGN §5a).
pub fn require_service_token(record: &TokenRecord) -> Result<(), String> {
    if record.invoice_id.is_some() || record.account_id.is_some() || record.transfer_kind.is_some() {
        return Err("this endpoint needs a service token (requested without invoiceID), not a payment token".into());
    }
    // A token that can make transfers can reach the page (seed 002), whatever else it names.
    let service_scope = (has_scope(record, "webapi") || has_scope(record, "payment")) && !has_scope(record, "transfer");
    if !service_scope {
        return Err(format!("token scope {:?} does not allow this operation", record.scope));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer() {
        assert_eq!(bearer_token(Some("Bearer ABC")), Ok("ABC"));
        assert_eq!(bearer_token(Some("bearer  ABC ")), Ok("ABC"));
        assert_eq!(bearer_token(Some("Basic ABC")), Err(BearerError::Missing));
        assert_eq!(bearer_token(Some("Bearer")), Err(BearerError::Missing));
        assert_eq!(bearer_token(None), Err(BearerError::Missing));
    }

    #[test]
    fn only_service_tokens_serve_the_merchant() {
        let service = TokenRecord {
            token_digest: String::new(),
            merchant_id: "m".into(),
            terminal_id: None,
            scope: "webapi payment".into(),
            invoice_id: None,
            amount_minor: None,
            currency: None,
            post_link: String::new(),
            failure_post_link: String::new(),
            secret_hash: None,
            transfer_kind: None,
            account_id: None,
            expires_at: 0,
            used_at: None,
            created_at: 0,
        };
        assert!(require_service_token(&service).is_ok());
        assert!(require_service_token(&TokenRecord { scope: "payment".into(), ..service.clone() }).is_ok());
        for page_token in [
            TokenRecord { scope: "transfer".into(), ..service.clone() },
            TokenRecord { scope: "payment transfer".into(), ..service.clone() },
            TokenRecord { scope: "webapi payment transfer".into(), ..service.clone() },
            TokenRecord { invoice_id: Some("000001".into()), ..service.clone() },
            TokenRecord { account_id: Some("alice".into()), ..service.clone() },
            TokenRecord { transfer_kind: Some("aft".into()), ..service.clone() },
        ] {
            assert!(require_service_token(&page_token).is_err(), "{page_token:?}");
        }
    }
}
