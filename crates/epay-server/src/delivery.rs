//! Callback delivery over HTTP: signed (Standard Webhooks), bounded (timeouts, reply size, no
//! redirects) and, in production mode, never to loopback, private, link-local or metadata
//! addresses — checked on the address actually connected to, so DNS cannot smuggle one in.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use epay_store::{CallbackAttempt, CallbackEvent, CallbackNext};

use crate::config::Mode;
use crate::services::callbacks::sign;

/// The most of a merchant's reply we read; the rest is dropped.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// The most of a reply we keep in the attempt log.
const EXCERPT_CHARS: usize = 256;

/// Whether a callback may be sent to `ip` in `mode`. The sandbox allows loopback (a merchant's
/// receiver on the same machine); production allows only public unicast addresses.
pub fn address_allowed(ip: IpAddr, mode: Mode) -> bool {
    if mode == Mode::Sandbox {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local() // 169.254.0.0/16, incl. the cloud metadata address
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return address_allowed(IpAddr::V4(v4), mode);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        }
    }
}

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

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TargetRefused(pub String);

/// Checks a merchant-supplied URL (postLink, backLink, ...) when it is given: http(s), and in
/// production no loopback, private or link-local target named directly.
/// Whether `url` is an absolute http(s) URL: the one check for every link the gateway sends a
/// browser to or a callback to (a `javascript:` or `data:` link would run in the page's origin).
pub fn is_http_url(url: &str) -> bool {
    url::Url::parse(url.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

pub fn check_target_url(url: &str, mode: Mode) -> Result<(), TargetRefused> {
    if url.trim().is_empty() {
        return Ok(());
    }
    let parsed = url::Url::parse(url.trim()).map_err(|_| TargetRefused(format!("{url:?} is not a valid URL")))?;
    if !is_http_url(url) {
        return Err(TargetRefused(format!("{url:?} must be an http or https URL")));
    }
    if mode == Mode::Production {
        let refused = || TargetRefused(format!("{url:?} points to an address callbacks may not be sent to"));
        match parsed.host() {
            Some(url::Host::Ipv4(ip)) if !address_allowed(IpAddr::V4(ip), mode) => return Err(refused()),
            Some(url::Host::Ipv6(ip)) if !address_allowed(IpAddr::V6(ip), mode) => return Err(refused()),
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") => {
                return Err(refused())
            }
            None => return Err(refused()),
            _ => {}
        }
    }
    Ok(())
}

pub struct Deliverer {
    client: reqwest::Client,
    mode: Mode,
    retry_secs: Vec<u64>,
    node: String,
}

impl Deliverer {
    pub fn new(mode: Mode, timeout: Duration, retry_secs: Vec<u64>, node: String) -> Deliverer {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .dns_resolver(Arc::new(GuardedResolver { mode }))
            .user_agent(concat!("epay-callbacks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with these settings builds");
        Deliverer { client, mode, retry_secs, node }
    }

    /// What follows attempt number `attempt_no` (1-based) if it failed.
    pub fn after_failure(&self, attempt_no: i32, now_ms: i64) -> CallbackNext {
        match self.retry_secs.get(attempt_no.max(1) as usize - 1) {
            Some(wait) => CallbackNext::RetryAt(now_ms + *wait as i64 * 1000),
            None => CallbackNext::GiveUp,
        }
    }

    /// Sends one attempt of `event`; returns its log entry and whether it was delivered.
    pub async fn attempt(&self, event: &CallbackEvent, started_at_ms: i64) -> (CallbackAttempt, bool) {
        let started = Instant::now();
        let result = self.send(event).await;
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

    async fn send(&self, event: &CallbackEvent) -> Result<(u16, String), String> {
        check_target_url(&event.url, self.mode).map_err(|e| e.0)?;
        // The signature timestamp is real time (not the sandbox clock): receivers compare it
        // with their own clock to refuse replays.
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let signature = sign(&event.webhook_secret, &event.id, timestamp, &event.payload);
        let response = self
            .client
            .post(&event.url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(event.payload.clone())
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
    fn production_refuses_internal_addresses() {
        let p = Mode::Production;
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!address_allowed(ip.parse().unwrap(), p), "{ip}");
        }
        for ip in ["8.8.8.8", "2a00:1450:4001::1"] {
            assert!(address_allowed(ip.parse().unwrap(), p), "{ip}");
        }
        assert!(address_allowed("127.0.0.1".parse().unwrap(), Mode::Sandbox));
        assert!(check_target_url("http://127.0.0.1:9/x", p).is_err());
        assert!(check_target_url("http://localhost/x", p).is_err());
        assert!(check_target_url("http://[::1]/x", p).is_err());
        assert!(check_target_url("ftp://example.com/x", p).is_err());
        assert!(check_target_url("https://example.com/x", p).is_ok());
        assert!(check_target_url("http://127.0.0.1:9/x", Mode::Sandbox).is_ok());
        assert!(check_target_url("", p).is_ok());
    }
}
