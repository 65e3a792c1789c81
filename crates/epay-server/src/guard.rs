//! Abuse limits: secret guessing at the token endpoint and card testing at the payment
//! endpoints. They count *failures* (a wrong secret, a declined card) in fixed windows, so
//! honest traffic at any rate never meets them; a key that failed too often is refused with
//! `429` and `Retry-After` until its window ends.
//!
//! Counters live in this process: with several nodes each counts what it sees, so the effective
//! limit is the configured one times the nodes behind the balancer (docs/security.md).

use std::collections::HashMap;
use std::sync::Mutex;

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

/// The configured limits (crate::config::Config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub token_per_client: Limit,
    pub token_per_ip: Limit,
    pub card: Limit,
    pub terminal: Limit,
}

impl Limits {
    pub fn from_config(c: &crate::config::Config) -> Limits {
        Limits {
            token_per_client: Limit { failures: c.token_failures_per_client, window_secs: 300 },
            token_per_ip: Limit { failures: c.token_failures_per_ip, window_secs: 300 },
            card: Limit { failures: c.card_failures_per_card, window_secs: 600 },
            terminal: Limit { failures: c.card_failures_per_terminal, window_secs: 60 },
        }
    }
}

/// The keys a card attempt counts against: the card (by its keyed fingerprint, never the
/// number) and the terminal.
pub fn card_keys(card_fingerprint: &str, terminal_id: &str, limits: &Limits) -> [(String, Limit); 2] {
    [(format!("card:{card_fingerprint}"), limits.card), (format!("terminal:{terminal_id}"), limits.terminal)]
}

/// The keys a token request counts against: the client id (bounded in length) and the address.
pub fn token_keys(client_id: &str, from: Option<std::net::IpAddr>, limits: &Limits) -> Vec<(String, Limit)> {
    let client: String = client_id.chars().take(128).collect();
    let mut keys = vec![(format!("token-client:{client}"), limits.token_per_client)];
    if let Some(ip) = from {
        keys.push((format!("token-ip:{ip}"), limits.token_per_ip));
    }
    keys
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
