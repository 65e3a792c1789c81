//! Verifying epay's callbacks (Standard Webhooks): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` headers; the signature is `v1,` + base64(HMAC-SHA256(key,
//! "{id}.{timestamp}.{body}")) with the key being the base64 part of the `whsec_…` secret.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a number")]
    BadTimestamp,
    #[error("webhook-timestamp is outside the tolerance (possible replay)")]
    TooOld,
    #[error("the secret is not a whsec_ base64 secret")]
    BadSecret,
    #[error("no signature matches")]
    NoMatch,
}

/// The default tolerance between the sender's timestamp and the receiver's clock.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Verifies a callback: `headers` is a lookup of header values by lower-case name, `body` the raw
/// request body exactly as received, `now_secs` the receiver's Unix time.
pub fn verify<'a>(
    secret: &str,
    headers: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), WebhookError> {
    let id = headers("webhook-id").ok_or(WebhookError::MissingHeader("webhook-id"))?;
    let timestamp = headers("webhook-timestamp").ok_or(WebhookError::MissingHeader("webhook-timestamp"))?;
    let signatures = headers("webhook-signature").ok_or(WebhookError::MissingHeader("webhook-signature"))?;
    let ts: i64 = timestamp.trim().parse().map_err(|_| WebhookError::BadTimestamp)?;
    if (now_secs - ts).abs() > DEFAULT_TOLERANCE_SECS {
        return Err(WebhookError::TooOld);
    }
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).map_err(|_| WebhookError::BadSecret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| WebhookError::BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    // The header may carry several space-separated signatures (during secret rotation).
    for candidate in signatures.split_whitespace() {
        let Some(b64) = candidate.strip_prefix("v1,") else { continue };
        let Ok(given) = STANDARD.decode(b64) else { continue };
        use subtle::ConstantTimeEq;
        if given.len() == expected.len() && bool::from(given.ct_eq(&expected)) {
            return Ok(());
        }
    }
    Err(WebhookError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_specification_example() {
        let headers = |name: &str| match name {
            "webhook-id" => Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            "webhook-timestamp" => Some("1614265330"),
            "webhook-signature" => Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            _ => None,
        };
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert_eq!(verify(secret, headers, br#"{"test": 2432232314}"#, 1614265330), Ok(()));
        assert_eq!(verify(secret, headers, br#"{"test": 2432232315}"#, 1614265330), Err(WebhookError::NoMatch));
        assert_eq!(verify(secret, headers, br#"{"test": 2432232314}"#, 1614265330 + 3600), Err(WebhookError::TooOld));
    }
}
