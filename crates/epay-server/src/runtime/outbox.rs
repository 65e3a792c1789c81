//! Delivery of the message outbox: e-mail through a [`Mailer`] (SMTP via lettre in production,
//! the sandbox outbox otherwise) and SMS through an [`SmsProvider`] (the sandbox outbox; a real
//! provider plugs in behind the same trait). A worker on each node claims due messages under a
//! lease (so several nodes never send the same attempt), sends them, and records the outcome:
//! sent, retried after the configured wait, or failed with the last error once the attempts are
//! used up. Every failure is kept on the message for the cabinet.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use epay_domain::MessageChannel;
use epay_store::{MessageOutcome, OutboxMessage};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::app::App;
use crate::platform::config::Mode;
use crate::platform::mail::{MailConfig, MailTransport, SmtpTls};
use crate::runtime::workers::StopSignal;

/// The most of an error kept on a message.
const ERROR_CHARS: usize = 500;
/// Messages one worker pass claims and sends at once.
const BATCH: i64 = 8;

/// Sends e-mail.
pub enum Mailer {
    /// To an SMTP server.
    /// Boxed: the transport is large, and the mailer is built once per node.
    Smtp { transport: Box<AsyncSmtpTransport<Tokio1Executor>>, from: Mailbox },
    /// Nowhere: the outbox row marked sent is the delivery (sandbox). The cabinet shows it.
    Outbox,
    /// The smtp transport without `smtp_host`: every attempt fails with this, visibly.
    Unconfigured,
}

impl Mailer {
    pub fn from_config(mail: &MailConfig, mode: Mode) -> Result<Mailer, String> {
        if mail.transport(mode) == MailTransport::Outbox {
            return Ok(Mailer::Outbox);
        }
        let Some(host) = mail.smtp_host.as_deref().filter(|h| !h.trim().is_empty()) else {
            tracing::warn!("mail transport is smtp but no smtp_host (EPAY_SMTP_HOST) is set: e-mail will fail");
            return Ok(Mailer::Unconfigured);
        };
        let builder = match mail.smtp_tls {
            // STARTTLS required (not opportunistic): a server that does not offer it is an error,
            // never a silent downgrade to clear text.
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(|e| e.to_string())?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| e.to_string())?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder.port(mail.port()).timeout(Some(Duration::from_millis(mail.timeout_ms)));
        if let (Some(user), Some(password)) = (&mail.smtp_username, &mail.smtp_password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_string()));
        }
        let from: Mailbox = mail.from.parse().map_err(|e| format!("mail from {:?}: {e}", mail.from))?;
        Ok(Mailer::Smtp { transport: Box::new(builder.build()), from })
    }

    async fn send(&self, m: &OutboxMessage) -> Result<(), String> {
        match self {
            Mailer::Outbox => Ok(()),
            Mailer::Unconfigured => Err("no SMTP server is configured (smtp_host, EPAY_SMTP_HOST)".into()),
            Mailer::Smtp { transport, from } => {
                let email = compose(m, from)?;
                transport.send(email).await.map(|_| ()).map_err(|e| describe(&e))
            }
        }
    }
}

/// The e-mail of a stored message: its subject and body as stored, plain UTF-8 text in base64
/// (every server takes it, no 8BITMIME needed, and Cyrillic text is shorter so than
/// quoted-printable). The Message-ID comes from the message id, so a retry after a lost reply
/// carries the same id and the recipient's server can tell the copies apart.
fn compose(m: &OutboxMessage, from: &Mailbox) -> Result<lettre::Message, String> {
    let to: Mailbox = m.recipient.parse().map_err(|e| format!("recipient {:?}: {e}", m.recipient))?;
    let domain = from.email.domain().to_string();
    let body = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::Base64)
        .body(m.body.clone());
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(format!("<{}@{domain}>", m.id)))
        .singlepart(body)
        .map_err(|e| format!("the message does not build: {e}"))
}

fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Sends SMS. A real provider (an HTTP API) implements this; the sandbox's is the outbox.
#[async_trait]
pub trait SmsProvider: Send + Sync {
    async fn send(&self, to: &str, text: &str) -> Result<(), String>;
}

/// The sandbox's SMS provider: the outbox row marked sent is the delivery, as for e-mail.
pub struct OutboxSms;

#[async_trait]
impl SmsProvider for OutboxSms {
    async fn send(&self, _to: &str, _text: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Production without an SMS provider: every SMS fails, visibly, rather than vanish.
pub struct NoSmsProvider;

#[async_trait]
impl SmsProvider for NoSmsProvider {
    async fn send(&self, _to: &str, _text: &str) -> Result<(), String> {
        Err("no SMS provider is configured".into())
    }
}

/// Sends one message by its channel, and decides what follows a failure.
pub struct Courier {
    pub mailer: Mailer,
    pub sms: Box<dyn SmsProvider>,
    pub retry_secs: Vec<u64>,
}

impl Courier {
    pub fn from_config(mail: &MailConfig, mode: Mode) -> Result<Courier, String> {
        let sms: Box<dyn SmsProvider> = match mode {
            Mode::Sandbox => Box::new(OutboxSms),
            Mode::Production => Box::new(NoSmsProvider),
        };
        Ok(Courier { mailer: Mailer::from_config(mail, mode)?, sms, retry_secs: mail.retry_secs.clone() })
    }

    /// One attempt at `m` (its claim already counted it in `m.attempts`) and its outcome.
    pub async fn attempt(&self, m: &OutboxMessage, now_ms: impl Fn() -> i64) -> MessageOutcome {
        let sent = match m.channel {
            MessageChannel::Email => self.mailer.send(m).await,
            MessageChannel::Sms => self.sms.send(&m.recipient, &m.body).await,
        };
        match sent {
            Ok(()) => MessageOutcome::Sent,
            Err(error) => {
                let error: String = error.chars().take(ERROR_CHARS).collect();
                match self.retry_secs.get(m.attempts.max(1) as usize - 1) {
                    Some(wait) => MessageOutcome::RetryAt { at_ms: now_ms() + *wait as i64 * 1000, error },
                    None => MessageOutcome::GiveUp { error },
                }
            }
        }
    }
}

/// Delivers due messages until `stop`, as the callback worker does: claim a bounded batch under
/// a lease, send concurrently, record each outcome; on stop the batch in flight is finished and
/// recorded first. Times come from the gateway clock (the sandbox clock moves retries too).
pub fn spawn_outbox(app: Arc<App>, mut stop: StopSignal) -> Result<tokio::task::JoinHandle<()>, String> {
    let courier = Arc::new(Courier::from_config(&app.config.mail, app.config.mode)?);
    let idle = Duration::from_millis(app.config.mail.poll_ms);
    // Outlives the longest SMTP conversation, so a live node never loses its claim mid-send.
    let lease_ms = app.config.mail.timeout_ms as i64 + 30_000;
    Ok(tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            let now = app.clock.now_ms();
            let messages = match app.store.claim_messages(now, now + lease_ms, BATCH).await {
                Ok(messages) => messages,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming outbox messages failed; will retry");
                    Vec::new()
                }
            };
            if messages.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(idle) => continue,
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
            let mut sends = tokio::task::JoinSet::new();
            for message in messages {
                let (app, courier) = (app.clone(), courier.clone());
                sends.spawn(async move {
                    let outcome = courier.attempt(&message, || app.clock.now_ms()).await;
                    tracing::info!(
                        message_id = %message.id, channel = %message.channel, attempt = message.attempts,
                        outcome = ?outcome, "outbox message attempt"
                    );
                    if let Err(e) = app.store.record_message_attempt(&message.id, &outcome, app.clock.now_ms()).await {
                        tracing::error!(error = %e, message_id = %message.id, "recording an outbox attempt failed");
                    }
                });
            }
            while sends.join_next().await.is_some() {}
        }
    }))
}
