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

/// Operations, card lists and the callback log need a service token: one issued without an
/// invoice. A one-shot payment or transfer token (bound to an invoice) may not refund, cancel
/// or read other payments.
pub fn require_service_token(record: &TokenRecord) -> Result<(), String> {
    if record.invoice_id.is_some() {
        return Err("this endpoint needs a service token (requested without invoiceID), not a payment token".into());
    }
    if !has_scope(record, "webapi") && !has_scope(record, "payment") {
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
}
