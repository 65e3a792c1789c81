//! Saved cards: the list per customer (facts §10.2) and deactivation (facts §10.3).

use epay_store::StoreError;
use serde::Serialize;

use crate::app::App;
use crate::platform::clock::{epay_datetime, year_month};
use crate::services::auth::{require_service_token, Caller};
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

/// `GET /cards/:accountId`, and the cabinet's card list.
#[derive(Debug, Clone)]
pub struct ListCards {
    /// The customer whose cards are listed. The cabinet may leave it empty: all its merchant's.
    pub account_id: String,
}

/// `POST /card/deactivate/:cardID`, and the cabinet's deactivation.
#[derive(Debug, Clone)]
pub struct DeactivateCard {
    pub card_id: String,
}

/// The cabinet shows at most this many cards.
const CABINET_LIST_LIMIT: i64 = 500;

/// Saved cards as the list shows them (masked, first 4 and last 4): one customer's for a service
/// token; for the cabinet, its merchant's (one customer's when named), at most 500.
pub async fn list(app: &App, caller: &Caller, query: ListCards) -> Result<Vec<CardListEntry>, PaymentError> {
    let cards = match caller {
        Caller::Token(token) => {
            require_service_token(token).map_err(PaymentError::Forbidden)?;
            app.store.saved_cards(&token.merchant_id, &query.account_id).await
        }
        Caller::Cabinet { merchant_id } => {
            app.store.merchant_saved_cards(merchant_id, query.account_id.trim(), CABINET_LIST_LIMIT).await
        }
    }
    .map_err(internal)?;
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

/// Deactivates one of the caller's merchant's saved cards (a service token, or the cabinet);
/// another merchant's card is "not found".
pub async fn deactivate(app: &App, caller: &Caller, command: DeactivateCard) -> Result<(), PaymentError> {
    if let Caller::Token(token) = caller {
        require_service_token(token).map_err(PaymentError::Forbidden)?;
    }
    let card_id = command.card_id.as_str();
    if app.store.deactivate_card(caller.merchant_id(), card_id).await.map_err(internal)? {
        tracing::info!(card_id, "saved card deactivated");
        // Its subscriptions end with it (the scheduler also stops any it meets later).
        let stopped = app
            .store
            .stop_card_subscriptions(caller.merchant_id(), card_id, app.clock.now_ms())
            .await
            .map_err(internal)?;
        if stopped > 0 {
            tracing::info!(card_id, stopped, "subscriptions of a deactivated card stopped");
        }
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
