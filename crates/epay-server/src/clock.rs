//! The one place the server reads the time from, so tests and the sandbox can control it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::{OffsetDateTime, UtcOffset};

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// Wall-clock time plus an offset that only the sandbox may move forward.
#[derive(Default)]
pub struct SystemClock {
    offset_ms: AtomicI64,
}

impl SystemClock {
    pub fn advance(&self, by_ms: i64) {
        self.offset_ms.fetch_add(by_ms, Ordering::SeqCst);
    }

    /// How far the sandbox has moved this clock ahead of the wall clock.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

impl SystemClock {
    /// Milliseconds since the Unix epoch, sandbox offset included.
    pub fn now_ms(&self) -> i64 {
        real_now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
}

/// Real milliseconds since the Unix epoch, which no sandbox moves: for leases between nodes and
/// processes, where only real elapsed time says whether their holder can still be alive.
pub fn real_now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemClock::now_ms(self)
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
    fn formats_like_epay() {
        assert_eq!(epay_datetime(1_668_462_737_289), "2022-11-15T02:52:17.289000+05:00");
        assert_eq!(year_month(1_668_462_737_289), (2022, 11));
    }
}
