//! The hosted payment page's two steps: show the order, then pay it with the card the shopper
//! typed. The same checks and the same transaction as the API.

use epay_domain::{Amount, Currency, InvoiceAttempts};
use epay_store::{StoreError, TokenSpend};

use super::command::{PagePayment, PaymentOrderRequest};
use super::error::{attempt_refused, internal, PaymentError};
use super::execute::{execute, CardSource};
use super::order::Order;
use super::payer::Payer;
use crate::app::App;
use crate::services::attempts;
use crate::wire::PaymentAnswer;

/// What the payment page shows about an order, once its token and fields check out.
#[derive(Debug, Clone)]
pub struct PageOrder {
    pub merchant_name: String,
    pub description: String,
    pub amount: Amount,
    pub currency: Currency,
    pub card_save: bool,
    pub back_link: String,
    pub failure_back_link: String,
    pub payer_name: String,
    /// The invoice's attempts so far, for "attempts left" (docs/compatibility.md §48).
    pub attempts: InvoiceAttempts,
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
    Ok(PageOrder {
        attempts,
        merchant_name: merchant.map(|m| m.name).unwrap_or_default(),
        description: order.description.as_str().to_string(),
        amount: order.amount,
        currency: order.currency,
        card_save: order.card_save,
        back_link: order.back_link,
        failure_back_link: order.failure_back_link,
        payer_name: order.payer_name,
    })
}

/// Pays from the payment page, with the card typed by the shopper instead of a cryptogram. A
/// declined attempt leaves the page's token usable, so the shopper can try again on the same
/// page (docs/compatibility.md §48).
pub async fn pay_from_page(app: &App, payer: Payer, command: PagePayment) -> Result<PaymentAnswer, PaymentError> {
    let Payer { token, terminal } = payer;
    let order = Order::check(&command.order, &token, &terminal, app.config.mode)?;
    let source = CardSource::Entered(command.card);
    execute(app, token, terminal, order, source, &command.acs_url, TokenSpend::UnlessDeclined).await
}
