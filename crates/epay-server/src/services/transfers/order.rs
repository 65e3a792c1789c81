//! The order of a transfer, checked against its token and terminal: which kind the token allows,
//! which terminal it runs on, and the order's own fields (id, amount, currency, links).

use epay_domain::{Amount, Currency, Description, InvoiceId, Scope, TransferKind};
use epay_store::{Terminal, TokenRecord};

use super::command::OrderRequest;
use super::error::{internal, Refusal, TransferError};
use crate::app::App;
use crate::platform::config::Mode;
use crate::services::auth::Caller;
use crate::services::capability;
use crate::wire::echoed;

/// A transfer kind as ePay's lenient fields write it: `p2p`, `aft` or `oct`, in any case.
pub fn kind_named(text: &str) -> Option<TransferKind> {
    text.trim().to_ascii_lowercase().parse().ok()
}

/// Which kind a transfer token may make: the one it was issued for, or P2P when the token
/// request named none. P2P moves only the shopper's own money; an AFT (paying the merchant) or a
/// payout (the merchant's money to a card) happens only when the merchant asked for it
/// server-side, in the token request (DESIGN §5a).
pub fn allowed_kind(token: &TokenRecord) -> TransferKind {
    token.transfer_kind.unwrap_or(TransferKind::P2p)
}

/// A transfer token makes only the kind of transfer it was issued for ([`allowed_kind`]).
pub fn check_kind(token: &TokenRecord, kind: TransferKind) -> Result<(), TransferError> {
    let allowed = allowed_kind(token);
    if kind == allowed {
        return Ok(());
    }
    let how = if token.transfer_kind.is_some() {
        format!("this token was issued for {} transfers only", allowed.as_str().to_ascii_uppercase())
    } else {
        "a token requested without transferKind makes P2P transfers only".to_string()
    };
    Err(Refusal::Forbidden(format!(
        "{how}; request a token with transferKind={} for this {} transfer",
        kind.as_str(),
        kind.as_str()
    ))
    .into())
}

/// The token of a transfer's caller: transfers are made with a transfer token only (a cabinet
/// merchant makes none).
pub fn caller_token(caller: Caller) -> Result<TokenRecord, TransferError> {
    match caller {
        Caller::Token(token) => Ok(token),
        Caller::Cabinet { .. } => Err(Refusal::Forbidden("transfers are made with a transfer token".into()).into()),
    }
}

/// The checks every transfer token passes first: its scope allows transfers, it is unspent, and
/// it allows this kind.
pub fn check_token(token: &TokenRecord, kind: TransferKind) -> Result<(), TransferError> {
    if !crate::services::auth::has_scope(token, Scope::Transfer) {
        return Err(Refusal::Forbidden(format!("token scope {:?} does not allow transfers", token.scope)).into());
    }
    if token.used_at.is_some() {
        return Err(Refusal::Unauthorized("token has already been used; request a new token".into()).into());
    }
    check_kind(token, kind)
}

/// The terminal of a transfer: the token's (another `terminalId` in the order is ignored, as
/// seeds 000 and 001 need), or for a token issued without one the order's; either way it must be
/// the merchant's.
pub(super) async fn transfer_terminal(
    app: &App,
    token: &TokenRecord,
    order: &OrderRequest,
) -> Result<Terminal, TransferError> {
    let id = capability::terminal_id(token, order.terminal_id.as_deref())
        .ok_or_else(|| TransferError::bad("order.terminalId is required when the token has no terminal"))?;
    app.store
        .terminal(&id)
        .await
        .map_err(internal)?
        .filter(|t| t.merchant_id == token.merchant_id)
        .ok_or_else(|| TransferError::bad(format!("terminal {} not found", echoed(&id))))
}

/// The order of a transfer once checked.
pub struct Order {
    pub invoice: InvoiceId,
    pub amount: Amount,
    pub currency: Currency,
    pub description: Description,
    pub email: String,
    pub post_link: String,
    pub failure_post_link: String,
    pub back_link: String,
    pub failure_back_link: String,
}

/// Checks `order` against its token and terminal, in the order ePay reports faults.
pub fn check_order(
    mode: Mode,
    f: &OrderRequest,
    token: &TokenRecord,
    terminal: &Terminal,
) -> Result<Order, TransferError> {
    let id =
        f.id.as_deref().filter(|id| !id.trim().is_empty()).ok_or_else(|| TransferError::bad("field id is required"))?;
    let invoice = InvoiceId::parse_transfer_order(id).map_err(|e| TransferError::bad(format!("order.id: {e}")))?;
    let amount = f.amount().map_err(TransferError::bad)?;
    if amount.is_zero() {
        return Err(TransferError::bad("order.amount must be greater than 0"));
    }
    let currency = f.currency().map_err(TransferError::bad)?;
    let description =
        Description::parse(&f.description).map_err(|e| TransferError::bad(format!("order.description: {e}")))?;
    // A token issued for an order serves exactly that order (DESIGN §4).
    if let Some(bound) = &token.invoice_id {
        if bound != invoice.as_str() {
            return Err(TransferError::bad(format!("order.id {invoice} does not match the token's invoiceID {bound}")));
        }
    }
    if let Some(bound) = token.amount_minor {
        if bound != amount.minor() {
            return Err(TransferError::bad(format!("order.amount {amount} does not match the token's amount")));
        }
    }
    if let Some(bound) = token.currency.as_deref().filter(|_| token.invoice_id.is_some()) {
        if bound != currency.code() {
            return Err(TransferError::bad(format!("order.currency {currency} does not match the token's currency")));
        }
    }
    let links = capability::callback_links(token, terminal, &f.post_link, &f.failure_post_link, mode)
        .map_err(|e| TransferError::bad(format!("order.{e}")))?;
    let order = Order {
        invoice,
        amount,
        currency,
        description,
        email: f.email.clone(),
        post_link: links.post_link,
        failure_post_link: links.failure_post_link,
        back_link: f.back_link.clone(),
        failure_back_link: f.failure_back_link.clone(),
    };
    for (name, url) in [("backLink", &order.back_link), ("failureBackLink", &order.failure_back_link)] {
        crate::services::links::check_link(name, url, mode)
            .map_err(|e| TransferError::bad(format!("order.{name}: {e}")))?;
    }
    Ok(order)
}
