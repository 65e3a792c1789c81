//! The message outbox's use cases: validating a recipient's contact, composing a message from
//! its template (`templates/mail/`, in Russian, Kazakh and English) and enqueuing it.
//!
//! A message is rendered when it is enqueued and stored as rendered: what the outbox (and the
//! cabinet) shows is exactly what is sent, whenever the worker sends it. A use case that causes a
//! message (an invoice with a recipient contact) hands the composed [`NewMessage`] to its own
//! store method, which writes it in the same transaction as the change; [`enqueue`] writes
//! messages that are a use case of their own. The delivery workers are in `runtime::outbox`.

use askama::Template;
use epay_domain::{Amount, MessageChannel, MessageKind, MessageLanguage};
use epay_store::{MessageFilter, NewMessage, OutboxMessage, StoreError};

use crate::app::App;
use crate::platform::clock::epay_datetime;

/// Why a contact was refused; the message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("{0:?} is not an e-mail address (expected name@example.kz, at most 254 characters)")]
    Email(String),
    #[error("{0:?} is not a phone number (expected international format: + then 10 to 15 digits)")]
    Phone(String),
}

/// A validated e-mail address: one `@`, a local part of printable characters that need no
/// quoting, and a domain of at least two labels (letters, digits, hyphens). Stricter than RFC
/// 5321 on purpose: what passes is an address every SMTP server takes, and it can never carry a
/// line break or a second address into a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Email, ContactError> {
        let refused = || ContactError::Email(text.chars().take(64).collect());
        let text = text.trim();
        if text.len() > 254 {
            return Err(refused());
        }
        let (local, domain) = text.split_once('@').ok_or_else(refused)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()));
        if !(local_ok && domain_ok) {
            return Err(refused());
        }
        Ok(Email(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated phone number in E.164 form (`+77011234567`). Spaces, hyphens, dots and brackets
/// are dropped; a number without `+` is read as international digits, except Kazakhstan's
/// domestic `8 7xx …` (11 digits from 8), which becomes `+7 7xx …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(text: &str) -> Result<Phone, ContactError> {
        let refused = || ContactError::Phone(text.chars().take(32).collect());
        let trimmed = text.trim();
        if trimmed.len() > 32 {
            return Err(refused());
        }
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::new();
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(refused()),
            }
        }
        if !plus && digits.len() == 11 && digits.starts_with('8') {
            digits.replace_range(0..1, "7");
        }
        if !(10..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(refused());
        }
        Ok(Phone(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The language of a message from ePay's spellings (`rus`/`kaz`/`eng`, `RU`/`KZ`/`EN`, `ru`/
/// `kk`/`en`); anything else is Russian, as on the payment page.
pub fn language(text: &str) -> MessageLanguage {
    match text.trim().to_ascii_lowercase().as_str() {
        "kaz" | "kz" | "kk" => MessageLanguage::Kk,
        "eng" | "en" => MessageLanguage::En,
        _ => MessageLanguage::Ru,
    }
}

/// What an invoice-link message tells its recipient.
#[derive(Debug, Clone)]
pub struct InvoiceLink {
    pub merchant_id: String,
    pub invoice_id: String,
    /// The shop's name as the recipient knows it (the merchant's or terminal's name).
    pub shop_name: String,
    pub amount: Amount,
    pub currency: String,
    pub description: String,
    /// The link that opens the payment page for the invoice.
    pub link: String,
    pub expires_at_ms: i64,
}

/// The values a template shows, already written out.
struct Shown {
    shop: String,
    amount: String,
    description: String,
    invoice_id: String,
    link: String,
    expires: String,
}

impl Shown {
    fn of(invoice: &InvoiceLink) -> Shown {
        // 2026-11-23T09:00:00.000000+05:00 → 2026-11-23 09:00: Astana time, to the minute.
        let full = epay_datetime(invoice.expires_at_ms);
        let expires = full.get(..16).map(|s| s.replace('T', " ")).unwrap_or(full);
        Shown {
            // One line each: a name or description with line breaks cannot reshape the message.
            shop: one_line(&invoice.shop_name),
            amount: message_amount(invoice.amount, &invoice.currency),
            description: one_line(&invoice.description),
            invoice_id: invoice.invoice_id.clone(),
            link: invoice.link.clone(),
            expires,
        }
    }
}

/// An amount as every message writes it: always two decimals (1500.50 KZT), unlike the wire's
/// 1500.5.
pub fn message_amount(amount: Amount, currency: &str) -> String {
    format!("{}.{:02} {}", amount.minor() / 100, amount.minor() % 100, currency)
}

/// One line: a name or description with line breaks cannot reshape a message.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Template)]
#[template(path = "mail/invoice_link.ru.txt")]
struct InvoiceLinkRu<'a> {
    m: &'a Shown,
}

#[derive(Template)]
#[template(path = "mail/invoice_link.kk.txt")]
struct InvoiceLinkKk<'a> {
    m: &'a Shown,
}

#[derive(Template)]
#[template(path = "mail/invoice_link.en.txt")]
struct InvoiceLinkEn<'a> {
    m: &'a Shown,
}

#[derive(Template)]
#[template(path = "mail/invoice_link_sms.ru.txt")]
struct InvoiceLinkSmsRu<'a> {
    m: &'a Shown,
}

#[derive(Template)]
#[template(path = "mail/invoice_link_sms.kk.txt")]
struct InvoiceLinkSmsKk<'a> {
    m: &'a Shown,
}

#[derive(Template)]
#[template(path = "mail/invoice_link_sms.en.txt")]
struct InvoiceLinkSmsEn<'a> {
    m: &'a Shown,
}

/// Renders a plain-text template; ours render from plain strings and cannot fail, but if one
/// did, the message says so rather than going out half-written.
fn render(template: &dyn askama::DynTemplate) -> String {
    template.dyn_render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a message template did not render");
        String::new()
    })
}

fn subject(lang: MessageLanguage, m: &Shown) -> String {
    match lang {
        MessageLanguage::Ru => format!("Счёт на оплату от {}: {}", m.shop, m.amount),
        MessageLanguage::Kk => format!("{} төлем шоты: {}", m.shop, m.amount),
        MessageLanguage::En => format!("Invoice from {}: {}", m.shop, m.amount),
    }
}

/// The e-mail that sends `invoice`'s link to `to`, rendered in `lang`.
pub fn invoice_link_email(invoice: &InvoiceLink, to: &Email, lang: MessageLanguage) -> NewMessage {
    let m = Shown::of(invoice);
    let body = match lang {
        MessageLanguage::Ru => render(&InvoiceLinkRu { m: &m }),
        MessageLanguage::Kk => render(&InvoiceLinkKk { m: &m }),
        MessageLanguage::En => render(&InvoiceLinkEn { m: &m }),
    };
    message(invoice, MessageChannel::Email, to.as_str(), lang, subject(lang, &m), body)
}

/// The SMS that sends `invoice`'s link to `to`, rendered in `lang`.
pub fn invoice_link_sms(invoice: &InvoiceLink, to: &Phone, lang: MessageLanguage) -> NewMessage {
    let m = Shown::of(invoice);
    let body = match lang {
        MessageLanguage::Ru => render(&InvoiceLinkSmsRu { m: &m }),
        MessageLanguage::Kk => render(&InvoiceLinkSmsKk { m: &m }),
        MessageLanguage::En => render(&InvoiceLinkSmsEn { m: &m }),
    };
    message(invoice, MessageChannel::Sms, to.as_str(), lang, String::new(), body)
}

fn message(
    invoice: &InvoiceLink,
    channel: MessageChannel,
    recipient: &str,
    language: MessageLanguage,
    subject: String,
    body: String,
) -> NewMessage {
    NewMessage {
        id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        merchant_id: invoice.merchant_id.clone(),
        kind: MessageKind::InvoiceLink,
        channel,
        reference: invoice.invoice_id.clone(),
        recipient: recipient.to_string(),
        language,
        subject,
        body,
    }
}

/// Writes messages that are a use case of their own (not part of another change), due now.
pub async fn enqueue(app: &App, messages: &[NewMessage]) -> Result<(), StoreError> {
    app.store.enqueue_messages(messages, app.clock.now_ms()).await
}

/// The merchant's messages, newest first (the cabinet's outbox page).
pub async fn list(app: &App, merchant_id: &str, filter: &MessageFilter) -> Result<Vec<OutboxMessage>, StoreError> {
    app.store.messages_of(merchant_id, filter).await
}

/// One of the merchant's messages; another merchant's is `None`.
pub async fn find(app: &App, merchant_id: &str, id: &str) -> Result<Option<OutboxMessage>, StoreError> {
    app.store.message_of(merchant_id, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_mail_addresses_are_checked_strictly() {
        for good in ["a@b.kz", " shopper.name+tag@mail.example.com ", "x_y@sub-domain.kz"] {
            assert_eq!(Email::parse(good).unwrap().as_str(), good.trim(), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@b.kz",
            "a@",
            "a@localhost",
            "a@b..kz",
            "a b@c.kz",
            "a@b.kz\r\nBcc: victim@x.kz",
            "a@b.kz,c@d.kz",
            "<a@b.kz>",
            "a@-b.kz",
            "a@b.k2",
            ".a@b.kz",
            "a..b@c.kz",
            "\"q\"@b.kz",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} passed");
        }
        assert!(Email::parse(&format!("{}@b.kz", "a".repeat(65))).is_err());
    }

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(Phone::parse("+7 (701) 123-45-67").unwrap().as_str(), "+77011234567");
        assert_eq!(Phone::parse("87011234567").unwrap().as_str(), "+77011234567");
        assert_eq!(Phone::parse("77011234567").unwrap().as_str(), "+77011234567");
        assert_eq!(Phone::parse("+441632960961").unwrap().as_str(), "+441632960961");
        for bad in
            ["", "+", "12345", "+7701abc4567", "+0123456789", "+1234567890123456", "7701\n1234567", "++77011234567"]
        {
            assert!(Phone::parse(bad).is_err(), "{bad:?} passed");
        }
    }

    fn invoice() -> InvoiceLink {
        InvoiceLink {
            merchant_id: "m-1".into(),
            invoice_id: "000123".into(),
            shop_name: "Shop\r\nBcc: x@y.kz".into(),
            amount: Amount::from_minor(150_050).unwrap(),
            currency: "KZT".into(),
            description: "Two\nbooks".into(),
            link: "https://pay.example.kz/invoice/abc".into(),
            // 2026-11-23 04:00 UTC = 09:00 in Astana.
            expires_at_ms: 1_795_406_400_000,
        }
    }

    #[test]
    fn the_invoice_link_e_mail_says_everything_in_each_language() {
        let to = Email::parse("buyer@mail.kz").unwrap();
        let checks = [
            (MessageLanguage::Ru, "Счёт на оплату от Shop Bcc: x@y.kz: 1500.50 KZT", "Оплатить картой: "),
            (MessageLanguage::Kk, "Shop Bcc: x@y.kz төлем шоты: 1500.50 KZT", "Картамен төлеу: "),
            (MessageLanguage::En, "Invoice from Shop Bcc: x@y.kz: 1500.50 KZT", "Pay by card: "),
        ];
        for (lang, subject, pay) in checks {
            let m = invoice_link_email(&invoice(), &to, lang);
            assert_eq!(m.subject, subject);
            assert!(m.body.contains(&format!("{pay}https://pay.example.kz/invoice/abc")), "{}", m.body);
            assert!(m.body.contains("1500.50 KZT") && m.body.contains("Two books"), "{}", m.body);
            assert!(m.body.contains("000123") && m.body.contains("2026-11-23 09:00"), "{}", m.body);
            assert_eq!((m.kind, m.channel, m.language), (MessageKind::InvoiceLink, MessageChannel::Email, lang));
            assert_eq!((m.recipient.as_str(), m.reference.as_str()), ("buyer@mail.kz", "000123"));
            assert!(!m.subject.contains('\n') && !m.subject.contains('\r'));
        }
    }

    #[test]
    fn the_invoice_link_sms_is_one_short_line() {
        let to = Phone::parse("+77011234567").unwrap();
        for lang in MessageLanguage::ALL {
            let m = invoice_link_sms(&invoice(), &to, *lang);
            assert!(m.body.contains("https://pay.example.kz/invoice/abc") && m.body.contains("1500.50 KZT"));
            assert!(!m.body.contains('\n'), "{}", m.body);
            assert!(m.subject.is_empty() && m.channel == MessageChannel::Sms);
        }
    }

    #[test]
    fn languages_read_epay_spellings() {
        assert_eq!(language("kaz"), MessageLanguage::Kk);
        assert_eq!(language("EN"), MessageLanguage::En);
        assert_eq!(language("rus"), MessageLanguage::Ru);
        assert_eq!(language("xx"), MessageLanguage::Ru);
    }
}
