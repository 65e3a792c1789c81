//! A payment's receipt: what the result page shows once a payment or transfer went through, and
//! the e-mail copy the shopper may ask for from that page (docs/security.md, "Receipts").
//!
//! Everything a receipt says comes from the gateway's record of the payment, read again here;
//! nothing the browser sends is shown or used. The page carries a [ticket](Receipt::ticket), the
//! gateway's MAC on the payment it names, so the page's "send the receipt" action can name
//! exactly that payment and no other; the address comes from the record too (the order's
//! `email`), and a receipt goes out at most once per payment: its message id is derived from
//! the payment, and the outbox writes an id only once.

pub mod words;

use epay_domain::{Amount, MessageChannel, MessageKind, MessageLanguage, PaymentKind, TxStatus};
use epay_store::{NewMessage, Payment};

use crate::app::App;
use crate::platform::keys::digests_equal;
use crate::services::outbox::{self, Email};

/// How long the page's ticket lets the shopper ask for the e-mail: time to read the receipt
/// and decide. Real time (the sandbox clock may jump days ahead in tests of holds).
const TICKET_LIFETIME_MS: i64 = 30 * 60 * 1000;

/// The key the ticket's MAC is made under (`Keys::purpose_mac`): its own, so no other MAC the
/// gateway makes (3-D Secure codes, the demo shop's orders) can pass as a ticket.
const TICKET_PURPOSE: &str = "receipt-send";

/// What a receipt says, from the payment's record.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub merchant_name: String,
    pub kind: PaymentKind,
    pub status: TxStatus,
    pub amount: Amount,
    pub currency: String,
    /// ePay's mask (`440563...5096`): the paying card, or for a payout the receiving one.
    pub card_mask: String,
    /// The RRN (12 digits) and the order's invoice id: what support asks for.
    pub reference: String,
    pub invoice_id: String,
    /// When the payment was made (epoch ms).
    pub at_ms: i64,
    /// The language the order asked for, in which the e-mail is written.
    pub language: MessageLanguage,
    /// Where the shop's page is (the order's backLink), for the way back after a send.
    pub back_link: String,
    /// The address a receipt may go to, masked for the page (`a…@mail.kz`); `None` when the
    /// order gave no (valid) e-mail. The full address never leaves this module.
    pub email_masked: Option<String>,
    /// Names this payment in the page's "send the receipt" form; see [`send`].
    pub ticket: String,
}

/// Why a receipt cannot be shown or sent. No variant writes anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Not a ticket this gateway made, or one past its lifetime.
    #[error("this receipt link is not valid or has expired")]
    BadTicket,
    /// No such payment of that merchant (a ticket is only made for one that exists).
    #[error("no such payment")]
    NotFound,
    /// The payment has not gone through (declined, waiting for 3-D Secure) or no longer stands.
    #[error("the payment has no receipt: its status is {0}")]
    NotPaid(TxStatus),
    /// The order gave no e-mail address.
    #[error("the order gave no e-mail address to send a receipt to")]
    NoEmail,
    #[error("storage unavailable")]
    Internal,
}

/// What [`send`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Enqueued now.
    Now,
    /// Enqueued before (a second click, a reload): nothing new was written.
    Before,
}

/// The receipt of the merchant's payment `payment_id`, which must have gone through (`AUTH`,
/// `CHARGE`, `VERIFIED`). The page asks for it right after the payment service answered.
pub async fn of_payment(app: &App, merchant_id: &str, payment_id: &str) -> Result<Receipt, ReceiptError> {
    let payment = load(app, merchant_id, payment_id).await?;
    let merchant = app.store.merchant(merchant_id).await.map_err(internal)?;
    let ticket = ticket(app, merchant_id, payment_id, app.clock.real_now_ms() + TICKET_LIFETIME_MS);
    Ok(receipt(&payment, merchant.map(|m| m.name).unwrap_or_default(), ticket))
}

/// Sends the receipt the page's `ticket` names to the order's own e-mail address: one outbox
/// message of kind `receipt`, written once per payment however often this is called.
pub async fn send(app: &App, ticket: &str) -> Result<(Receipt, Sent), ReceiptError> {
    let (merchant_id, payment_id) = open_ticket(app, ticket)?;
    let payment = load(app, &merchant_id, &payment_id).await?;
    let merchant = app.store.merchant(&merchant_id).await.map_err(internal)?;
    let shown = receipt(&payment, merchant.map(|m| m.name).unwrap_or_default(), ticket.to_string());
    let to = Email::parse(&payment.email).map_err(|_| ReceiptError::NoEmail)?;
    let message = email(&shown, &payment, &to);
    let written = app.store.enqueue_message_once(&message, app.clock.now_ms()).await.map_err(internal)?;
    Ok((shown, if written { Sent::Now } else { Sent::Before }))
}

async fn load(app: &App, merchant_id: &str, payment_id: &str) -> Result<Payment, ReceiptError> {
    let payment = app.store.payment(merchant_id, payment_id).await.map_err(internal)?.ok_or(ReceiptError::NotFound)?;
    if !payment.status.is_approved() {
        return Err(ReceiptError::NotPaid(payment.status));
    }
    Ok(payment)
}

fn internal(e: epay_store::StoreError) -> ReceiptError {
    tracing::error!(error = %e, "receipt: storage failed");
    ReceiptError::Internal
}

fn receipt(p: &Payment, merchant_name: String, ticket: String) -> Receipt {
    let card_mask = if p.card_mask.is_empty() { &p.receiver_card_mask } else { &p.card_mask };
    Receipt {
        merchant_name,
        kind: p.kind,
        status: p.status,
        amount: Amount::from_minor(p.amount_minor).unwrap_or(Amount::ZERO),
        currency: p.currency.clone(),
        card_mask: card_mask.clone(),
        reference: p.reference.clone(),
        invoice_id: p.invoice_id.clone(),
        at_ms: p.created_at,
        language: outbox::language(&p.language),
        back_link: p.back_link.clone(),
        email_masked: Email::parse(&p.email).ok().map(|e| mask_email(e.as_str())),
        ticket,
    }
}

/// `merchant.payment.expires.mac`: the MAC covers the first three, so neither the payment nor
/// the lifetime can be changed; a payment id is a UUID (no dot), so the text splits one way.
fn ticket(app: &App, merchant_id: &str, payment_id: &str, expires_ms: i64) -> String {
    let signed = format!("{merchant_id}.{payment_id}.{expires_ms}");
    let mac = hex::encode(app.keys.purpose_mac(TICKET_PURPOSE, &signed));
    format!("{signed}.{mac}")
}

/// (merchant id, payment id) of a ticket this gateway made and that has not expired.
fn open_ticket(app: &App, ticket: &str) -> Result<(String, String), ReceiptError> {
    let mut parts = ticket.rsplitn(4, '.');
    let (Some(mac), Some(expires), Some(payment_id), Some(merchant_id)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReceiptError::BadTicket);
    };
    let signed = &ticket[..ticket.len() - mac.len() - 1];
    let expected = hex::encode(app.keys.purpose_mac(TICKET_PURPOSE, signed));
    if !digests_equal(mac, &expected) {
        return Err(ReceiptError::BadTicket);
    }
    let expires: i64 = expires.parse().map_err(|_| ReceiptError::BadTicket)?;
    if app.clock.real_now_ms() > expires {
        return Err(ReceiptError::BadTicket);
    }
    Ok((merchant_id.to_string(), payment_id.to_string()))
}

/// `a…@mail.kz`: enough for the shopper to recognise their address, too little to learn it.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".to_string(),
    }
}

/// The receipt e-mail to `to`, in the order's language. Its id is the payment's: the outbox
/// writes it once (`enqueue_message_once`), and the cabinet finds it by the invoice id.
fn email(r: &Receipt, p: &Payment, to: &Email) -> NewMessage {
    let (subject, body) = words::email(r);
    NewMessage {
        id: format!("msg_receipt_{}", p.id),
        merchant_id: p.merchant_id.clone(),
        kind: MessageKind::Receipt,
        channel: MessageChannel::Email,
        reference: p.invoice_id.clone(),
        recipient: to.as_str().to_string(),
        language: r.language,
        subject,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_masked_to_its_first_letter_and_domain() {
        assert_eq!(mask_email("arman.ali@mail.kz"), "a…@mail.kz");
        assert_eq!(mask_email("Ә@mail.kz"), "Ә…@mail.kz");
        assert_eq!(mask_email("nobody"), "…");
    }

    #[tokio::test]
    async fn a_ticket_opens_only_as_made_and_before_it_expires() {
        let app = App::for_tests(1_700_000_000_000).await;
        let now = app.clock.real_now_ms();
        let good = ticket(&app, "m.with.dots", "pay-1", now + 1000);
        assert_eq!(open_ticket(&app, &good), Ok(("m.with.dots".to_string(), "pay-1".to_string())));
        // Another payment, another merchant, a longer life: the MAC no longer fits.
        for forged in [
            good.replacen("pay-1", "pay-2", 1),
            good.replacen("m.with.dots", "other", 1),
            good.replacen(&(now + 1000).to_string(), &(now + 10_000_000).to_string(), 1),
            "".to_string(),
            "a.b.c".to_string(),
            format!("{good}0"),
        ] {
            assert_eq!(open_ticket(&app, &forged), Err(ReceiptError::BadTicket), "{forged}");
        }
        let expired = ticket(&app, "m", "pay-1", now - 1);
        assert_eq!(open_ticket(&app, &expired), Err(ReceiptError::BadTicket));
    }
}
