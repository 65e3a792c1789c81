//! The one place the server reads the time from, so tests and the sandbox can control it.
//!
//! Services read the time only through the [`Clock`] port (`App::clock`). Only the sandbox
//! routes can move the gateway's clock, through the [`SandboxClock`] that `App` holds in sandbox
//! mode alone.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use time::{OffsetDateTime, UtcOffset};

pub trait Clock: Send + Sync + 'static {
    /// The gateway's time, in milliseconds since the Unix epoch: what every rule reads (token,
    /// card and hold expiry, daily limits, callback retries). The sandbox may have moved it ahead.
    fn now_ms(&self) -> i64;

    /// Real time, which no sandbox moves: for leases between nodes and processes (only real
    /// elapsed time says whether their holder can still be alive) and for callback signature
    /// timestamps (receivers compare them with their own clocks).
    fn real_now_ms(&self) -> i64;
}

/// Wall-clock time plus an offset that only the sandbox moves forward (see [`SandboxClock`]).
#[derive(Default)]
pub struct SystemClock {
    offset_ms: AtomicI64,
}

impl SystemClock {
    /// A clock that reads `start_ms` now and runs on from there (the sandbox's `sandbox_start`).
    pub fn starting_at(start_ms: i64) -> SystemClock {
        SystemClock { offset_ms: AtomicI64::new(start_ms - wall_ms()) }
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        wall_ms() + self.offset_ms.load(Ordering::SeqCst)
    }

    fn real_now_ms(&self) -> i64 {
        wall_ms()
    }
}

fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The power to move the gateway clock forward. `App` holds one in sandbox mode only, and only
/// the sandbox clock routes use it; everything else reads the same clock through [`Clock`],
/// which cannot move it.
pub struct SandboxClock {
    clock: Arc<SystemClock>,
}

impl SandboxClock {
    pub fn new(clock: Arc<SystemClock>) -> SandboxClock {
        SandboxClock { clock }
    }

    pub fn advance(&self, by_ms: i64) {
        self.clock.offset_ms.fetch_add(by_ms, Ordering::SeqCst);
    }

    /// How far the sandbox has moved the clock ahead of the wall clock.
    pub fn offset_ms(&self) -> i64 {
        self.clock.offset_ms.load(Ordering::SeqCst)
    }
}

/// A clock that stands still, for unit tests of rules that read the time.
#[cfg(test)]
pub(crate) struct FixedClock(pub i64);

#[cfg(test)]
impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }

    fn real_now_ms(&self) -> i64 {
        self.0
    }
}

/// Kazakhstan's time zone (UTC+5 since 2024), in which ePay prints its dates.
pub const KZ_OFFSET: UtcOffset = match UtcOffset::from_hms(5, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// `2022-11-15T03:52:17.289853+05:00`, the shape of ePay's `createdDate` and `dateTime`.
pub fn epay_datetime(ms: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(KZ_OFFSET);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6][offset_hour sign:mandatory]:[offset_minute]"
    );
    dt.format(&format).unwrap_or_default()
}

/// (year, month) of `ms` in Kazakhstan time, for card expiry checks.
pub fn year_month(ms: i64) -> (i32, u8) {
    let dt = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(KZ_OFFSET);
    (dt.year(), dt.month() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_moves_the_gateway_clock_but_not_real_time() {
        let start = 1_795_000_000_000;
        let clock = Arc::new(SystemClock::starting_at(start));
        let sandbox = SandboxClock::new(clock.clone());
        let read: Arc<dyn Clock> = clock;
        assert!((read.now_ms() - start).abs() < 60_000, "starts at the given time");
        let (before, real_before) = (read.now_ms(), read.real_now_ms());
        sandbox.advance(86_400_000);
        assert!(read.now_ms() - before >= 86_400_000);
        assert!(read.real_now_ms() - real_before < 60_000, "real time does not move with it");
        let ahead = read.now_ms() - read.real_now_ms();
        assert!((sandbox.offset_ms() - ahead).abs() < 1_000, "{} vs {ahead}", sandbox.offset_ms());
    }

    #[test]
    fn formats_like_epay() {
        assert_eq!(epay_datetime(1_668_462_737_289), "2022-11-15T02:52:17.289000+05:00");
        assert_eq!(year_month(1_668_462_737_289), (2022, 11));
    }
}
