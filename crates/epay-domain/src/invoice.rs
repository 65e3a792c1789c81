//! Merchant order identifiers and descriptions.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error("invoiceId must be 6 to 15 digits")]
    Format,
    #[error("order id must be 6 to 16 digits")]
    TransferFormat,
    #[error("description must be at most 125 bytes")]
    DescriptionTooLong,
}

/// The merchant's order number: 6 to 15 digits (facts §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvoiceId(String);

impl InvoiceId {
    pub fn parse(text: &str) -> Result<Self, InvoiceError> {
        Self::parse_up_to(text, 15)
    }

    /// Transfer order ids may be one digit longer: seed 001's example is 16 digits.
    pub fn parse_transfer_order(text: &str) -> Result<Self, InvoiceError> {
        Self::parse_up_to(text, 16).map_err(|_| InvoiceError::TransferFormat)
    }

    fn parse_up_to(text: &str, max: usize) -> Result<Self, InvoiceError> {
        let t = text.trim();
        if !(6..=max).contains(&t.len()) || !t.chars().all(|c| c.is_ascii_digit()) {
            return Err(InvoiceError::Format);
        }
        Ok(InvoiceId(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Order description, at most 125 bytes of UTF-8 (facts §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub const MAX_BYTES: usize = 125;

    pub fn parse(text: &str) -> Result<Self, InvoiceError> {
        if text.len() > Self::MAX_BYTES {
            return Err(InvoiceError::DescriptionTooLong);
        }
        Ok(Description(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_rules() {
        assert!(InvoiceId::parse("000001").is_ok());
        assert!(InvoiceId::parse("123456789012345").is_ok());
        assert_eq!(InvoiceId::parse("12345"), Err(InvoiceError::Format));
        assert_eq!(InvoiceId::parse("1234567890123456"), Err(InvoiceError::Format));
        assert_eq!(InvoiceId::parse("12345a"), Err(InvoiceError::Format));
    }

    #[test]
    fn description_counts_bytes() {
        assert!(Description::parse(&"a".repeat(125)).is_ok());
        // 63 Cyrillic letters are 126 bytes.
        assert_eq!(Description::parse(&"я".repeat(63)), Err(InvoiceError::DescriptionTooLong));
    }
}

/// How long an invoice link stays payable (`expire_period` of `POST /invoice`, facts §14): a
/// positive whole number and a unit, `m`inutes, `h`ours or `d`ays (`"30m"`, `"2h"`, `"1d"`),
/// from one minute to [`ExpirePeriod::MAX_SECS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpirePeriod {
    secs: i64,
}

impl ExpirePeriod {
    /// Thirty days: a bill that nobody paid in a month is a new bill.
    pub const MAX_SECS: i64 = 30 * 24 * 3600;
    /// ePay's example period (facts §14), used when the request names none.
    pub const DEFAULT: ExpirePeriod = ExpirePeriod { secs: 24 * 3600 };

    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        let bad = || format!("expire_period {text:?} must be a number and m, h or d, e.g. \"30m\", \"2h\", \"1d\"");
        let unit_secs = match t.chars().last() {
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 24 * 3600,
            _ => return Err(bad()),
        };
        let digits = &t[..t.len() - 1];
        if digits.is_empty() || digits.len() > 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let secs = digits.parse::<i64>().map_err(|_| bad())? * unit_secs;
        if !(60..=Self::MAX_SECS).contains(&secs) {
            return Err(format!("expire_period {text:?} must be between 1 minute and 30 days"));
        }
        Ok(ExpirePeriod { secs })
    }

    pub fn secs(self) -> i64 {
        self.secs
    }
}

/// Where an invoice link stands. Only `Active` and `Cancelled` are stored: `Paid` is read from
/// the invoice's payment and `Expired` from the clock, so paying or expiring writes nothing to
/// the link and cannot disagree with the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvoiceLinkState {
    /// Payable: not paid, not cancelled, before its expiry.
    Active,
    /// Its payment was approved (AUTH, CHARGE, or a later state of an approved payment).
    Paid,
    /// Not paid before its expiry.
    Expired,
    /// The merchant cancelled it before it was paid.
    Cancelled,
}

impl InvoiceLinkState {
    pub const ALL: [InvoiceLinkState; 4] =
        [InvoiceLinkState::Active, InvoiceLinkState::Paid, InvoiceLinkState::Expired, InvoiceLinkState::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceLinkState::Active => "ACTIVE",
            InvoiceLinkState::Paid => "PAID",
            InvoiceLinkState::Expired => "EXPIRED",
            InvoiceLinkState::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;

    #[test]
    fn expire_periods() {
        assert_eq!(ExpirePeriod::parse("1d").unwrap().secs(), 86_400);
        assert_eq!(ExpirePeriod::parse("2h").unwrap().secs(), 7_200);
        assert_eq!(ExpirePeriod::parse(" 30M ").unwrap().secs(), 1_800);
        for bad in ["", "d", "0m", "1s", "31d", "-1d", "1.5h", "1 d", "9999999d", "abc"] {
            assert!(ExpirePeriod::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn states_round_trip() {
        for s in InvoiceLinkState::ALL {
            assert_eq!(InvoiceLinkState::parse(&s.as_str().to_lowercase()), Some(s));
        }
        assert_eq!(InvoiceLinkState::parse("paid-ish"), None);
    }
}
