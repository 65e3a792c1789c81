//! Money: wire amounts are major units (`100`, `12.22`); inside we keep integer minor units.

use std::fmt;
use std::str::FromStr;

/// The largest amount one operation may carry, in minor units (1 billion tenge).
/// Bounded so that sums over many operations can never overflow `i64`.
pub const MAX_AMOUNT_MINOR: i64 = 100_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a number")]
    NotANumber,
    #[error("amount must not be negative")]
    Negative,
    #[error("amount must have at most 2 decimal places")]
    TooManyDecimals,
    #[error("amount exceeds the limit of 1000000000.00")]
    OverLimit,
    #[error("unknown currency {0:?}; supported: KZT, USD, EUR, RUB")]
    UnknownCurrency(String),
}

/// A non-negative amount in minor units (tiyn, cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub fn from_minor(minor: i64) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        if minor > MAX_AMOUNT_MINOR {
            return Err(MoneyError::OverLimit);
        }
        Ok(Amount(minor))
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a decimal text in major units exactly (no floating point): `"12.2"` → 1220.
    pub fn parse_major(text: &str) -> Result<Self, MoneyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MoneyError::NotANumber);
        }
        if let Some(rest) = text.strip_prefix('-') {
            // "-0" is still a negative spelling; refuse any sign so the message is clear.
            return if rest.chars().all(|c| c.is_ascii_digit() || c == '.') {
                Err(MoneyError::Negative)
            } else {
                Err(MoneyError::NotANumber)
            };
        }
        // JSON numbers may arrive in exponent form (1e2); accept only plain decimals and a few
        // exponent forms that serde_json produces for integers written as floats.
        if text.contains(['e', 'E']) {
            return Self::parse_exponent(text);
        }
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(MoneyError::NotANumber);
        }
        if !int_part.chars().all(|c| c.is_ascii_digit()) || !frac_part.chars().all(|c| c.is_ascii_digit()) {
            return Err(MoneyError::NotANumber);
        }
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() > 2 {
            return Err(MoneyError::TooManyDecimals);
        }
        let int_digits = int_part.trim_start_matches('0');
        if int_digits.len() > 12 {
            return Err(MoneyError::OverLimit);
        }
        let major: i64 =
            if int_digits.is_empty() { 0 } else { int_digits.parse().map_err(|_| MoneyError::NotANumber)? };
        let mut frac = frac_trimmed.to_string();
        while frac.len() < 2 {
            frac.push('0');
        }
        let minor_frac: i64 = frac.parse().map_err(|_| MoneyError::NotANumber)?;
        Self::from_minor(major * 100 + minor_frac)
    }

    /// `1.5e2`, `15E-1`: the decimal point is moved in the text, so the result is as exact as a
    /// plain decimal's (through floating point, `0.000000001e0` was taken for 0).
    fn parse_exponent(text: &str) -> Result<Self, MoneyError> {
        let (mantissa, exponent) = text.split_once(['e', 'E']).ok_or(MoneyError::NotANumber)?;
        let exponent: i64 = exponent.parse().map_err(|_| MoneyError::NotANumber)?;
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.chars().all(|c| c.is_ascii_digit())
            || !frac_part.chars().all(|c| c.is_ascii_digit())
        {
            return Err(MoneyError::NotANumber);
        }
        let all_digits = format!("{int_part}{frac_part}");
        let digits = all_digits.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(Amount::ZERO);
        }
        // The decimal point stands `point` digits into `digits`, whose first digit is not 0.
        let leading_zeros = (all_digits.len() - digits.len()) as i128;
        let point = int_part.len() as i128 - leading_zeros + i128::from(exponent);
        if point > 12 {
            return Err(MoneyError::OverLimit);
        }
        if point < -1 {
            return Err(MoneyError::TooManyDecimals);
        }
        let plain = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else {
            let point = point as usize;
            if point >= digits.len() {
                format!("{digits}{}", "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        };
        Self::parse_major(&plain)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).and_then(|v| Amount::from_minor(v).ok())
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).and_then(|v| Amount::from_minor(v).ok())
    }
}

/// `"12.22".parse::<Amount>()`: the same as [`Amount::parse_major`].
impl FromStr for Amount {
    type Err = MoneyError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Amount::parse_major(text)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let major = self.0 / 100;
        let frac = self.0 % 100;
        if frac == 0 {
            write!(f, "{major}")
        } else if frac % 10 == 0 {
            write!(f, "{major}.{}", frac / 10)
        } else {
            write!(f, "{major}.{frac:02}")
        }
    }
}

/// ISO 4217 currencies the gateway accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Currency {
    Kzt,
    Usd,
    Eur,
    Rub,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::Kzt => "KZT",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Rub => "RUB",
        }
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "KZT" => Ok(Currency::Kzt),
            "USD" => Ok(Currency::Usd),
            "EUR" => Ok(Currency::Eur),
            "RUB" => Ok(Currency::Rub),
            _ => Err(MoneyError::UnknownCurrency(s.to_string())),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A conversion rate: how many minor units of the card's currency one minor unit of the payment's
/// currency costs, in millionths (every currency we know has two decimals, so this is also the
/// major-unit rate: 1 USD = 500 KZT is `FxRate::from_micros(500_000_000)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FxRate(i64);

impl FxRate {
    /// The rate of a currency to itself.
    pub const ONE: FxRate = FxRate(1_000_000);

    pub const fn from_micros(micros: i64) -> Self {
        FxRate(micros)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    /// `minor` of the payment's currency in the card's currency, rounded half up.
    pub fn convert(self, minor: i64) -> i64 {
        let scaled = i128::from(minor) * i128::from(self.0) + 500_000;
        i64::try_from(scaled.div_euclid(1_000_000)).unwrap_or(i64::MAX)
    }

    /// The part of a running total converted: `convert(before + amount) - convert(before)`. Each
    /// part of a series (partial charges, partial refunds) converted this way adds up to the
    /// conversion of the whole, so rounding never gives back more than was taken.
    pub fn convert_part(self, before: i64, amount: i64) -> i64 {
        self.convert(before + amount) - self.convert(before)
    }
}

impl fmt::Display for FxRate {
    /// `500`, `0.909091`: the rate in major units, without trailing zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 1_000_000, self.0 % 1_000_000);
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:06}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fx_rates_convert_half_up_and_series_add_up() {
        let usd = FxRate::from_micros(500_000_000);
        assert_eq!(usd.convert(100_000), 50_000_000);
        assert_eq!(usd.to_string(), "500");
        let odd = FxRate::from_micros(470_500_000);
        assert_eq!(odd.convert(1), 471);
        assert_eq!(odd.convert_part(0, 1) + odd.convert_part(1, 1), odd.convert(2));
        assert_eq!(FxRate::from_micros(909_091).to_string(), "0.909091");
        assert_eq!(FxRate::ONE.convert(12_345), 12_345);
    }

    #[test]
    fn parses_major_units_exactly() {
        assert_eq!(Amount::parse_major("100").unwrap().minor(), 10_000);
        assert_eq!(Amount::parse_major("12.22").unwrap().minor(), 1_222);
        assert_eq!(Amount::parse_major("0.5").unwrap().minor(), 50);
        assert_eq!(Amount::parse_major("1.50").unwrap().minor(), 150);
        assert_eq!(Amount::parse_major("1e2").unwrap().minor(), 10_000);
        assert_eq!(Amount::parse_major("0").unwrap().minor(), 0);
    }

    #[test]
    fn refuses_bad_amounts() {
        assert_eq!(Amount::parse_major("1.234"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Amount::parse_major("-1"), Err(MoneyError::Negative));
        assert_eq!(Amount::parse_major("abc"), Err(MoneyError::NotANumber));
        assert_eq!(Amount::parse_major(""), Err(MoneyError::NotANumber));
        assert_eq!(Amount::parse_major("."), Err(MoneyError::NotANumber));
        assert_eq!(Amount::parse_major("NaN"), Err(MoneyError::NotANumber));
        assert_eq!(Amount::parse_major("inf"), Err(MoneyError::NotANumber));
        assert_eq!(Amount::parse_major("1000000001"), Err(MoneyError::OverLimit));
        assert_eq!(Amount::parse_major("99999999999999999999999"), Err(MoneyError::OverLimit));
    }

    /// Found by the `fields` fuzz target: the exponent form went through floating point and
    /// took amounts with more than 2 decimals (`.000000001E0000000` as 0).
    #[test]
    fn exponent_forms_are_exact() {
        assert_eq!(Amount::parse_major(".000000001E0000000"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Amount::parse_major("1e-10"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Amount::parse_major("12.220000000001e0"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Amount::parse_major("1e-3"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Amount::parse_major("1e-2").unwrap().minor(), 1);
        assert_eq!(Amount::parse_major("1.5e2").unwrap().minor(), 15_000);
        assert_eq!(Amount::parse_major("1E+2").unwrap().minor(), 10_000);
        assert_eq!(Amount::parse_major("0.05e2").unwrap().minor(), 500);
        assert_eq!(Amount::parse_major("1222e-2").unwrap().minor(), 1_222);
        assert_eq!(Amount::parse_major("0e999").unwrap().minor(), 0);
        assert_eq!(Amount::parse_major("1e9").unwrap().minor(), MAX_AMOUNT_MINOR);
        assert_eq!(Amount::parse_major("1.000000001e9"), Err(MoneyError::OverLimit));
        assert_eq!(Amount::parse_major("1e12"), Err(MoneyError::OverLimit));
        assert_eq!(Amount::parse_major("1e9223372036854775807"), Err(MoneyError::OverLimit));
        assert_eq!(Amount::parse_major("1e-9223372036854775808"), Err(MoneyError::TooManyDecimals));
        for bad in ["e5", "1e", "1e2.5", "+1e2", "1e++2", "1.2.3e1", "0x1e2"] {
            assert_eq!(Amount::parse_major(bad), Err(MoneyError::NotANumber), "{bad}");
        }
    }

    #[test]
    fn displays_like_epay() {
        assert_eq!(Amount::from_minor(10_000).unwrap().to_string(), "100");
        assert_eq!(Amount::from_minor(1_222).unwrap().to_string(), "12.22");
        assert_eq!(Amount::from_minor(1_250).unwrap().to_string(), "12.5");
        assert_eq!(Amount::from_minor(5).unwrap().to_string(), "0.05");
    }

    proptest! {
        #[test]
        fn display_parse_roundtrip(minor in 0i64..=MAX_AMOUNT_MINOR) {
            let a = Amount::from_minor(minor).unwrap();
            prop_assert_eq!(Amount::parse_major(&a.to_string()).unwrap(), a);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = Amount::parse_major(&s);
        }
    }
}
