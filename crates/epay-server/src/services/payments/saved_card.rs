//! Paying with a saved card (`/payments/cards/auth`, seed 003; and the payment page's list of
//! the customer's cards, `page`).

use epay_domain::Pan;
use epay_store::{SavedCard, TokenRecord, TokenSpend};

use super::command::{read, text, PayWithSavedCard};
use super::error::{bad, internal, PaymentError};
use super::execute::{execute, CardSource};
use super::order::Order;
use super::payer::Payer;
use crate::app::App;
use crate::wire::{echoed, PaymentAnswer};

/// The answer to a request that names no card.
const CARD_ID_REQUIRED: &str =
    "field cardId is required: {\"cardId\":{\"id\":\"<cardID>\"}} or {\"cardId\":\"<cardID>\"}";

pub async fn pay_with_saved_card(
    app: &App,
    payer: Payer,
    command: PayWithSavedCard,
) -> Result<PaymentAnswer, PaymentError> {
    let Payer { token, terminal } = payer;
    let order = Order::check(&command.order, &token, &terminal, app.config.mode)?;
    let payment_type = text(&command.payment_type)?;
    if !payment_type.is_empty() && payment_type != "cardId" {
        return Err(bad(format!("paymentType {payment_type:?} is not supported here; use \"cardId\"")));
    }
    if order.amount.is_zero() {
        return Err(bad("amount must be greater than 0"));
    }
    let card_id = read(&command.card_id)?.filter(|id| !id.trim().is_empty()).ok_or_else(|| bad(CARD_ID_REQUIRED))?;
    let (card, pan) = usable_card(app, &token, &order, &card_id).await?;
    let order = Order { card_save: false, ..order };
    let source = CardSource::Saved { card: Box::new(card), pan };
    execute(app, token, terminal, order, source, &command.acs_url, TokenSpend::Always).await
}

/// The saved card `card_id` if `order` may pay with it, and its number, opened from the vault.
/// Every refusal writes nothing.
pub(super) async fn usable_card(
    app: &App,
    token: &TokenRecord,
    order: &Order,
    card_id: &str,
) -> Result<(SavedCard, Pan), PaymentError> {
    // A saved card pays only for the customer it was saved for: the request names them (and the
    // token too, when it binds one: Order::check refuses another), so a card id alone is not
    // enough to spend someone's card.
    if order.account_id.is_empty() {
        return Err(bad("accountId is required to pay with a saved card"));
    }
    let card = app
        .store
        .saved_card(&token.merchant_id, card_id.trim())
        .await
        .map_err(internal)?
        .filter(|c| c.account_id == order.account_id)
        .ok_or_else(|| bad(format!("card {} not found", echoed(card_id))))?;
    if !card.active {
        return Err(bad(format!("card {} is deactivated", echoed(card_id))));
    }
    if !card.payable {
        return Err(bad(format!(
            "card {card_id} was saved as a transfer's receiver and can only receive; pay with the card's details once to save it for paying"
        )));
    }
    // A merchant-initiated repeat needs the holder's agreement, given when the card was saved
    // with `recurrent: true` (docs/api.md "Recurrent payments and subscriptions").
    if order.recurrent && !app.store.recurrent_agreed(&token.merchant_id, &card.id).await.map_err(internal)? {
        return Err(bad(format!(
            "card {} has no recurrent agreement: a recurrent payment needs a card saved in a payment with \
             cardSave: true and recurrent: true",
            echoed(card_id)
        )));
    }
    let pan = app.open_pan(&card.pan_ciphertext).await.ok_or_else(|| {
        tracing::error!(card_id = %card.id, "saved card cannot be decrypted with the vault key");
        PaymentError::Internal
    })?;
    Ok((card, pan))
}
