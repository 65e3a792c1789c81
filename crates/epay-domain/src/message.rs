//! Messages the gateway sends to people (not to merchants' servers): an invoice link by e-mail or
//! SMS, later a payment receipt. They wait in the message outbox (`outbox_messages`) until a
//! delivery worker sends them; these are the words it keeps them by.

use crate::text_enum::text_enum;

text_enum! {
    /// Why a message was sent: the use case that wrote it. Templates are chosen by it.
    pub enum MessageKind as "message kind" {
        /// A link to pay an invoice (`POST /invoice` with a recipient contact).
        InvoiceLink = "invoice_link",
        /// A receipt of a payment, asked for on the payment page.
        Receipt = "receipt",
    }
}

text_enum! {
    /// How a message travels.
    pub enum MessageChannel as "message channel" {
        Email = "email",
        Sms = "sms",
    }
}

text_enum! {
    /// Where a message stands in its delivery.
    pub enum MessageState as "message state" {
        /// Waiting for its next attempt (new, or retrying after a failed one).
        Pending = "pending",
        /// Handed to the SMTP server or SMS provider (sandbox: to the outbox itself).
        Sent = "sent",
        /// Every attempt failed; `last_error` says why.
        Failed = "failed",
    }
}

text_enum! {
    /// The language a message was written in (its template's).
    pub enum MessageLanguage as "message language" {
        Ru = "ru",
        Kk = "kk",
        En = "en",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_others_are_refused() {
        crate::text_enum::assert_round_trip(MessageKind::ALL, &["", "INVOICE_LINK", "invoice"]);
        crate::text_enum::assert_round_trip(MessageChannel::ALL, &["", "EMAIL", "mail"]);
        crate::text_enum::assert_round_trip(MessageState::ALL, &["", "delivered", "SENT"]);
        crate::text_enum::assert_round_trip(MessageLanguage::ALL, &["", "RU", "kz"]);
    }
}
