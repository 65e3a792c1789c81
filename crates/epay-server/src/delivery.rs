//! Callback delivery over HTTP: signed (Standard Webhooks), bounded (timeouts, reply size, no
//! redirects) and, in production mode, never to loopback, private, link-local or metadata
//! addresses — checked on the address actually connected to, so DNS cannot smuggle one in.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use epay_domain::Secret;
use epay_store::{CallbackAttempt, CallbackEvent, CallbackNext};

use crate::clock::Clock;
use crate::config::Mode;
use crate::services::callbacks::sign;

/// The most of a merchant's reply we read; the rest is dropped.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// The most of a reply we keep in the attempt log.
const EXCERPT_CHARS: usize = 256;

/// Whether a callback may be sent to `ip` in `mode`. The sandbox allows loopback (a merchant's
/// receiver on the same machine); production allows only public unicast addresses: nothing in
/// IANA's special-purpose registries, judged by the embedded IPv4 where there is one
/// (`netblocks`).
pub fn address_allowed(ip: IpAddr, mode: Mode) -> bool {
    mode == Mode::Sandbox || crate::netblocks::special_purpose(ip).is_none()
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

/// The gateway's own addresses: where it listens, and its public base URL's host and port. A
/// callback to one of them would make the gateway call itself (in the sandbox, its clock).
#[derive(Debug, Clone, Default)]
struct OwnAddresses {
    listen: Vec<SocketAddr>,
    public: Option<(String, u16)>,
}

/// Set once the listeners are bound (the real port is known only then; see `epay serve`).
static OWN_ADDRESSES: std::sync::RwLock<Option<OwnAddresses>> = std::sync::RwLock::new(None);

/// Records the addresses callbacks must never target: the bound listen addresses and the
/// configured public URL.
pub fn set_own_addresses(listen: &[SocketAddr], public_url: Option<&str>) {
    let own = OwnAddresses { listen: listen.to_vec(), public: public_url.and_then(host_and_port) };
    *OWN_ADDRESSES.write().unwrap_or_else(|e| e.into_inner()) = Some(own);
}

fn host_and_port(url: &str) -> Option<(String, u16)> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    Some((parsed.host_str()?.trim_matches(['[', ']']).to_ascii_lowercase(), parsed.port_or_known_default()?))
}

/// Whether `ip` reaches a listener bound to `listen` on this machine: the same address, or any
/// loopback or unspecified address when it listens on loopback or on every interface.
fn reaches_listener(ip: IpAddr, listen: &SocketAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let local = ip.is_loopback() || ip.is_unspecified();
    ip == listen.ip() || (local && (listen.ip().is_loopback() || listen.ip().is_unspecified()))
}

impl OwnAddresses {
    fn current(config: Option<&crate::config::Config>) -> OwnAddresses {
        let mut own = OWN_ADDRESSES.read().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default();
        if let Some(config) = config {
            own.listen.push(config.listen);
            if own.public.is_none() {
                own.public = config.public_url.as_deref().and_then(host_and_port);
            }
        }
        own
    }

    /// Whether `host:port` (as written in a URL) is the gateway itself.
    fn is_own(&self, host: &url::Host<&str>, port: u16) -> bool {
        let name = match host {
            url::Host::Domain(d) => d.to_ascii_lowercase(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        if self.public.as_ref().is_some_and(|(h, p)| *h == name && *p == port) {
            return true;
        }
        let listeners = self.listen.iter().filter(|l| l.port() == port);
        match host {
            url::Host::Domain(d) => {
                let d = d.to_ascii_lowercase();
                (d == "localhost" || d.ends_with(".localhost")) && listeners.count() > 0
            }
            url::Host::Ipv4(ip) => listeners.clone().any(|l| reaches_listener(IpAddr::V4(*ip), l)),
            url::Host::Ipv6(ip) => listeners.clone().any(|l| reaches_listener(IpAddr::V6(*ip), l)),
        }
    }

    /// Whether any resolved address of `host:port` is one of the gateway's listeners.
    async fn resolves_to_own(&self, host: &str, port: u16) -> bool {
        let Ok(addrs) = tokio::net::lookup_host((host, port)).await else {
            return false; // the delivery itself will fail to resolve it
        };
        addrs.into_iter().any(|a| self.listen.iter().any(|l| l.port() == a.port() && reaches_listener(a.ip(), l)))
    }
}

fn refused_as_own(url: &str) -> TargetRefused {
    TargetRefused(format!("{url:?} points to the gateway itself; callbacks go to the merchant's server"))
}

/// Checks a callback or return link against the gateway's own addresses, as written: its
/// listen address and port (any loopback alias of it, `localhost`) and its public URL.
fn check_not_own(url: &url::Url, raw: &str, config: Option<&crate::config::Config>) -> Result<(), TargetRefused> {
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return Ok(());
    };
    if OwnAddresses::current(config).is_own(&host, port) {
        return Err(refused_as_own(raw));
    }
    Ok(())
}

/// The ePay fields that name a server-to-server callback (the others are browser redirects,
/// which may well lead back to the gateway's own pages).
const CALLBACK_FIELDS: [&str; 2] = ["postLink", "failurePostLink"];

/// Checks a link a merchant hands in, by its ePay field name: `check_target_url`, and for a
/// callback field also never the gateway's own address (as recorded by `set_own_addresses`).
pub fn check_link(field: &str, url: &str, mode: Mode) -> Result<(), TargetRefused> {
    check_target_url(url, mode)?;
    match url::Url::parse(url.trim()) {
        Ok(parsed) if CALLBACK_FIELDS.contains(&field) => check_not_own(&parsed, url, None),
        _ => Ok(()),
    }
}

/// The full check of a callback link (postLink, failurePostLink, backLink, ...):
/// `check_target_url`, plus never the gateway's own listen or public address.
pub fn check_callback_target(url: &str, config: &crate::config::Config) -> Result<(), String> {
    check_target_url(url, config.mode).map_err(|e| e.0)?;
    match url::Url::parse(url.trim()) {
        Ok(parsed) => check_not_own(&parsed, url, Some(config)).map_err(|e| e.0),
        Err(_) => Ok(()), // empty: check_target_url accepted it
    }
}

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

/// At delivery: a name that resolves to one of the gateway's listeners (e.g. a DNS name for
/// 127.0.0.1) is refused too. (A name whose answer changes between this look-up and the
/// connection is caught in production by the resolver's address filter; the sandbox allows
/// loopback receivers, so there this check is the guard.)
async fn check_not_resolving_to_own(url: &str) -> Result<(), TargetRefused> {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return Ok(());
    };
    let (Some(url::Host::Domain(host)), Some(port)) = (parsed.host(), parsed.port_or_known_default()) else {
        return Ok(());
    };
    if OwnAddresses::current(None).resolves_to_own(host, port).await {
        return Err(refused_as_own(url));
    }
    Ok(())
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
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::808:808",
            "2002:7f00:1::",
            "fec0::1",
            "198.18.0.1",
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
        assert!(check_target_url("http://[::127.0.0.1]/x", p).is_err());
        assert!(check_target_url("http://[64:ff9b::a9fe:a9fe]/x", p).is_err());
        assert!(check_target_url("http://198.18.0.1/x", p).is_err());
        assert!(check_target_url("ftp://example.com/x", p).is_err());
        assert!(check_target_url("https://example.com/x", p).is_ok());
        assert!(check_target_url("http://127.0.0.1:9/x", Mode::Sandbox).is_ok());
        assert!(check_target_url("", p).is_ok());
    }
}
