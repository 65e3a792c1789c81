//! What a token lets its holder decide, and what it does not (DESIGN §5a).
//!
//! The payment page's token travels to the shopper's browser inside `params`, and the same token
//! works on the API: whatever a request body or the page may choose, a shopper may choose. So the
//! values that decide where money or the merchant's secrets go come from the merchant's
//! server-side token request, and a request may only repeat them:
//! - the customer (`accountId`) whose saved cards may be listed or used;
//! - the callback links (`postLink`, `failurePostLink`), which carry the token's `secret_hash`;
//! - the terminal, which a page or body may name differently (seeds 000 to 002 do): the token's
//!   wins.

use epay_store::{Terminal, TokenRecord};

use crate::platform::config::Mode;

/// The customer a request acts for: the token's when it names one (a request naming another is
/// refused), otherwise the request's own `accountId` (ePay's token request has none).
pub fn account_id(token: &TokenRecord, requested: &str) -> Result<String, String> {
    let requested = requested.trim();
    match token.account_id.as_deref() {
        Some(bound) if !requested.is_empty() && requested != bound => {
            Err(format!("accountId {requested:?} does not match the token's accountId"))
        }
        Some(bound) => Ok(bound.to_string()),
        None => Ok(requested.to_string()),
    }
}

/// The terminal a request acts on. The token's, when it names one: it is the merchant's
/// server-side binding. Seeds 000, 001 and 002 name one terminal in the token request and another
/// in the page's payment object or the API body, so a page copied from them would fail if a
/// mismatch were refused; the other terminal is ignored instead, and the mismatch is logged (with
/// ids only) for the merchant's operators. A token without a terminal takes the request's (the
/// caller checks that it is the merchant's).
pub fn terminal_id(token: &TokenRecord, requested: Option<&str>) -> Option<String> {
    let requested = requested.map(str::trim).filter(|t| !t.is_empty());
    match (token.terminal_id.as_deref(), requested) {
        (Some(bound), Some(asked)) => {
            if bound != asked {
                tracing::warn!(
                    merchant_id = %token.merchant_id,
                    token_terminal = %bound,
                    requested_terminal = ?crate::wire::echoed(asked),
                    invoice_id = ?token.invoice_id,
                    "the request names another terminal than its token; the token's terminal is used"
                );
            }
            Some(bound.to_string())
        }
        (Some(bound), None) => Some(bound.to_string()),
        (None, asked) => asked.map(str::to_string),
    }
}

/// Where a transaction's callbacks go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackLinks {
    pub post_link: String,
    pub failure_post_link: String,
}

/// The callback links of a transaction. Links bound in the token win, and a request cannot change
/// them. When the token binds none, ePay integrations name them in the page's `paymentObject` or
/// the API body (seeds 000, 002, 003); such a link is used only when the merchant vouched for its
/// origin server-side (the terminal's `callback_origins`), or, in the sandbox, when it is on a
/// loopback host (a developer's receiver on the same machine). Anything else is refused, so a
/// shopper can never send the merchant's callbacks, and the token's `secret_hash`, to a server of
/// their own.
pub fn callback_links(
    token: &TokenRecord,
    terminal: &Terminal,
    requested_post_link: &str,
    requested_failure_post_link: &str,
    mode: Mode,
) -> Result<CallbackLinks, String> {
    // A malformed or forbidden link is bad input even where the token's links win.
    for (name, link) in [("postLink", requested_post_link), ("failurePostLink", requested_failure_post_link)] {
        crate::services::links::check_link(name, link, mode).map_err(|e| format!("{name}: {e}"))?;
    }
    if !token.post_link.is_empty() || !token.failure_post_link.is_empty() {
        return Ok(CallbackLinks {
            post_link: token.post_link.clone(),
            failure_post_link: token.failure_post_link.clone(),
        });
    }
    for (name, link) in [("postLink", requested_post_link), ("failurePostLink", requested_failure_post_link)] {
        if !link.trim().is_empty() && !vouched_for(link, terminal, mode) {
            return Err(format!(
                "{name} {link:?} is not accepted from the request: give it in the token request, or register \
                 its origin for the terminal (epay terminal update --callback-origin)"
            ));
        }
    }
    Ok(CallbackLinks {
        post_link: requested_post_link.trim().to_string(),
        failure_post_link: requested_failure_post_link.trim().to_string(),
    })
}

/// Whether the merchant vouched for a link named by a request rather than the token.
fn vouched_for(link: &str, terminal: &Terminal, mode: Mode) -> bool {
    let Ok(url) = url::Url::parse(link.trim()) else { return false };
    if mode == Mode::Sandbox && is_loopback_host(&url) {
        return true;
    }
    terminal.callback_origins.iter().any(|origin| origin_matches(origin, &url))
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `origin` is `scheme://host` (any port) or `scheme://host:port`, as registered for a terminal.
fn origin_matches(origin: &str, url: &url::Url) -> bool {
    let Ok(registered) = url::Url::parse(origin) else { return false };
    let same_host = match (registered.host_str(), url.host_str()) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    };
    let port_ok = match registered.port() {
        Some(port) => url.port_or_known_default() == Some(port),
        None => url.port().is_none() || origin_names_no_port(origin),
    };
    registered.scheme() == url.scheme() && same_host && port_ok
}

/// `https://shop.kz` and `https://[2001:db8::1]` name no port: any port of that host is the
/// merchant's.
fn origin_names_no_port(origin: &str) -> bool {
    let rest = origin.split_once("://").map(|(_, r)| r).unwrap_or(origin).trim_end_matches('/');
    let after_host = rest.rsplit_once(']').map(|(_, tail)| tail).unwrap_or(rest);
    !after_host.contains(':')
}

/// Checks a callback origin an operator registers for a terminal: `http(s)://host[:port]`,
/// nothing after it.
pub fn parse_callback_origin(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text.trim()).map_err(|_| format!("{text:?} is not a URL origin"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{text:?} must be http(s)://host[:port]"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("{text:?} must be an origin only: http(s)://host[:port], no path"));
    }
    Ok(text.trim().trim_end_matches('/').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(post: &str, account: Option<&str>) -> TokenRecord {
        TokenRecord {
            token_digest: String::new(),
            merchant_id: "m".into(),
            terminal_id: None,
            scope: "payment".into(),
            invoice_id: None,
            amount_minor: None,
            currency: None,
            post_link: post.into(),
            failure_post_link: String::new(),
            secret_hash: Some("s".into()),
            transfer_kind: None,
            account_id: account.map(str::to_string),
            expires_at: 0,
            generation: 0,
            used_at: None,
            created_at: 0,
        }
    }

    fn terminal(origins: &[&str]) -> Terminal {
        Terminal { callback_origins: origins.iter().map(|s| s.to_string()).collect(), ..Terminal::default() }
    }

    #[test]
    fn token_links_win() {
        let links = callback_links(
            &token("https://shop.kz/cb", None),
            &terminal(&[]),
            "https://evil.kz/",
            "",
            Mode::Production,
        )
        .unwrap();
        assert_eq!(links.post_link, "https://shop.kz/cb");
        assert_eq!(links.failure_post_link, "");
    }

    #[test]
    fn request_links_need_a_vouched_origin() {
        let t = token("", None);
        let shop = terminal(&["https://shop.kz"]);
        let ok = |link: &str, term: &Terminal, mode| callback_links(&t, term, link, "", mode).is_ok();
        assert!(ok("https://shop.kz/cb", &shop, Mode::Production));
        assert!(ok("https://SHOP.kz:8443/cb", &shop, Mode::Production));
        assert!(!ok("http://shop.kz/cb", &shop, Mode::Production), "scheme is part of the origin");
        assert!(!ok("https://shop.kz.evil.com/cb", &shop, Mode::Production));
        assert!(!ok("https://evil.kz/cb", &shop, Mode::Production));
        assert!(!ok("http://127.0.0.1:9000/cb", &shop, Mode::Production));
        assert!(ok("http://127.0.0.1:9000/cb", &terminal(&[]), Mode::Sandbox), "sandbox: loopback receivers");
        assert!(!ok("https://evil.kz/cb", &terminal(&[]), Mode::Sandbox));
        assert!(ok("", &terminal(&[]), Mode::Production), "no link at all is fine");
        let v6 = terminal(&["https://[2a00:1450::1]"]);
        assert!(ok("https://[2a00:1450::1]:8443/cb", &v6, Mode::Production), "IPv6 origin without a port");
        let port = terminal(&["https://shop.kz:8443"]);
        assert!(ok("https://shop.kz:8443/x", &port, Mode::Production));
        assert!(!ok("https://shop.kz/x", &port, Mode::Production));
    }

    #[test]
    fn the_tokens_terminal_governs() {
        let bound = TokenRecord { terminal_id: Some("t-1".into()), ..token("", None) };
        assert_eq!(terminal_id(&bound, Some("t-2")), Some("t-1".into()), "seed 000: the page names another");
        assert_eq!(terminal_id(&bound, Some(" t-1 ")), Some("t-1".into()));
        assert_eq!(terminal_id(&bound, None), Some("t-1".into()));
        let unbound = token("", None);
        assert_eq!(terminal_id(&unbound, Some("t-2")), Some("t-2".into()));
        assert_eq!(terminal_id(&unbound, Some("  ")), None);
    }

    #[test]
    fn account_binding() {
        assert_eq!(account_id(&token("", Some("alice")), ""), Ok("alice".into()));
        assert_eq!(account_id(&token("", Some("alice")), "alice"), Ok("alice".into()));
        assert!(account_id(&token("", Some("alice")), "bob").is_err());
        assert_eq!(account_id(&token("", None), "bob"), Ok("bob".into()));
    }

    #[test]
    fn origins_are_checked() {
        assert_eq!(parse_callback_origin("https://Shop.kz/"), Ok("https://shop.kz".into()));
        assert!(parse_callback_origin("https://shop.kz/cb").is_err());
        assert!(parse_callback_origin("ftp://shop.kz").is_err());
        assert!(parse_callback_origin("shop.kz").is_err());
    }
}
