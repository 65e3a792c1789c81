//! Callback delivery over HTTP: signed (Standard Webhooks), bounded (timeouts, reply size, no
//! redirects) and, in production mode, never to loopback, private, link-local or metadata
//! addresses — checked on the address actually connected to, so DNS cannot smuggle one in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use epay_domain::Secret;
use epay_store::{CallbackAttempt, CallbackEvent, CallbackNext};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::platform::clock::Clock;
use crate::platform::config::Mode;
use crate::services::links::{address_allowed, check_not_resolving_to_own, check_target_url};

/// The most of a merchant's reply we read; the rest is dropped.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// The most of a reply we keep in the attempt log.
const EXCERPT_CHARS: usize = 256;

/// Resolves names and drops every address the mode forbids; no address left is an error.
struct GuardedResolver {
    mode: Mode,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let mode = self.mode;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| address_allowed(a.ip(), mode)).collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves only to addresses callbacks may not be sent to").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub struct Deliverer {
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    mode: Mode,
    retry_secs: Vec<u64>,
    node: String,
}

impl Deliverer {
    pub fn new(mode: Mode, timeout: Duration, retry_secs: Vec<u64>, node: String, clock: Arc<dyn Clock>) -> Deliverer {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .dns_resolver(Arc::new(GuardedResolver { mode }))
            .user_agent(concat!("epay-callbacks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with these settings builds");
        Deliverer { client, clock, mode, retry_secs, node }
    }

    /// What follows attempt number `attempt_no` (1-based) if it failed.
    pub fn after_failure(&self, attempt_no: i32, now_ms: i64) -> CallbackNext {
        match self.retry_secs.get(attempt_no.max(1) as usize - 1) {
            Some(wait) => CallbackNext::RetryAt(now_ms + *wait as i64 * 1000),
            None => CallbackNext::GiveUp,
        }
    }

    /// Sends one attempt of `event`, signed with the merchant's `secret` (opened); returns its
    /// log entry and whether it was delivered. Without the secret (it did not open) nothing is
    /// sent, never an unsigned callback: the attempt fails and is retried.
    pub async fn attempt(
        &self,
        event: &CallbackEvent,
        secret: Option<&Secret>,
        started_at_ms: i64,
    ) -> (CallbackAttempt, bool) {
        let started = Instant::now();
        let result = match secret {
            Some(secret) => self.send(event, secret).await,
            None => Err("the merchant's signing secret does not open with any vault data key".to_string()),
        };
        let latency_ms = started.elapsed().as_millis() as i64;
        let (http_status, error, excerpt, delivered) = match result {
            Ok((status, excerpt)) => {
                let ok = (200..300).contains(&status);
                let error = if ok { String::new() } else { format!("HTTP {status}") };
                (Some(status as i32), error, excerpt, ok)
            }
            Err(error) => (None, error, String::new(), false),
        };
        let attempt = CallbackAttempt {
            event_id: event.id.clone(),
            attempt_no: event.attempts,
            started_at: started_at_ms,
            http_status,
            latency_ms,
            error,
            response_excerpt: excerpt,
            node: self.node.clone(),
        };
        (attempt, delivered)
    }

    async fn send(&self, event: &CallbackEvent, secret: &Secret) -> Result<(u16, String), String> {
        check_target_url(&event.url, self.mode).map_err(|e| e.0)?;
        check_not_resolving_to_own(&event.url).await.map_err(|e| e.0)?;
        // The signature timestamp is real time (not the sandbox clock): receivers compare it
        // with their own clock to refuse replays.
        let timestamp = self.clock.real_now_ms().div_euclid(1000);
        let signature = sign(secret.expose(), &event.id, timestamp, event.payload.expose());
        let response = self
            .client
            .post(&event.url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(event.payload.expose().to_string())
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        let mut response = response;
        let mut reply = Vec::new();
        while reply.len() < MAX_REPLY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => reply.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(describe(e)),
            }
        }
        let excerpt: String = String::from_utf8_lossy(&reply).chars().take(EXCERPT_CHARS).collect();
        Ok((status, excerpt))
    }
}

/// Standard Webhooks signature: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
/// where the key is the base64 part of the `whsec_…` secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        let mut detail = String::from("connection failed");
        while let Some(s) = source {
            detail = format!("connection failed: {s}");
            source = s.source();
        }
        detail
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve;
    use std::str::FromStr;

    #[tokio::test]
    async fn the_resolver_drops_internal_addresses_in_production() {
        let name = || reqwest::dns::Name::from_str("localhost").unwrap();
        let refused = GuardedResolver { mode: Mode::Production }.resolve(name()).await;
        assert!(refused.is_err(), "localhost resolves to loopback only");
        let allowed: Vec<_> = GuardedResolver { mode: Mode::Sandbox }.resolve(name()).await.unwrap().collect();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()) && !allowed.is_empty());
    }

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
