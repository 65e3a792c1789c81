//! Attempts to pay one invoice (docs/compatibility.md §48). A declined attempt does not close
//! its invoice: the shopper may try again, up to the terminal's limit of attempts, after which
//! ePay answers reason 2740 ("too many failed payment attempts"). An attempt that did not
//! decline (approved, or waiting for 3-D Secure) holds the invoice: nothing more can be tried.

use crate::TxStatus;

/// Attempts a terminal allows per invoice unless its operator sets another number.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;

/// The most attempts a terminal may allow: each attempt is one more card a shopper (or a card
/// tester holding the page's token) may try on one invoice.
pub const MAX_ATTEMPTS_CEILING: i32 = 10;

/// How many attempts a terminal allows per invoice: 1 (the old rule, one attempt per
/// invoice) to [`MAX_ATTEMPTS_CEILING`]; [`DEFAULT_MAX_ATTEMPTS`] unless set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxAttempts(i32);

impl MaxAttempts {
    pub fn parse(value: i64) -> Result<MaxAttempts, String> {
        if (1..=i64::from(MAX_ATTEMPTS_CEILING)).contains(&value) {
            Ok(MaxAttempts(value as i32))
        } else {
            Err(format!("max attempts must be 1 to {MAX_ATTEMPTS_CEILING}, not {value}"))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

impl Default for MaxAttempts {
    fn default() -> Self {
        MaxAttempts(DEFAULT_MAX_ATTEMPTS)
    }
}

impl std::fmt::Display for MaxAttempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where an invoice stands: how many attempts it had, what the terminal allows, and the status
/// of the attempt that holds it, if one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoiceAttempts {
    pub used: i32,
    pub max: i32,
    pub holding: Option<TxStatus>,
}

impl InvoiceAttempts {
    /// The attempts `statuses` (one per attempt, any order) leave on a terminal allowing `max`.
    pub fn of(statuses: impl IntoIterator<Item = TxStatus>, max: i32) -> InvoiceAttempts {
        let mut attempts = InvoiceAttempts { used: 0, max, holding: None };
        for status in statuses {
            attempts.used += 1;
            if !status.is_declined() {
                attempts.holding = Some(status);
            }
        }
        attempts
    }

    /// How many more attempts may be made (none while an attempt holds the invoice).
    pub fn left(&self) -> i32 {
        if self.holding.is_some() {
            0
        } else {
            (self.max - self.used).max(0)
        }
    }

    /// Every attempt was declined and the limit is reached: reason 2740.
    pub fn exhausted(&self) -> bool {
        self.holding.is_none() && self.used >= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declines_count_until_the_limit_and_a_holding_attempt_closes_the_invoice() {
        let none = InvoiceAttempts::of([], 3);
        assert_eq!((none.left(), none.exhausted()), (3, false));
        let two = InvoiceAttempts::of([TxStatus::Reject, TxStatus::Failed], 3);
        assert_eq!((two.left(), two.exhausted()), (1, false));
        let three = InvoiceAttempts::of([TxStatus::Reject; 3], 3);
        assert_eq!((three.left(), three.exhausted()), (0, true));
        let paid = InvoiceAttempts::of([TxStatus::Reject, TxStatus::Charge], 3);
        assert_eq!((paid.left(), paid.exhausted(), paid.holding), (0, false, Some(TxStatus::Charge)));
        let open = InvoiceAttempts::of([TxStatus::ThreeD], 3);
        assert_eq!((open.left(), open.exhausted()), (0, false));
        // A terminal whose limit was lowered below what an invoice already used.
        assert_eq!(InvoiceAttempts::of([TxStatus::Reject; 3], 2).left(), 0);
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(MaxAttempts::parse(1).map(MaxAttempts::get), Ok(1));
        assert_eq!(MaxAttempts::parse(10).map(MaxAttempts::get), Ok(10));
        assert!(MaxAttempts::parse(0).is_err());
        assert!(MaxAttempts::parse(11).is_err());
        assert!(MaxAttempts::parse(-3).is_err());
        assert_eq!(MaxAttempts::default().get(), 3);
    }
}
