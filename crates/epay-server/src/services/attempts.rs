//! Attempts at one invoice (docs/compatibility.md §48). A declined attempt leaves its invoice,
//! and its token, free for another attempt, up to the terminal's `max_attempts`; the store
//! numbers attempts and keeps the rules inside each attempt's transaction. Here: what its
//! refusals mean for a client, and where an invoice stands (for the payment page).

use epay_domain::{InvoiceAttempts, ReasonCode};
use epay_store::{StoreError, Terminal};

use crate::app::App;

/// A store refusal of a new attempt, as the payment and transfer surfaces answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Another attempt holds the invoice (approved, waiting for 3-D Secure, or recorded at the
    /// same moment): 409, as a duplicate invoice always was.
    Held(String),
    /// Every attempt the terminal allows was declined: ePay's reason 2740, final.
    Exhausted(String),
}

/// The refusal `e` is, if it is one; `field` names the invoice as the surface calls it
/// (`invoiceId`, `order id`).
pub fn refused(e: &StoreError, field: &str, invoice: &str) -> Option<Refused> {
    Some(match e {
        StoreError::DuplicateInvoice => {
            Refused::Held(format!("a transaction with {field} {invoice} already exists on this terminal"))
        }
        StoreError::ChallengeOpen => Refused::Held(format!(
            "a 3-D Secure challenge for {field} {invoice} is still open: finish it, or try again once it has ended"
        )),
        StoreError::ConcurrentAttempt => Refused::Held(format!(
            "another attempt at {field} {invoice} was recorded at the same moment: check its status before trying again"
        )),
        StoreError::AttemptsExhausted { attempts } => Refused::Exhausted(format!(
            "{}: {field} {invoice} was declined {attempts} times, as many attempts as its terminal allows",
            ReasonCode::TOO_MANY_ATTEMPTS.message
        )),
        _ => return None,
    })
}

/// Where one of the merchant's invoices on `terminal` stands.
pub async fn of_invoice(
    app: &App,
    merchant_id: &str,
    terminal: &Terminal,
    invoice: &str,
) -> Result<InvoiceAttempts, StoreError> {
    let attempts = app.store.invoice_attempts(merchant_id, &terminal.id, invoice).await?;
    let statuses = attempts.iter().map(|p| p.status);
    Ok(InvoiceAttempts::of(statuses, terminal.max_attempts.get()))
}

/// Where the invoice of one of the merchant's recorded attempts stands (after a decline).
pub async fn after(app: &App, merchant_id: &str, payment_id: &str) -> Result<Option<InvoiceAttempts>, StoreError> {
    let Some(payment) = app.store.payment(merchant_id, payment_id).await? else { return Ok(None) };
    let Some(terminal) = app.store.terminal(&payment.terminal_id).await? else { return Ok(None) };
    of_invoice(app, merchant_id, &terminal, &payment.invoice_id).await.map(Some)
}
