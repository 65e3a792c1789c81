//! Which links a merchant may hand in, and where a callback may go: absolute http(s) URLs, in
//! production never a loopback, private, link-local or metadata address named directly, and a
//! callback never to the gateway's own address. A policy, not a transport: the services check
//! links with it when a request comes in, and the delivery adapter (`crate::runtime::delivery`) checks
//! again at send time.

use std::net::{IpAddr, SocketAddr};

use crate::platform::config::Mode;

/// Whether a callback may be sent to `ip` in `mode`. The sandbox allows loopback (a merchant's
/// receiver on the same machine); production allows only public unicast addresses: nothing in
/// IANA's special-purpose registries, judged by the embedded IPv4 where there is one
/// (`netblocks`).
pub fn address_allowed(ip: IpAddr, mode: Mode) -> bool {
    mode == Mode::Sandbox || crate::platform::netblocks::special_purpose(ip).is_none()
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
    fn current(config: Option<&crate::platform::config::Config>) -> OwnAddresses {
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
fn check_not_own(
    url: &url::Url,
    raw: &str,
    config: Option<&crate::platform::config::Config>,
) -> Result<(), TargetRefused> {
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
pub fn check_callback_target(url: &str, config: &crate::platform::config::Config) -> Result<(), String> {
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
pub async fn check_not_resolving_to_own(url: &str) -> Result<(), TargetRefused> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
