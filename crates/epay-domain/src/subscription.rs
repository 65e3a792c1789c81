//! Subscriptions: a saved card charged again on a schedule, without the cardholder present
//! (docs/api.md "Recurrent payments and subscriptions"). Pure rules only: the frequencies, the
//! states, and the retry schedule of a declined period.

use crate::text_enum::text_enum;

text_enum! {
    /// How often a subscription charges (`paymentFrequency`, facts §10.4).
    pub enum Frequency as "payment frequency" {
        Weekly = "WEEKLY",
        Monthly = "MONTHLY",
        Quarterly = "QUARTERLY",
    }
}

impl Frequency {
    /// The period as (days, months): a week is 7 days, a month and a quarter are calendar
    /// months (1 and 3), so a monthly charge keeps its day of the month.
    pub fn step(self) -> (i64, i32) {
        match self {
            Frequency::Weekly => (7, 0),
            Frequency::Monthly => (0, 1),
            Frequency::Quarterly => (0, 3),
        }
    }
}

text_enum! {
    /// Where a subscription stands.
    pub enum SubscriptionStatus as "subscription status" {
        /// The scheduler charges it when a period is due.
        Active = "ACTIVE",
        /// Not charged: paused by the merchant, or after the last retry of a declined period.
        Paused = "PAUSED",
        /// Ended by the merchant; never charged again.
        Cancelled = "CANCELLED",
        /// Ended because its card was deactivated; never charged again.
        Stopped = "STOPPED",
    }
}

impl SubscriptionStatus {
    /// Cancelled and stopped subscriptions cannot be resumed.
    pub fn is_final(self) -> bool {
        matches!(self, SubscriptionStatus::Cancelled | SubscriptionStatus::Stopped)
    }
}

/// After a declined charge, the waits before the retries of the same period, in seconds:
/// 1 day, then 3 days. A period declined on its last retry pauses the subscription. The
/// retries are further attempts at the period's invoice, so the charge and its two retries fit
/// the default of 3 attempts a terminal allows per invoice.
pub const RETRY_DELAYS_SECS: [i64; 2] = [86_400, 3 * 86_400];

/// What the scheduler does after the `tries`-th decline (1 = the first charge of the period was
/// declined) of a period: retry after that many seconds, or give up and pause.
pub fn after_decline(tries: i64) -> Option<i64> {
    usize::try_from(tries - 1).ok().and_then(|i| RETRY_DELAYS_SECS.get(i)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_retried_three_times_then_given_up() {
        assert_eq!(after_decline(1), Some(86_400));
        assert_eq!(after_decline(2), Some(3 * 86_400));
        assert_eq!(after_decline(3), None);
        assert_eq!(after_decline(0), None);
    }

    #[test]
    fn frequencies_are_epays_words() {
        assert_eq!("MONTHLY".parse::<Frequency>().unwrap(), Frequency::Monthly);
        assert!("DAILY".parse::<Frequency>().is_err());
        assert_eq!(Frequency::Quarterly.as_str(), "QUARTERLY");
    }
}
