//! The message outbox's rows: e-mails and SMS to people, written with the use case that causes
//! them and delivered by the outbox workers (`ports::MessageOutbox`).

use epay_domain::{MessageChannel, MessageKind, MessageLanguage, MessageState};

/// A message to send, fully rendered: `subject` and `body` are exactly what goes out.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub merchant_id: String,
    pub kind: MessageKind,
    pub channel: MessageChannel,
    /// What the message is about (an invoice link's invoice id); may be empty.
    pub reference: String,
    /// An e-mail address or an E.164 phone number, validated by the service that wrote it.
    pub recipient: String,
    pub language: MessageLanguage,
    /// Empty for an SMS.
    pub subject: String,
    pub body: String,
}

/// A message as the outbox keeps it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxMessage {
    pub id: String,
    pub merchant_id: String,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub kind: MessageKind,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub channel: MessageChannel,
    pub reference: String,
    pub recipient: String,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub language: MessageLanguage,
    pub subject: String,
    pub body: String,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub state: MessageState,
    /// Attempts made (a claim counts one).
    pub attempts: i32,
    pub next_attempt_at: i64,
    /// Why the last attempt failed; empty when none did.
    pub last_error: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// What follows one delivery attempt of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    Sent,
    /// Failed with this error; tried again at this time.
    RetryAt {
        at_ms: i64,
        error: String,
    },
    /// Failed with this error, and no attempt is left.
    GiveUp {
        error: String,
    },
}

/// Which of a merchant's messages a listing shows.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Only those about this reference (an invoice id); empty: all.
    pub reference: String,
    /// At most this many, newest first.
    pub limit: i64,
}
