//! This node's in-memory copy of what every request reads and almost nothing writes: merchants
//! and terminals. Only the bookkeeping lives here; `config_watch.rs` tells it when the
//! database changed, and `merchants.rs` reads through it.
//!
//! Correctness rests on three rules:
//!
//! - **Served only while recently confirmed.** A background task (`config_watch`) reads the
//!   database's configuration version (migration 0018: triggers raise it on every change) every
//!   [`POLL_INTERVAL`]. Each successful read makes the cache servable until
//!   [`CONFIG_STALENESS`] after the moment that read was sent; a version the cache has not seen
//!   empties it first. So an entry served at time T was checked against the database at some
//!   moment after T − 1 s. With no watcher running (the CLI, a test's own store) or with the
//!   database unreachable, nothing is served from memory at all: every read goes to the database.
//! - **No stale install.** Emptying the cache raises a local epoch. A read takes a [`Ticket`]
//!   (the epoch) before it asks the database, and its answer is kept only if the epoch is still
//!   the same when it comes back. Otherwise a read that started before a change and finished
//!   after the cache learned of it would put the old row back, to be served until the next
//!   change.
//! - **Bounded.** Each table keeps at most `max_found` rows and, separately, `max_missing`
//!   "no such row" answers; a full half is emptied (only that half), so ids probed by an
//!   attacker can neither grow memory nor push the real merchants out.
//!
//! Money never depends on this copy alone: the reads a payment's transaction makes (the
//! terminal's attempt limit, the terminal lock of a transfer) go to the database inside the
//! transaction, as before.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::{Merchant, Terminal};

/// The longest a change made elsewhere (another node, `epay terminal update`, a hand edit) can go
/// unseen by a running gateway. Also how long after the last successful version check the cache
/// turns itself off.
pub const CONFIG_STALENESS: Duration = Duration::from_secs(1);

/// How often every node reads the configuration version (the safety net under PostgreSQL's
/// notifications, and the only signal on SQLite).
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Rows kept per table, and "no such row" answers kept per table.
const MAX_FOUND: usize = 10_000;
const MAX_MISSING: usize = 1_000;

/// What a read of the cache answers.
#[derive(Debug)]
pub(crate) enum Lookup<V> {
    /// The cached answer (`None`: the database had no such row).
    Hit(Option<V>),
    /// Not cached: read the database, then offer the answer back with this ticket.
    Miss(Ticket),
    /// The cache is not serving (no recent version check): read the database, keep nothing.
    Off,
}

/// The epoch a read started in; its answer is kept only if no invalidation happened since.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
}

/// One cached table: rows found by key, and keys the database had no row for.
pub(crate) struct Table<V> {
    found: HashMap<String, V>,
    missing: HashSet<String>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table { found: HashMap::new(), missing: HashSet::new() }
    }
}

impl<V> Table<V> {
    fn clear(&mut self) {
        self.found.clear();
        self.missing.clear();
    }

    fn len(&self) -> usize {
        self.found.len() + self.missing.len()
    }
}

/// See [`ConfigCache::changing`].
pub(crate) struct Changing<'a>(&'a ConfigCache);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}

/// Everything under the cache's one lock.
#[derive(Default)]
pub(crate) struct State {
    /// Raised by every invalidation; see [`Ticket`].
    epoch: u64,
    /// The database's configuration version the entries were confirmed against.
    version: Option<i64>,
    /// Entries may be served until then (see the module's first rule).
    fresh_until: Option<Instant>,
    merchants: Table<Merchant>,
    merchants_by_client_id: Table<Merchant>,
    terminals: Table<Terminal>,
    terminals_of_merchant: Table<Vec<Terminal>>,
}

/// Names one table of [`State`] (the functions in [`tables`]).
pub(crate) type Pick<V> = fn(&mut State) -> &mut Table<V>;

/// The cached tables, to pass to [`ConfigCache::get`] and [`ConfigCache::put`].
pub(crate) mod tables {
    use super::*;

    /// Merchants by id.
    pub(crate) fn merchants(s: &mut State) -> &mut Table<Merchant> {
        &mut s.merchants
    }

    /// Merchants by OAuth client id.
    pub(crate) fn merchants_by_client_id(s: &mut State) -> &mut Table<Merchant> {
        &mut s.merchants_by_client_id
    }

    /// Terminals by id.
    pub(crate) fn terminals(s: &mut State) -> &mut Table<Terminal> {
        &mut s.terminals
    }

    /// A merchant's terminals, by merchant id.
    pub(crate) fn terminals_of_merchant(s: &mut State) -> &mut Table<Vec<Terminal>> {
        &mut s.terminals_of_merchant
    }
}

/// Counters for `/metrics`: reads answered from memory, reads that went to the database, and
/// how often the cache was emptied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfigCacheStats {
    pub hits: u64,
    pub misses: u64,
    pub invalidations: u64,
    /// The configuration version last confirmed (None while the cache is off).
    pub version: Option<i64>,
    /// Entries held now, over every table.
    pub entries: usize,
}

pub struct ConfigCache {
    state: Mutex<State>,
    max_found: usize,
    max_missing: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
}

impl Default for ConfigCache {
    fn default() -> Self {
        Self::with_limits(MAX_FOUND, MAX_MISSING)
    }
}

impl ConfigCache {
    pub(crate) fn with_limits(max_found: usize, max_missing: usize) -> Self {
        ConfigCache {
            state: Mutex::default(),
            max_found,
            max_missing,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves only a map half-updated: still a valid cache.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached answer for `key`, or a ticket to read it from the database with.
    pub(crate) fn get<V: Clone>(&self, table: Pick<V>, key: &str) -> Lookup<V> {
        self.get_at(table, key, Instant::now())
    }

    fn get_at<V: Clone>(&self, table: Pick<V>, key: &str, now: Instant) -> Lookup<V> {
        let mut state = self.lock();
        if state.fresh_until.is_none_or(|until| now >= until) {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Lookup::Off;
        }
        let epoch = state.epoch;
        let t = table(&mut state);
        let cached = match t.found.get(key) {
            Some(value) => Some(Some(value.clone())),
            None => t.missing.contains(key).then_some(None),
        };
        match cached {
            Some(answer) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Lookup::Hit(answer)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Lookup::Miss(Ticket { epoch })
            }
        }
    }

    /// Keeps the database's answer for `key`, unless the cache was emptied since `ticket` was
    /// taken (the answer may predate the change that emptied it).
    pub(crate) fn put<V>(&self, ticket: Ticket, table: Pick<V>, key: &str, value: Option<V>) {
        let mut state = self.lock();
        if state.epoch != ticket.epoch {
            return;
        }
        let t = table(&mut state);
        match value {
            Some(value) => {
                if t.found.len() >= self.max_found && !t.found.contains_key(key) {
                    t.found.clear();
                }
                t.missing.remove(key);
                t.found.insert(key.to_string(), value);
            }
            None => {
                if t.missing.len() >= self.max_missing && !t.missing.contains(key) {
                    t.missing.clear();
                }
                t.found.remove(key);
                t.missing.insert(key.to_string());
            }
        }
    }

    /// Empties the cache: this node changed the configuration, or was told that another did.
    pub(crate) fn invalidate(&self) {
        Self::empty(&mut self.lock());
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Empties the cache when the returned guard is dropped: a write holds it for its whole
    /// body, so the cache is emptied after the commit (or the failure: a commit whose answer
    /// was lost may still have changed the rows) on every path out of the write.
    pub(crate) fn changing(&self) -> Changing<'_> {
        Changing(self)
    }

    fn empty(state: &mut State) {
        state.epoch += 1;
        state.merchants.clear();
        state.merchants_by_client_id.clear();
        state.terminals.clear();
        state.terminals_of_merchant.clear();
    }

    /// The version check sent at `sent_at` read `version`: a version not seen before empties
    /// the cache; either way, it may be served until [`CONFIG_STALENESS`] after `sent_at`.
    pub(crate) fn confirm(&self, version: i64, sent_at: Instant) {
        let mut state = self.lock();
        if state.version != Some(version) {
            Self::empty(&mut state);
            self.invalidations.fetch_add(1, Ordering::Relaxed);
            state.version = Some(version);
        }
        state.fresh_until = Some(sent_at + CONFIG_STALENESS);
    }

    /// The version could not be checked (database unreachable, watcher stopped): empty the
    /// cache and serve nothing from memory until a check succeeds again.
    pub(crate) fn suspend(&self) {
        let mut state = self.lock();
        Self::empty(&mut state);
        state.version = None;
        state.fresh_until = None;
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> ConfigCacheStats {
        let state = self.lock();
        let entries = state.merchants.len()
            + state.merchants_by_client_id.len()
            + state.terminals.len()
            + state.terminals_of_merchant.len();
        ConfigCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            version: state.version,
            entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tables::*;
    use super::*;

    fn terminal(id: &str, name: &str) -> Terminal {
        Terminal { id: id.into(), name: name.into(), ..Terminal::default() }
    }

    fn confirmed(version: i64) -> ConfigCache {
        let cache = ConfigCache::default();
        cache.confirm(version, Instant::now());
        cache
    }

    fn ticket<V: Clone + std::fmt::Debug>(cache: &ConfigCache, table: Pick<V>, key: &str) -> Ticket {
        match cache.get(table, key) {
            Lookup::Miss(ticket) => ticket,
            other => panic!("expected a miss for {key}, got {other:?}"),
        }
    }

    fn hit<V: Clone + std::fmt::Debug>(cache: &ConfigCache, table: Pick<V>, key: &str) -> Option<V> {
        match cache.get(table, key) {
            Lookup::Hit(value) => value,
            other => panic!("expected a hit for {key}, got {other:?}"),
        }
    }

    #[test]
    fn nothing_is_served_before_a_version_check_or_after_a_failed_one() {
        let cache = ConfigCache::default();
        assert!(matches!(cache.get(terminals, "t1"), Lookup::Off), "no watcher: every read goes to the database");
        cache.confirm(7, Instant::now());
        let t = ticket(&cache, terminals, "t1");
        cache.put(t, terminals, "t1", Some(terminal("t1", "A")));
        assert_eq!(hit(&cache, terminals, "t1").unwrap().name, "A");
        cache.suspend();
        assert!(matches!(cache.get(terminals, "t1"), Lookup::Off), "database unreachable: nothing from memory");
        cache.confirm(7, Instant::now());
        ticket(&cache, terminals, "t1");
    }

    #[test]
    fn an_entry_is_not_served_longer_than_the_staleness_bound_after_the_last_check() {
        let cache = ConfigCache::default();
        let checked = Instant::now();
        cache.confirm(1, checked);
        let t = ticket(&cache, terminals, "t1");
        cache.put(t, terminals, "t1", Some(terminal("t1", "A")));
        assert!(matches!(cache.get_at(terminals, "t1", checked + CONFIG_STALENESS / 2), Lookup::Hit(Some(_))));
        // The watcher stalled (no check for a second): the cache stops answering by itself.
        assert!(matches!(cache.get_at(terminals, "t1", checked + CONFIG_STALENESS), Lookup::Off));
    }

    #[test]
    fn a_read_that_started_before_an_invalidation_is_not_installed() {
        let cache = confirmed(1);
        // A read starts and asks the database; it sees the old row.
        let before = ticket(&cache, terminals, "t1");
        let old = terminal("t1", "old");
        // Meanwhile the terminal changes and the cache learns of it.
        cache.invalidate();
        // The read finishes: its old row must not be installed.
        cache.put(before, terminals, "t1", Some(old));
        let after = ticket(&cache, terminals, "t1");
        cache.put(after, terminals, "t1", Some(terminal("t1", "new")));
        assert_eq!(hit(&cache, terminals, "t1").unwrap().name, "new");
    }

    #[test]
    fn a_new_version_from_the_poll_also_refuses_reads_that_started_before_it() {
        let cache = confirmed(1);
        let before = ticket(&cache, merchants, "m1");
        cache.confirm(2, Instant::now());
        cache.put(before, merchants, "m1", None);
        ticket(&cache, merchants, "m1");
        // The same version again keeps what was installed since.
        let t = ticket(&cache, merchants, "m1");
        cache.put(t, merchants, "m1", None);
        cache.confirm(2, Instant::now());
        assert!(hit(&cache, merchants, "m1").is_none());
        assert_eq!(cache.stats().version, Some(2));
    }

    #[test]
    fn an_unknown_terminal_is_forgotten_when_the_configuration_changes() {
        let cache = confirmed(1);
        let t = ticket(&cache, terminals, "new");
        cache.put(t, terminals, "new", None);
        assert!(hit(&cache, terminals, "new").is_none(), "the negative answer is cached");
        // Another node creates it: the version moves.
        cache.confirm(2, Instant::now());
        ticket(&cache, terminals, "new");
    }

    #[test]
    fn the_cache_is_bounded_and_probes_for_unknown_ids_do_not_evict_real_rows() {
        let cache = ConfigCache::with_limits(3, 5);
        cache.confirm(1, Instant::now());
        for id in ["a", "b", "c"] {
            let t = ticket(&cache, terminals, id);
            cache.put(t, terminals, id, Some(terminal(id, id)));
        }
        for i in 0..1_000 {
            let key = format!("probe-{i}");
            let t = ticket(&cache, terminals, &key);
            cache.put(t, terminals, &key, None);
        }
        assert!(cache.stats().entries <= 3 + 5, "{:?}", cache.stats());
        for id in ["a", "b", "c"] {
            assert_eq!(hit(&cache, terminals, id).unwrap().name, id, "probes pushed out a real row");
        }
        // A fourth row over the limit empties the rows, and holds itself.
        let t = ticket(&cache, terminals, "d");
        cache.put(t, terminals, "d", Some(terminal("d", "d")));
        assert!(cache.stats().entries <= 3 + 5);
        assert_eq!(hit(&cache, terminals, "d").unwrap().name, "d");
        ticket(&cache, terminals, "a");
    }

    #[test]
    fn counters_follow_hits_misses_and_invalidations() {
        let cache = confirmed(1);
        let t = ticket(&cache, terminals_of_merchant, "m1");
        cache.put(t, terminals_of_merchant, "m1", Some(vec![terminal("t1", "A")]));
        assert_eq!(hit(&cache, terminals_of_merchant, "m1").unwrap().len(), 1);
        cache.invalidate();
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 1, 0), "{stats:?}");
        assert_eq!(stats.invalidations, 2, "the first version seen, then the write");
    }

    #[test]
    fn merchants_by_id_and_by_client_id_are_emptied_together() {
        let cache = confirmed(1);
        let m = Merchant {
            id: "m1".into(),
            name: "Shop".into(),
            client_id: "c1".into(),
            secret_digest: epay_domain::Secret::new("digest".to_string()),
            webhook_secret: epay_domain::Secret::new(String::new()),
            token_generation: 0,
        };
        let t = ticket(&cache, merchants, "m1");
        cache.put(t, merchants, "m1", Some(m.clone()));
        let t = ticket(&cache, merchants_by_client_id, "c1");
        cache.put(t, merchants_by_client_id, "c1", Some(m));
        cache.invalidate();
        ticket(&cache, merchants, "m1");
        ticket(&cache, merchants_by_client_id, "c1");
    }
}
