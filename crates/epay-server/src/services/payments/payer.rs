//! Who may pay: a token with the payment scope, not yet spent, and its terminal.

use epay_domain::Scope;
use epay_store::{Terminal, TokenRecord};

use super::error::{bad, internal, PaymentError, TOKEN_USED};
use crate::app::App;
use crate::services::auth::{has_scope, BearerError, Caller};
use crate::wire::echoed;

/// A caller that may pay, and its terminal. The API and the page find it first, before they read
/// the order, so a token that cannot pay is refused as such whatever its request holds.
#[derive(Debug, Clone)]
pub struct Payer {
    pub(crate) token: TokenRecord,
    pub(crate) terminal: Terminal,
}

/// The payer a caller is, or why it may not pay.
pub async fn payer(app: &App, caller: &Caller) -> Result<Payer, PaymentError> {
    let Some(token) = caller.token() else {
        return Err(PaymentError::Unauthorized(BearerError::Missing.to_string()));
    };
    if !has_scope(token, Scope::Payment) {
        return Err(PaymentError::Forbidden(format!("token scope {:?} does not allow payments", token.scope)));
    }
    if token.used_at.is_some() {
        return Err(PaymentError::Unauthorized(TOKEN_USED.into()));
    }
    // A token minted by an invoice link pays only while its link is active.
    crate::services::invoices::check_link_token(app, token).await.map_err(PaymentError::Forbidden)?;
    let terminal_id =
        token.terminal_id.clone().ok_or_else(|| PaymentError::Forbidden("token has no terminal".into()))?;
    let terminal = app
        .store
        .terminal(&terminal_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| bad(format!("terminal {} not found", echoed(&terminal_id))))?;
    Ok(Payer { token: token.clone(), terminal })
}
