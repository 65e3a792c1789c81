//! Configuration of the message outbox's delivery: which transport sends e-mail (SMTP, or the
//! sandbox outbox that only records), the SMTP server, and the retry schedule. Part of
//! [`super::config::Config`] as its `[mail]` table, with `EPAY_SMTP_*` / `EPAY_MAIL_*`
//! environment overrides.

use epay_domain::Secret;
use serde::Deserialize;

use super::config::{ConfigError, Mode};

/// Where e-mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// To the SMTP server of `smtp_host` (production's default).
    Smtp,
    /// Nowhere outside: the message is marked sent in the outbox, where the cabinet shows it
    /// (the sandbox's default: a test merchant's shoppers get no real mail).
    Outbox,
}

impl std::str::FromStr for MailTransport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "smtp" => Ok(MailTransport::Smtp),
            "outbox" => Ok(MailTransport::Outbox),
            other => Err(format!("mail transport must be smtp or outbox, not {other:?}")),
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded by STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS at all: only for a relay on this host or a test receiver. Credentials are refused
    /// with it unless the host is loopback, so a password never crosses a network in clear.
    None,
}

impl std::str::FromStr for SmtpTls {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "starttls" => Ok(SmtpTls::Starttls),
            "tls" => Ok(SmtpTls::Tls),
            "none" => Ok(SmtpTls::None),
            other => Err(format!("smtp_tls must be starttls, tls or none, not {other:?}")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp` or `outbox`; default by mode: production `smtp`, sandbox `outbox`.
    pub transport: Option<MailTransport>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    /// From `EPAY_SMTP_PASSWORD` only, never from the config file (which may be committed).
    #[serde(skip)]
    pub smtp_password: Option<Secret>,
    /// The sender, e.g. `ePay <noreply@pay.example.kz>`.
    pub from: String,
    /// Waits between attempts, in seconds: one first try plus one per entry, then the message
    /// is `failed`. The default spans about a day.
    pub retry_secs: Vec<u64>,
    /// One SMTP conversation (connect to QUIT) at most this long, in milliseconds.
    pub timeout_ms: u64,
    /// How often an idle outbox worker looks for due messages, in milliseconds.
    pub poll_ms: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            transport: None,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            from: "epay <noreply@localhost>".into(),
            retry_secs: vec![60, 300, 1800, 3600, 7200, 21_600, 43_200],
            timeout_ms: 30_000,
            poll_ms: 1000,
        }
    }
}

impl MailConfig {
    /// The transport in force in `mode`.
    pub fn transport(&self, mode: Mode) -> MailTransport {
        self.transport.unwrap_or(match mode {
            Mode::Production => MailTransport::Smtp,
            Mode::Sandbox => MailTransport::Outbox,
        })
    }

    /// The SMTP port in force: the configured one, else the TLS mode's usual one.
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.smtp_tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        })
    }

    /// Attempts a message gets at most: the first and one per retry wait.
    pub fn max_attempts(&self) -> usize {
        1 + self.retry_secs.len()
    }

    pub(super) fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env { name: name.into(), problem: e.to_string() })
        }
        if let Some(v) = env("EPAY_MAIL_TRANSPORT") {
            self.transport = Some(parse("EPAY_MAIL_TRANSPORT", v)?);
        }
        if let Some(v) = env("EPAY_SMTP_HOST") {
            self.smtp_host = Some(v);
        }
        if let Some(v) = env("EPAY_SMTP_PORT") {
            self.smtp_port = Some(parse("EPAY_SMTP_PORT", v)?);
        }
        if let Some(v) = env("EPAY_SMTP_TLS") {
            self.smtp_tls = parse("EPAY_SMTP_TLS", v)?;
        }
        if let Some(v) = env("EPAY_SMTP_USERNAME") {
            self.smtp_username = Some(v);
        }
        if let Some(v) = env("EPAY_SMTP_PASSWORD") {
            self.smtp_password = Some(Secret::new(v));
        }
        if let Some(v) = env("EPAY_MAIL_FROM") {
            self.from = v;
        }
        if let Some(v) = env("EPAY_MAIL_RETRY_SECS") {
            self.retry_secs = v
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| parse("EPAY_MAIL_RETRY_SECS", p.trim().to_string()))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = env("EPAY_MAIL_TIMEOUT_MS") {
            self.timeout_ms = parse("EPAY_MAIL_TIMEOUT_MS", v)?;
        }
        if let Some(v) = env("EPAY_MAIL_POLL_MS") {
            self.poll_ms = parse("EPAY_MAIL_POLL_MS", v)?;
        }
        Ok(())
    }

    pub(super) fn validate(&self, mode: Mode) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("mail: {m}")));
        if self.retry_secs.len() > 20 || self.retry_secs.iter().any(|s| *s > 7 * 86_400) {
            return invalid("retry_secs: at most 20 waits of at most 7 days each");
        }
        if !(100..=300_000).contains(&self.timeout_ms) {
            return invalid("timeout_ms must be between 100 and 300000");
        }
        if !(10..=60_000).contains(&self.poll_ms) {
            return invalid("poll_ms must be between 10 and 60000");
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return invalid("from must be an address such as `Shop <noreply@shop.kz>`");
        }
        if self.smtp_username.is_some() != self.smtp_password.is_some() {
            return invalid("smtp_username and EPAY_SMTP_PASSWORD go together: set both or neither");
        }
        // Without smtp_host the smtp transport still starts (a gateway that sends no mail needs
        // none); the outbox worker warns at start, and each message fails visibly, retried.
        if let Some(host) = self.smtp_host.as_deref().filter(|_| self.transport(mode) == MailTransport::Smtp) {
            let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if self.smtp_tls == SmtpTls::None && self.smtp_username.is_some() && !loopback {
                return invalid("smtp_tls = none would send the SMTP password in clear; use starttls or tls");
            }
        }
        Ok(())
    }
}
