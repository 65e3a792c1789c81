//! Bearer-token authentication shared by every API surface.

use epay_domain::Scope;
use epay_store::{InvoiceBound, TokenRecord};

use crate::app::App;
use crate::platform::clock::Clock;

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

/// Who asks a service for something. Services take the caller already authenticated, never a
/// header or a token's text: each surface authenticates at its edge (the API's bearer token in
/// `http::caller`, the payment page's token from its form, the cabinet's session) and says here
/// who it found. What the caller may do is the service's rule, one place per use case.
// One caller per request, built once and passed by reference: boxing the token would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Caller {
    /// The holder of a known, unexpired access token (the API, and the payment page whose
    /// `params` carry one). What it may do is what the token is bound to (DESIGN §5a).
    Token(TokenRecord),
    /// A merchant signed in to the cabinet: acts on everything of its own.
    Cabinet { merchant_id: String },
}

impl Caller {
    /// The merchant the caller acts for.
    pub fn merchant_id(&self) -> &str {
        match self {
            Caller::Token(token) => &token.merchant_id,
            Caller::Cabinet { merchant_id } => merchant_id,
        }
    }

    /// The caller's token, when it came with one.
    pub fn token(&self) -> Option<&TokenRecord> {
        match self {
            Caller::Token(token) => Some(token),
            Caller::Cabinet { .. } => None,
        }
    }
}

/// Authenticates an access token as given (the text after `Bearer`, or the page's token).
pub async fn caller(app: &App, access_token: &str) -> Result<Caller, BearerError> {
    Ok(Caller::Token(token(app, access_token).await?))
}

/// The record of an access token as given (the text after `Bearer`, or the page's token),
/// known by its digest and unexpired.
pub async fn token(app: &App, access_token: &str) -> Result<TokenRecord, BearerError> {
    let record = known_token(app, access_token).await?;
    check_unexpired(&record, app.clock.as_ref())?;
    Ok(record)
}

/// The binding of an access token as given, expired or not: sealed by this gateway under a
/// token key it still accepts, of its merchant's current token generation (a secret rotation
/// revokes every earlier token), with when it was spent. Anything else is `Unknown`, as an
/// unknown token always was. Only the 3-D Secure confirm authenticates this way: a payment's own
/// token finishes the challenge it started however short-lived it was issued ([`token`] for
/// everything else).
pub async fn known_token(app: &App, access_token: &str) -> Result<TokenRecord, BearerError> {
    let token = access_token.trim();
    if token.is_empty() {
        return Err(BearerError::Missing);
    }
    let mut record = crate::services::tokens::open(&app.keys, token).ok_or(BearerError::Unknown)?;
    let storage = |e: epay_store::StoreError| {
        tracing::error!(error = %e, "token lookup failed");
        BearerError::Storage
    };
    // A read of the merchant (cached where the store caches merchants): a deleted merchant's,
    // or an older generation's token is refused.
    let merchant = app.store.merchant(&record.merchant_id).await.map_err(storage)?;
    if merchant.is_none_or(|m| m.token_generation != record.generation) {
        return Err(BearerError::Unknown);
    }
    if may_be_spent(&record) {
        record.used_at = app.store.token_spent_at(&record.token_digest).await.map_err(storage)?;
    }
    Ok(record)
}

/// Whether a token can ever have been spent, so that reading `spent_tokens` for it can answer
/// anything but "not spent". A token is spent only by an attempt it makes (a payment, the
/// cryptogram limit of a payment, a transfer), and only a token bound to an invoice pays
/// (`payments::order`, checked before any spend) and only one with the `transfer` scope
/// transfers (`transfers::order::check_token`). Every other token (the service tokens that
/// read statuses and move payments' money) skips the read: one round trip fewer per request.
pub fn may_be_spent(record: &TokenRecord) -> bool {
    record.invoice_id.is_some() || has_scope(record, Scope::Transfer)
}

/// A token works until its `expires_at` (exclusive) by the gateway clock, so a sandbox that moves
/// the clock past it sees it expire.
pub fn check_unexpired(record: &TokenRecord, clock: &dyn Clock) -> Result<(), BearerError> {
    if record.expires_at <= clock.now_ms() {
        return Err(BearerError::Expired);
    }
    Ok(())
}

/// Whether a token's scope (`"webapi … payment"`) names `scope`.
pub fn has_scope(record: &TokenRecord, scope: Scope) -> bool {
    scope.is_in(&record.scope)
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
    let service_scope =
        (has_scope(record, Scope::Webapi) || has_scope(record, Scope::Payment)) && !has_scope(record, Scope::Transfer);
    if !service_scope {
        return Err(format!("token scope {:?} does not allow this operation", record.scope));
    }
    Ok(())
}

/// What a token lets its holder do with charge, cancel and refund (docs/compatibility.md 45).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationGrant {
    /// A service token: any payment of its merchant (of its terminal, when it names one).
    Service,
    /// A payment token bound to one invoice, as public clients use it: only that invoice's
    /// payment on the token's terminal, and only when the token was issued after the payment was
    /// decided, so it cannot be the page's token. The store checks that against the payment in
    /// the operation's transaction.
    Invoice(InvoiceBound),
}

/// The page's token is in the shopper's hands: a token that may have been there must never move
/// the payment's money (a shopper could refund, cancel, or charge 1 of an AUTH of 1000). What can
/// be told from the token alone is told here; the issue time against the payment's decision is
/// the store's check ([`OperationGrant::Invoice`]).
pub fn operation_grant(record: &TokenRecord) -> Result<OperationGrant, String> {
    let service = require_service_token(record);
    let Some(invoice_id) = &record.invoice_id else {
        return service.map(|()| OperationGrant::Service);
    };
    // A transfer token moves money card to card; it never serves a payment's operations.
    let payment_scope =
        (has_scope(record, Scope::Webapi) || has_scope(record, Scope::Payment)) && !has_scope(record, Scope::Transfer);
    if !payment_scope || record.transfer_kind.is_some() {
        return Err(format!(
            "token scope {:?} does not allow this operation: it needs a service token, or a payment token for the \
             invoice requested after it was paid",
            record.scope
        ));
    }
    if record.terminal_id.is_none() {
        return Err("a token bound to an invoice must name its terminal to operate on the payment".into());
    }
    if record.used_at.is_some() {
        return Err(NOT_A_PAGE_TOKEN.into());
    }
    // `accountId` only narrows which saved cards a token may use; it neither widens nor narrows
    // what the token may do with its invoice's payment.
    Ok(OperationGrant::Invoice(InvoiceBound { invoice_id: invoice_id.clone(), issued_at: record.created_at }))
}

/// Why an invoice-bound token was refused an operation: another invoice's, terminal's or
/// merchant's payment (or none), or a token issued before the payment was made. One message for
/// all, so the token learns nothing about payments it may not touch (at most 256 characters: error
/// messages are capped there).
pub const NOT_THIS_INVOICE_TOKEN: &str =
    "a token bound to an invoice may charge, cancel or refund only that invoice's \
     payment, and only if issued after it was paid (never the page's token): request a new token for the invoice, or \
     use a service token";

/// Why the token that paid (the page's) was refused an operation on its own payment.
pub const NOT_A_PAGE_TOKEN: &str = "the token the payment was made with, or any token issued before, may not charge, \
     cancel or refund it: request a new token for the invoice, or use a service token (requested without invoiceID)";

#[cfg(test)]
mod tests {
    use super::*;
    use epay_domain::TransferKind;

    /// A service token of merchant `m`: no terminal, invoice, customer or kind; the tests vary it.
    fn service_token() -> TokenRecord {
        crate::testing::bare_token()
    }

    #[test]
    fn a_token_expires_at_its_expiry_by_the_gateway_clock() {
        use crate::platform::clock::FixedClock;
        let expires_at = 1_795_000_000_000;
        let token =
            TokenRecord { scope: "webapi".into(), expires_at, created_at: expires_at - 7_200_000, ..service_token() };
        assert_eq!(check_unexpired(&token, &FixedClock(token.created_at)), Ok(()));
        assert_eq!(check_unexpired(&token, &FixedClock(expires_at - 1)), Ok(()));
        assert_eq!(check_unexpired(&token, &FixedClock(expires_at)), Err(BearerError::Expired));
        assert_eq!(check_unexpired(&token, &FixedClock(expires_at + 86_400_000)), Err(BearerError::Expired));
    }

    #[test]
    fn only_service_tokens_serve_the_merchant() {
        let service = service_token();
        assert!(require_service_token(&service).is_ok());
        assert!(require_service_token(&TokenRecord { scope: "payment".into(), ..service.clone() }).is_ok());
        for page_token in [
            TokenRecord { scope: "transfer".into(), ..service.clone() },
            TokenRecord { scope: "payment transfer".into(), ..service.clone() },
            TokenRecord { scope: "webapi payment transfer".into(), ..service.clone() },
            TokenRecord { invoice_id: Some("000001".into()), ..service.clone() },
            TokenRecord { account_id: Some("alice".into()), ..service.clone() },
            TokenRecord { transfer_kind: Some(TransferKind::Aft), ..service.clone() },
        ] {
            assert!(require_service_token(&page_token).is_err(), "{page_token:?}");
        }
    }

    #[test]
    fn an_invoice_token_operates_only_on_its_invoice_unless_spent_or_a_transfer_token() {
        let fresh = TokenRecord {
            terminal_id: Some("t".into()),
            scope: "payment".into(),
            invoice_id: Some("000001".into()),
            amount_minor: Some(100),
            currency: Some("KZT".into()),
            created_at: 42,
            ..service_token()
        };
        let bound = OperationGrant::Invoice(InvoiceBound { invoice_id: "000001".into(), issued_at: 42 });
        assert_eq!(operation_grant(&fresh), Ok(bound.clone()));
        assert_eq!(operation_grant(&TokenRecord { account_id: Some("alice".into()), ..fresh.clone() }), Ok(bound));
        assert_eq!(
            operation_grant(&TokenRecord { invoice_id: None, amount_minor: None, ..fresh.clone() }),
            Ok(OperationGrant::Service)
        );
        for refused in [
            TokenRecord { used_at: Some(41), ..fresh.clone() },
            TokenRecord { scope: "transfer".into(), ..fresh.clone() },
            TokenRecord { scope: "payment transfer".into(), ..fresh.clone() },
            TokenRecord { scope: "usermanagement".into(), ..fresh.clone() },
            TokenRecord { transfer_kind: Some(TransferKind::Aft), ..fresh.clone() },
            TokenRecord { terminal_id: None, ..fresh.clone() },
            TokenRecord { invoice_id: None, account_id: Some("alice".into()), ..fresh.clone() },
        ] {
            assert!(operation_grant(&refused).is_err(), "{refused:?}");
        }
    }
}
