//! Saved cards: the list per customer (facts §10.2) and deactivation (facts §10.3).

use epay_store::StoreError;
use serde::Serialize;

use crate::app::App;
use crate::clock::{epay_datetime, year_month};
use crate::services::auth::authenticate;
use crate::services::payments::PaymentError;

/// One card of `GET /cards/:accountId`, with ePay's PascalCase keys.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CardListEntry {
    #[serde(rename = "ID")]
    pub id: String,
    pub transaction_id: String,
    #[serde(rename = "MerchantID")]
    pub merchant_id: String,
    pub card_hash: String,
    pub card_mask: String,
    pub payer_name: String,
    pub reference: String,
    pub int_reference: String,
    pub token: String,
    pub terminal: String,
    pub created_date: String,
    pub payment_available: bool,
    #[serde(rename = "AccountID")]
    pub account_id: String,
}

/// The list shows the first 4 digits, not 6 (`4405...2283`, facts §10.2).
fn list_mask(mask: &str) -> String {
    match mask.split_once("...") {
        Some((head, tail)) => format!("{}...{tail}", &head[..head.len().min(4)]),
        None => mask.to_string(),
    }
}

fn internal(e: StoreError) -> PaymentError {
    tracing::error!(error = %e, "card storage failed");
    PaymentError::Internal
}

pub async fn list(app: &App, auth_header: Option<&str>, account_id: &str) -> Result<Vec<CardListEntry>, PaymentError> {
    let token = authenticate(app, auth_header).await?;
    crate::services::auth::require_service_token(&token).map_err(PaymentError::Forbidden)?;
    let cards = app.store.saved_cards(&token.merchant_id, account_id).await.map_err(internal)?;
    Ok(entries(app, cards).await)
}

/// The merchant's active saved cards as the card list shows them (masked, first 4 and last 4);
/// one customer's when `account_id` is not empty. For the cabinet.
pub async fn list_for_merchant(
    app: &App,
    merchant_id: &str,
    account_id: &str,
    limit: i64,
) -> Result<Vec<CardListEntry>, PaymentError> {
    let cards = app.store.merchant_saved_cards(merchant_id, account_id.trim(), limit).await.map_err(internal)?;
    Ok(entries(app, cards).await)
}

async fn entries(app: &App, cards: Vec<epay_store::SavedCard>) -> Vec<CardListEntry> {
    let today = year_month(app.clock.now_ms());
    let mut out = Vec::with_capacity(cards.len());
    for c in cards {
        let expired = expired(app, &c, today).await;
        out.push(CardListEntry {
            id: c.id,
            transaction_id: c.transaction_id,
            merchant_id: c.merchant_id,
            card_hash: c.pan_fingerprint,
            card_mask: list_mask(&c.card_mask),
            payer_name: c.payer_name,
            reference: c.reference,
            int_reference: c.int_reference,
            token: c.card_token,
            terminal: c.terminal_pos_id,
            created_date: epay_datetime(c.created_at),
            // A receive-only card (saved as a transfer's receiver) cannot pay.
            payment_available: c.payable && !expired,
            account_id: c.account_id,
        });
    }
    out
}

/// Whether a saved card is past its expiry. A date still to come answers at once; a past one is
/// the card network's to judge (a published sandbox test card, seed 001's 01/25, never expires
/// and still pays), so only then is the card number opened.
async fn expired(app: &App, card: &epay_store::SavedCard, today: (i32, u8)) -> bool {
    let Ok(expiry) = epay_domain::Expiry::parse(&card.expiry_mmyy) else {
        return true;
    };
    if !expiry.is_expired_at(today.0, today.1) {
        return false;
    }
    match app.open_pan(&card.pan_ciphertext).await {
        Some(pan) => app.network.is_expired(&pan, expiry, today),
        None => true,
    }
}

pub async fn deactivate(app: &App, auth_header: Option<&str>, card_id: &str) -> Result<(), PaymentError> {
    let token = authenticate(app, auth_header).await?;
    crate::services::auth::require_service_token(&token).map_err(PaymentError::Forbidden)?;
    deactivate_for_merchant(app, &token.merchant_id, card_id).await
}

/// Deactivates one of `merchant_id`'s saved cards; another merchant's card is "not found".
pub async fn deactivate_for_merchant(app: &App, merchant_id: &str, card_id: &str) -> Result<(), PaymentError> {
    if app.store.deactivate_card(merchant_id, card_id).await.map_err(internal)? {
        tracing::info!(card_id, "saved card deactivated");
        Ok(())
    } else {
        Err(PaymentError::BadRequest(format!("card {card_id} not found or already deactivated")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_mask_keeps_four_digits() {
        assert_eq!(super::list_mask("440563...5096"), "4405...5096");
    }
}
