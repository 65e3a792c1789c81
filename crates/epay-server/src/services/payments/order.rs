//! The order of a payment request, checked against the token it came with: read into domain
//! types in the order ePay reports refusals, so the first fault of a request is always the same.

use epay_domain::{Amount, Currency, Description, InvoiceId};
use epay_store::{Terminal, TokenRecord};

use super::command::{read, text, PaymentOrderRequest};
use super::error::{bad, PaymentError};
use crate::platform::config::Mode;
use crate::services::capability;
use crate::wire::language_code;

/// An order that passed every check; what the payment records.
#[derive(Debug)]
pub(crate) struct Order {
    pub(crate) invoice_id: InvoiceId,
    pub(crate) invoice_id_alt: String,
    pub(crate) amount: Amount,
    pub(crate) currency: Currency,
    pub(crate) description: Description,
    pub(crate) account_id: String,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) payer_name: String,
    /// ePay's `RU`, `KZ` or `EN`.
    pub(crate) language: String,
    pub(crate) post_link: String,
    pub(crate) failure_post_link: String,
    pub(crate) back_link: String,
    pub(crate) failure_back_link: String,
    pub(crate) data: String,
    pub(crate) card_save: bool,
    /// `recurrent: true` (see `PaymentOrderRequest::recurrent`).
    pub(crate) recurrent: bool,
}

impl Order {
    pub(crate) fn check(
        request: &PaymentOrderRequest,
        token: &TokenRecord,
        terminal: &Terminal,
        mode: Mode,
    ) -> Result<Order, PaymentError> {
        let invoice_id = read(&request.invoice_id)?
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| bad("field invoiceId is required"))?;
        let invoice_id = InvoiceId::parse(&invoice_id).map_err(|e| bad(format!("invoiceId: {e}")))?;
        let invoice_id_alt = text(&request.invoice_id_alt)?;
        if !invoice_id_alt.is_empty() {
            InvoiceId::parse(&invoice_id_alt).map_err(|e| bad(format!("invoiceIdAlt: {e}")))?;
        }
        let amount = read(&request.amount)?.ok_or_else(|| bad("field amount is required"))?;
        let currency = match read(&request.currency)? {
            Some(c) => c,
            None => token.currency.as_deref().unwrap_or("KZT").parse().map_err(|_| bad("currency is required"))?,
        };
        let description =
            Description::parse(&text(&request.description)?).map_err(|e| bad(format!("description: {e}")))?;
        // The customer and the callback links are the token's to fix (DESIGN §5a).
        let account_id = capability::account_id(token, &text(&request.account_id)?).map_err(bad)?;
        let (post_link, failure_post_link) = (text(&request.post_link)?, text(&request.failure_post_link)?);
        let links = capability::callback_links(token, terminal, &post_link, &failure_post_link, mode).map_err(bad)?;
        let order = Order {
            invoice_id,
            invoice_id_alt,
            amount,
            currency,
            description,
            account_id,
            email: text(&request.email)?,
            phone: text(&request.phone)?,
            payer_name: text(&request.payer_name)?,
            language: language_code(&text(&request.language)?).to_string(),
            post_link: links.post_link,
            failure_post_link: links.failure_post_link,
            back_link: text(&request.back_link)?,
            failure_back_link: text(&request.failure_back_link)?,
            data: request.data.clone(),
            card_save: read(&request.card_save)?.unwrap_or(false),
            recurrent: read(&request.recurrent)?.unwrap_or(false),
        };
        for (name, url) in [("backLink", &order.back_link), ("failureBackLink", &order.failure_back_link)] {
            crate::services::links::check_link(name, url, mode).map_err(|e| bad(format!("{name}: {e}")))?;
        }
        if order.card_save && order.account_id.trim().is_empty() {
            return Err(bad("accountId is required when cardSave is true"));
        }
        order.check_against(token, request)?;
        Ok(order)
    }

    /// A payment token serves exactly the order it was issued for (DESIGN §4).
    fn check_against(&self, token: &TokenRecord, request: &PaymentOrderRequest) -> Result<(), PaymentError> {
        let (Some(invoice), Some(amount)) = (&token.invoice_id, token.amount_minor) else {
            return Err(PaymentError::Forbidden(
                "token was not issued for an invoice: request it with invoiceID, amount, currency and terminal".into(),
            ));
        };
        if invoice != self.invoice_id.as_str() {
            return Err(bad(format!("invoiceId {} does not match the token's invoiceID {invoice}", self.invoice_id)));
        }
        if amount != self.amount.minor() {
            return Err(bad(format!(
                "amount {} does not match the token's amount {}",
                self.amount,
                Amount::from_minor(amount).unwrap_or_default()
            )));
        }
        if token.currency.as_deref() != Some(self.currency.code()) {
            return Err(bad(format!("currency {} does not match the token's currency", self.currency)));
        }
        // Another terminal in the page or body is ignored (and logged): the token's governs.
        capability::terminal_id(token, read(&request.terminal_id)?.as_deref());
        Ok(())
    }
}
