//! The hosted payment page's two steps: show the order, then pay it with the card the shopper
//! typed or chose from their saved cards. The same checks and the same transaction as the API.

use epay_domain::{Amount, CardBrand, Currency, InvoiceAttempts};
use epay_store::{StoreError, TokenRecord, TokenSpend};

use super::command::{PageCard, PagePayment, PaymentOrderRequest};
use super::error::{attempt_refused, bad, internal, PaymentError};
use super::execute::{execute, CardSource};
use super::order::Order;
use super::payer::Payer;
use super::saved_card::usable_card;
use crate::app::App;
use crate::services::attempts;
use crate::wire::PaymentAnswer;

/// The refusal of a saved card posted with a token that names no customer.
pub const SAVED_CARDS_NEED_ACCOUNT: &str = "saved cards need a token requested with the customer's accountId";

/// What the payment page shows about an order, once its token and fields check out.
#[derive(Debug, Clone)]
pub struct PageOrder {
    pub merchant_name: String,
    pub description: String,
    pub amount: Amount,
    pub currency: Currency,
    /// The page's `cardSave`: the merchant's page asks to save the card.
    pub card_save: bool,
    /// The form offers "save this card" ([`offers_saving`]).
    pub save_offered: bool,
    /// The saved cards of the token's customer that may pay, oldest first; none when the token
    /// names no customer, or for a verification (which is made to save a new card).
    pub saved_cards: Vec<OfferedCard>,
    pub back_link: String,
    pub failure_back_link: String,
    pub payer_name: String,
    /// The invoice's attempts so far, for "attempts left" (docs/compatibility.md §48).
    pub attempts: InvoiceAttempts,
}

/// A saved card as the page lists it: its id, mask and brand (its number never reaches the page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedCard {
    pub id: String,
    pub mask: String,
    pub brand: CardBrand,
}

/// Checks a payment page's token and order exactly as the API would, without writing anything.
/// An invoice whose attempts are all used and declined is refused (2740).
pub async fn check_page_order(
    app: &App,
    payer: &Payer,
    request: &PaymentOrderRequest,
) -> Result<PageOrder, PaymentError> {
    let Payer { token, terminal } = payer;
    let order = Order::check(request, token, terminal, app.config.mode)?;
    let merchant = app.store.merchant(&token.merchant_id).await.map_err(internal)?;
    let attempts =
        attempts::of_invoice(app, &token.merchant_id, terminal, order.invoice_id.as_str()).await.map_err(internal)?;
    if attempts.exhausted() {
        let e = StoreError::AttemptsExhausted { attempts: attempts.used };
        return Err(attempt_refused(e, order.invoice_id.as_str()));
    }
    let save_offered = offers_saving(token, order.amount);
    Ok(PageOrder {
        attempts,
        merchant_name: merchant.map(|m| m.name).unwrap_or_default(),
        description: order.description.as_str().to_string(),
        amount: order.amount,
        currency: order.currency,
        card_save: order.card_save,
        save_offered,
        saved_cards: if save_offered { offered_cards(app, token).await? } else { Vec::new() },
        back_link: order.back_link,
        failure_back_link: order.failure_back_link,
        payer_name: order.payer_name,
    })
}

/// Whether the card form offers "save this card" and the customer's saved cards: only when the
/// merchant named the customer in the token request (DESIGN §5a: an `accountId` in the page's
/// params is the shopper's to write, so it never lists or spends cards), and only for a payment
/// (a verification, amount 0, is made to save a new card).
///
/// A token minted by an invoice link never does: the link is a bearer address sent by e-mail or
/// SMS and forwarded, a capability to pay one invoice, not to see or spend its customer's cards.
fn offers_saving(token: &TokenRecord, amount: Amount) -> bool {
    token.account_id.is_some() && !amount.is_zero() && !token.minted_by_link()
}

/// The token's customer's active saved cards that may pay (a receive-only card is never offered).
async fn offered_cards(app: &App, token: &TokenRecord) -> Result<Vec<OfferedCard>, PaymentError> {
    let Some(account_id) = token.account_id.as_deref() else { return Ok(Vec::new()) };
    let cards = app.store.saved_cards(&token.merchant_id, account_id).await.map_err(internal)?;
    Ok(cards
        .into_iter()
        .filter(|card| card.payable)
        .map(|card| OfferedCard { brand: CardBrand::from_word(&card.card_brand), id: card.id, mask: card.card_mask })
        .collect())
}

/// Whether a card typed on the page is saved for the order's customer. Where the form offers the
/// box ([`offers_saving`]), the shopper's tick decides (the form shows it ticked when the
/// merchant's page sent `cardSave: true`). Elsewhere a posted tick is ignored and the page's
/// `cardSave` decides, as before the box existed (docs/compatibility.md §44, §67): a
/// verification needs it, and a token without a customer saves the shopper's card only for the
/// `accountId` the page names, where no page lists or spends it.
fn saves_typed_card(token: &TokenRecord, order: &Order, ticked: bool) -> bool {
    if offers_saving(token, order.amount) {
        ticked
    } else {
        order.card_save
    }
}

/// Pays from the payment page, with the card typed by the shopper (instead of a cryptogram) or
/// one of the customer's saved cards (as `/payments/cards/auth` does: the same checks of whose
/// card it is, the same 3-D Secure rules). A declined attempt leaves the page's token usable, so
/// the shopper can try again on the same page (docs/compatibility.md §48); a refused card writes
/// nothing and leaves it usable too.
pub async fn pay_from_page(app: &App, payer: Payer, command: PagePayment) -> Result<PaymentAnswer, PaymentError> {
    let Payer { token, terminal } = payer;
    let order = Order::check(&command.order, &token, &terminal, app.config.mode)?;
    let (order, source) = match command.card {
        PageCard::Entered { card, save } => {
            let card_save = saves_typed_card(&token, &order, save);
            (Order { card_save, ..order }, CardSource::Entered(card))
        }
        PageCard::Saved { card_id } => {
            if !offers_saving(&token, order.amount) {
                return Err(bad(SAVED_CARDS_NEED_ACCOUNT));
            }
            // The shopper is at the page: a cardholder-initiated payment, challenged as the
            // terminal asks. The page's `recurrent` (the shopper's to write) never makes it a
            // merchant-initiated repeat, which 3-D Secure would not challenge.
            let order = Order { card_save: false, recurrent: false, ..order };
            let (card, pan) = usable_card(app, &token, &order, &card_id).await?;
            (order, CardSource::Saved { card: Box::new(card), pan })
        }
    };
    execute(app, token, terminal, order, source, &command.acs_url, TokenSpend::UnlessDeclined).await
}
