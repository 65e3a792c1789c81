//! Abuse limits: secret guessing at the token endpoint and card testing at the payment
//! endpoints. They count *failures* (a wrong secret, a declined card) in fixed windows, so
//! honest traffic at any rate never meets them; a key that failed too often is refused with
//! `429` and `Retry-After` until its window ends.
//!
//! Two kinds of counter. Secret guessing at the token endpoint and bad cryptograms are counted
//! in the store ([`SharedGuard`], table `abuse_counters`), so every node behind a balancer sees
//! the same counts. Card testing (declines per card and per terminal) and failed phone lookups
//! are counted in this process ([`Guard`]): they sit on the payment hot path, and with several
//! nodes the effective limit is the configured one times the nodes (docs/security.md).

use std::collections::HashMap;
use std::sync::Mutex;

use epay_store::{AbuseWindow, StoreError};

/// Entries kept before expired windows are swept out, bounding memory under a flood of keys.
const SWEEP_AT: usize = 100_000;

/// What is limited, and how many failures each allows per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub failures: u32,
    pub window_secs: i64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started_ms: i64,
    failures: u32,
}

/// The configured limits (crate::platform::config::Config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub token_per_client: Limit,
    pub token_per_ip: Limit,
    pub card: Limit,
    pub terminal: Limit,
    /// Failed phone lookups per token (over its life) and per terminal.
    pub phone_per_token: Limit,
    pub phone_per_terminal: Limit,
    /// Cryptogram attempts a page token allows, and cryptogram failures per address.
    pub cryptogram_per_token: u32,
    pub cryptogram_per_ip: Limit,
}

impl Limits {
    pub fn from_config(c: &crate::platform::config::Config) -> Limits {
        Limits {
            token_per_client: Limit { failures: c.token_failures_per_client, window_secs: 300 },
            token_per_ip: Limit { failures: c.token_failures_per_ip, window_secs: 300 },
            card: Limit { failures: c.card_failures_per_card, window_secs: 600 },
            terminal: Limit { failures: c.card_failures_per_terminal, window_secs: 60 },
            // A token lives at most token_ttl_secs: its window covers its whole life.
            phone_per_token: Limit { failures: c.phone_failures_per_token, window_secs: c.token_ttl_secs.max(1) },
            phone_per_terminal: Limit { failures: c.phone_failures_per_terminal, window_secs: 600 },
            cryptogram_per_token: c.cryptogram_attempts_per_token,
            cryptogram_per_ip: Limit { failures: c.cryptogram_failures_per_ip, window_secs: 600 },
        }
    }
}

/// The keys a card attempt counts against: the card (by its keyed fingerprint, never the
/// number) and the terminal.
pub fn card_keys(card_fingerprint: &str, terminal_id: &str, limits: &Limits) -> [(String, Limit); 2] {
    [(format!("card:{card_fingerprint}"), limits.card), (format!("terminal:{terminal_id}"), limits.terminal)]
}

/// The keys a token request counts against: the client id (bounded in length) *from this
/// address*, and the address. Never the client id alone: then anyone could lock a merchant out
/// of its own token endpoint by guessing from elsewhere.
pub fn token_keys(client_id: &str, from: Option<std::net::IpAddr>, limits: &Limits) -> Vec<(String, Limit)> {
    let client: String = client_id.chars().take(128).collect();
    let address = from.map_or_else(|| "local".to_string(), |ip| ip.to_string());
    let mut keys = vec![(format!("token-client:{address}|{client}"), limits.token_per_client)];
    if from.is_some() {
        keys.push((format!("token-ip:{address}"), limits.token_per_ip));
    }
    keys
}

/// The keys a failed phone lookup (OCT to `TYPEPHONE`) counts against: the token and the
/// terminal, like card testing.
pub fn phone_keys(token_digest: &str, terminal_id: &str, limits: &Limits) -> [(String, Limit); 2] {
    [
        (format!("phone-token:{token_digest}"), limits.phone_per_token),
        (format!("phone-terminal:{terminal_id}"), limits.phone_per_terminal),
    ]
}

/// The key a cryptogram failure counts against besides its token: the address.
pub fn cryptogram_address_key(from: Option<std::net::IpAddr>, limits: &Limits) -> Option<(String, Limit)> {
    from.map(|ip| (format!("cryptogram-ip:{ip}"), limits.cryptogram_per_ip))
}

/// Borrowed view of owned keys, for [`Guard::check_all`] and [`Guard::fail_all`].
pub fn as_refs(keys: &[(String, Limit)]) -> Vec<(&str, Limit)> {
    keys.iter().map(|(k, l)| (k.as_str(), *l)).collect()
}

#[derive(Default)]
pub struct Guard {
    windows: Mutex<HashMap<String, Window>>,
}

/// A refusal: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany {
    pub retry_after_secs: u64,
}

impl Guard {
    /// Refuses `key` while it has used up `limit` in its current window.
    pub fn check(&self, key: &str, limit: Limit, now_ms: i64) -> Result<(), TooMany> {
        if limit.failures == 0 {
            return Ok(());
        }
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match windows.get(key) {
            Some(w) if now_ms < w.started_ms + limit.window_secs * 1000 && w.failures >= limit.failures => {
                let left_ms = w.started_ms + limit.window_secs * 1000 - now_ms;
                Err(TooMany { retry_after_secs: (left_ms as u64).div_ceil(1000).max(1) })
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure of `key`.
    pub fn fail(&self, key: &str, limit: Limit, now_ms: i64) {
        if limit.failures == 0 {
            return;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, w| now_ms < w.started_ms + limit.window_secs * 1000);
        }
        let w = windows.entry(key.to_string()).or_insert(Window { started_ms: now_ms, failures: 0 });
        if now_ms >= w.started_ms + limit.window_secs * 1000 {
            *w = Window { started_ms: now_ms, failures: 0 };
        }
        w.failures += 1;
    }

    /// Checks several keys at once; the longest wait wins.
    pub fn check_all(&self, keys: &[(&str, Limit)], now_ms: i64) -> Result<(), TooMany> {
        let mut worst: Option<TooMany> = None;
        for (key, limit) in keys {
            if let Err(t) = self.check(key, *limit, now_ms) {
                worst = Some(worst.map_or(t, |w| if t.retry_after_secs > w.retry_after_secs { t } else { w }));
            }
        }
        worst.map_or(Ok(()), Err)
    }

    pub fn fail_all(&self, keys: &[(&str, Limit)], now_ms: i64) {
        for (key, limit) in keys {
            self.fail(key, *limit, now_ms);
        }
    }
}

/// Counters kept in the store (table `abuse_counters`), shared by every gateway node on one
/// database: a node that restarts or a request that lands elsewhere meets the same counts.
pub struct SharedGuard<'a> {
    pub store: &'a dyn epay_store::Store,
}

impl SharedGuard<'_> {
    /// Refuses while any key has used up its limit in its window; the longest wait wins. Every
    /// key's window comes from one read.
    pub async fn check_all(&self, keys: &[(String, Limit)], now_ms: i64) -> Result<Result<(), TooMany>, StoreError> {
        let limited: Vec<&str> = keys.iter().filter(|(_, l)| l.failures > 0).map(|(k, _)| k.as_str()).collect();
        let windows = self.store.abuse_windows(&limited, now_ms).await?;
        let mut worst: Option<TooMany> = None;
        for (key, limit) in keys.iter().filter(|(_, l)| l.failures > 0) {
            let Some((_, window)) = windows.iter().find(|(open, _)| open == key) else { continue };
            if window.failures >= i64::from(limit.failures) {
                let t = too_many_until(window.expires_ms, now_ms);
                worst = Some(worst.map_or(t, |w| if t.retry_after_secs > w.retry_after_secs { t } else { w }));
            }
        }
        Ok(worst.map_or(Ok(()), Err))
    }

    /// Counts one failure of every key, in one statement.
    pub async fn fail_all(&self, keys: &[(String, Limit)], now_ms: i64) -> Result<(), StoreError> {
        let limited: Vec<(&str, i64)> = keys
            .iter()
            .filter(|(_, l)| l.failures > 0)
            .map(|(key, limit)| (key.as_str(), limit.window_secs * 1000))
            .collect();
        self.store.abuse_count_all(&limited, now_ms).await
    }

    /// Reserves one attempt of `key` before the thing it limits is tried, so concurrent
    /// attempts cannot all pass a check made before any of them failed. Refused once `limit`
    /// attempts are counted in the window.
    /// Answers the window with this attempt counted (no failures when the limit is off).
    pub async fn reserve(
        &self,
        key: &str,
        limit: Limit,
        now_ms: i64,
    ) -> Result<Result<AbuseWindow, TooMany>, StoreError> {
        if limit.failures == 0 {
            return Ok(Ok(AbuseWindow { failures: 0, expires_ms: now_ms, counted: false }));
        }
        let window =
            self.store.abuse_count(key, limit.window_secs * 1000, now_ms, Some(i64::from(limit.failures))).await?;
        Ok(if window.counted { Ok(window) } else { Err(too_many_until(window.expires_ms, now_ms)) })
    }

    /// Forgets `key`'s attempts (a success that clears them).
    pub async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.store.abuse_clear(key).await
    }
}

fn too_many_until(expires_ms: i64, now_ms: i64) -> TooMany {
    TooMany { retry_after_secs: ((expires_ms - now_ms).max(0) as u64).div_ceil(1000).max(1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE_PER_MINUTE: Limit = Limit { failures: 3, window_secs: 60 };

    #[test]
    fn refuses_after_the_limit_until_the_window_ends() {
        let g = Guard::default();
        for _ in 0..3 {
            assert!(g.check("k", THREE_PER_MINUTE, 1_000).is_ok());
            g.fail("k", THREE_PER_MINUTE, 1_000);
        }
        assert_eq!(g.check("k", THREE_PER_MINUTE, 1_000), Err(TooMany { retry_after_secs: 60 }));
        assert_eq!(g.check("k", THREE_PER_MINUTE, 31_000), Err(TooMany { retry_after_secs: 30 }));
        assert!(g.check("other", THREE_PER_MINUTE, 31_000).is_ok(), "keys are independent");
        assert!(g.check("k", THREE_PER_MINUTE, 61_000).is_ok(), "a new window");
        g.fail("k", THREE_PER_MINUTE, 61_000);
        assert!(g.check("k", THREE_PER_MINUTE, 61_000).is_ok(), "the count restarted");
    }

    #[test]
    fn zero_means_no_limit_and_the_longest_wait_wins() {
        let g = Guard::default();
        let off = Limit { failures: 0, window_secs: 60 };
        for _ in 0..10 {
            g.fail("k", off, 0);
        }
        assert!(g.check("k", off, 0).is_ok());
        let long = Limit { failures: 1, window_secs: 600 };
        g.fail_all(&[("a", THREE_PER_MINUTE), ("a", THREE_PER_MINUTE), ("a", THREE_PER_MINUTE), ("b", long)], 0);
        assert_eq!(g.check_all(&[("a", THREE_PER_MINUTE), ("b", long)], 0), Err(TooMany { retry_after_secs: 600 }));
    }
}
