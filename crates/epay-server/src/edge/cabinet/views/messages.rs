//! The message outbox: the list of what was sent (`templates/cabinet/messages.html`) and one
//! message as sent (`message.html`).

use askama::Template;
use epay_domain::{MessageChannel, MessageKind, MessageState};
use epay_store::OutboxMessage;

use super::{date, Badge, Chrome, Frame};
use crate::edge::cabinet::i18n::Lang;
use crate::edge::cabinet::i18n::{words, Words};

/// A message's row in the list.
struct MessageRow {
    id: String,
    created: String,
    kind: &'static str,
    channel: &'static str,
    recipient: String,
    subject: String,
    /// `pending`, `sent`, `failed`: the badge's class suffix.
    state: Badge,
    attempts: i32,
    last_error: String,
}

fn kind(w: &Words, kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::InvoiceLink => w.message_invoice_link,
        MessageKind::Receipt => w.message_receipt,
    }
}

fn channel(w: &Words, channel: MessageChannel) -> &'static str {
    match channel {
        MessageChannel::Email => w.email,
        MessageChannel::Sms => w.sms,
    }
}

fn state(w: &Words, state: MessageState) -> &'static str {
    match state {
        MessageState::Pending => w.message_pending,
        MessageState::Sent => w.message_sent,
        MessageState::Failed => w.message_failed,
    }
}

fn row(lang: Lang, w: &'static Words, m: &OutboxMessage) -> MessageRow {
    MessageRow {
        id: m.id.clone(),
        created: date(lang, m.created_at),
        kind: kind(w, m.kind),
        channel: channel(w, m.channel),
        recipient: m.recipient.clone(),
        // An SMS has no subject: its text's start stands in.
        subject: if m.subject.is_empty() { m.body.chars().take(60).collect() } else { m.subject.clone() },
        state: Badge { class: m.state.as_str().to_string(), text: state(w, m.state), code: m.state.as_str() },
        attempts: m.attempts,
        last_error: m.last_error.clone(),
    }
}

#[derive(Template)]
#[template(path = "cabinet/messages.html")]
pub struct MessagesPage {
    frame: Frame,
    w: &'static Words,
    reference: String,
    rows: Vec<MessageRow>,
}

pub fn messages(c: &Chrome<'_>, reference: &str, messages: &[OutboxMessage]) -> MessagesPage {
    let w = words(c.lang);
    MessagesPage {
        frame: Frame::signed(c, w.messages),
        w,
        reference: reference.to_string(),
        rows: messages.iter().map(|m| row(c.lang, w, m)).collect(),
    }
}

#[derive(Template)]
#[template(path = "cabinet/message.html")]
pub struct MessagePage {
    frame: Frame,
    w: &'static Words,
    row: MessageRow,
    reference: String,
    language: &'static str,
    next_attempt: Option<String>,
    sent: Option<String>,
    /// The body exactly as stored and sent, shown as preformatted text.
    body: String,
}

pub fn message(c: &Chrome<'_>, m: &OutboxMessage) -> MessagePage {
    let w = words(c.lang);
    MessagePage {
        frame: Frame::signed(c, w.message),
        w,
        row: row(c.lang, w, m),
        reference: m.reference.clone(),
        language: m.language.as_str(),
        next_attempt: (m.state == MessageState::Pending).then(|| date(c.lang, m.next_attempt_at)),
        sent: m.sent_at.map(|at| date(c.lang, at)),
        body: m.body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_escaped, chrome, ESCAPED, XSS};
    use super::*;
    use crate::edge::cabinet::i18n::Lang;
    use epay_domain::MessageLanguage;

    fn stored() -> OutboxMessage {
        OutboxMessage {
            id: "msg_1".into(),
            merchant_id: "m-1".into(),
            kind: MessageKind::InvoiceLink,
            channel: MessageChannel::Email,
            reference: XSS.into(),
            recipient: "buyer@mail.kz".into(),
            language: MessageLanguage::En,
            subject: XSS.into(),
            body: format!("line one\n{XSS}"),
            state: MessageState::Failed,
            attempts: 3,
            next_attempt_at: 0,
            last_error: XSS.into(),
            created_at: 0,
            sent_at: None,
        }
    }

    #[test]
    fn the_list_and_the_message_show_hostile_text_as_text() {
        let html = messages(&chrome(Lang::En), XSS, &[stored()]).render().unwrap();
        assert_escaped(&html);
        assert!(html.contains(r#"<tr data-message="msg_1">"#), "{html}");
        assert!(html.contains(r#"<span class="status s-failed">Failed</span>"#), "{html}");
        let html = message(&chrome(Lang::Ru), &stored()).render().unwrap();
        assert_escaped(&html);
        assert!(html.contains(&format!("<pre id=\"body\">line one\n{ESCAPED}</pre>")), "{html}");
    }
}
