//! Card data. `Pan` and `Cvc` never print themselves in clear: `Debug` and `Display` mask them,
//! so a stray `{:?}` in a log line cannot leak card data.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("card number must be 12 to 19 digits")]
    PanFormat,
    #[error("card number fails the Luhn check")]
    PanLuhn,
    #[error("expiry must be MMYY with month 01-12")]
    ExpiryFormat,
    #[error("CVC must be 3 or 4 digits")]
    CvcFormat,
}

/// A primary account number that passed the format and Luhn checks.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pan(String);

impl Pan {
    pub fn parse(text: &str) -> Result<Self, CardError> {
        let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if !(12..=19).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(CardError::PanFormat);
        }
        if !luhn_valid(&digits) {
            return Err(CardError::PanLuhn);
        }
        Ok(Pan(digits))
    }

    /// The clear digits. Call only to hash, encrypt or hand to the card network.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// ePay's mask: first 6 + `...` + last 4 (`440563...5096`).
    pub fn masked(&self) -> String {
        mask_pan(&self.0)
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    pub fn brand(&self) -> CardBrand {
        CardBrand::of(&self.0)
    }
}

/// Masks any digit string the way ePay does; short strings are masked whole.
pub fn mask_pan(digits: &str) -> String {
    if digits.len() < 11 {
        return "*".repeat(digits.len());
    }
    format!("{}...{}", &digits[..6], &digits[digits.len() - 4..])
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// Card expiry, month and two-digit year (`01/27`). A card is valid through the end of the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Expiry {
    pub month: u8,
    pub year: u8,
}

impl Expiry {
    /// Parses `MMYY`, `MM/YY` or `MM/YYYY`.
    pub fn parse(text: &str) -> Result<Self, CardError> {
        let t: String = text.chars().filter(|c| *c != '/' && !c.is_whitespace()).collect();
        if !t.chars().all(|c| c.is_ascii_digit()) {
            return Err(CardError::ExpiryFormat);
        }
        let (m, y) = match t.len() {
            4 => (&t[..2], &t[2..]),
            6 => (&t[..2], &t[4..]),
            _ => return Err(CardError::ExpiryFormat),
        };
        Self::from_parts(m, y)
    }

    /// From separate month and year fields (`{"month":"01","year":"25"}`).
    pub fn from_parts(month: &str, year: &str) -> Result<Self, CardError> {
        let month: u8 = month.trim().parse().map_err(|_| CardError::ExpiryFormat)?;
        let year_text = year.trim();
        let year: u16 = year_text.parse().map_err(|_| CardError::ExpiryFormat)?;
        let year = match year_text.len() {
            2 => year,
            4 if (2000..2100).contains(&year) => year - 2000,
            _ => return Err(CardError::ExpiryFormat),
        };
        if !(1..=12).contains(&month) {
            return Err(CardError::ExpiryFormat);
        }
        Ok(Expiry { month, year: year as u8 })
    }

    /// `MMYY`, the cryptogram's `expDate` form.
    pub fn mmyy(&self) -> String {
        format!("{:02}{:02}", self.month, self.year)
    }

    /// True when the card is past its last valid month at `(year, month)` (full year).
    pub fn is_expired_at(&self, year: i32, month: u8) -> bool {
        let card = (2000 + self.year as i32) * 12 + self.month as i32;
        let now = year * 12 + month as i32;
        now > card
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}", self.month, self.year)
    }
}

/// Card verification code. Never stored, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvc(String);

impl Cvc {
    pub fn parse(text: &str) -> Result<Self, CardError> {
        let t = text.trim();
        if !(3..=4).contains(&t.len()) || !t.chars().all(|c| c.is_ascii_digit()) {
            return Err(CardError::CvcFormat);
        }
        Ok(Cvc(t.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvc(***)")
    }
}

/// Payment system, spelled as ePay spells it in `cardType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBrand {
    Visa,
    MasterCard,
    Amex,
    Mir,
    UnionPay,
    Unknown,
}

impl CardBrand {
    pub fn of(pan: &str) -> CardBrand {
        let p2: u32 = pan.get(..2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let p4: u32 = pan.get(..4).and_then(|s| s.parse().ok()).unwrap_or(0);
        match () {
            _ if pan.starts_with('4') => CardBrand::Visa,
            _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => CardBrand::MasterCard,
            _ if p2 == 34 || p2 == 37 => CardBrand::Amex,
            _ if (2200..=2204).contains(&p4) => CardBrand::Mir,
            _ if p2 == 62 => CardBrand::UnionPay,
            _ => CardBrand::Unknown,
        }
    }

    /// The brand a stored word names ([`CardBrand::as_str`]'s words, as a saved card keeps
    /// its brand); `Unknown` for any other.
    pub fn from_word(word: &str) -> CardBrand {
        [CardBrand::Visa, CardBrand::MasterCard, CardBrand::Amex, CardBrand::Mir, CardBrand::UnionPay]
            .into_iter()
            .find(|brand| brand.as_str() == word)
            .unwrap_or(CardBrand::Unknown)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "VISA",
            CardBrand::MasterCard => "MasterCard",
            CardBrand::Amex => "AMEX",
            CardBrand::Mir => "MIR",
            CardBrand::UnionPay => "UnionPay",
            CardBrand::Unknown => "UNKNOWN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn test_cards_pass_luhn_and_mask() {
        for pan in ["4405639704015096", "5522042705066736", "377514500004820", "4003032704547597"] {
            assert!(Pan::parse(pan).is_ok(), "{pan}");
        }
        let pan = Pan::parse("4405 6397 0401 5096").unwrap();
        assert_eq!(pan.masked(), "440563...5096");
        assert_eq!(format!("{pan:?}"), "Pan(440563...5096)");
        assert_eq!(format!("{pan}"), "440563...5096");
        assert_eq!(pan.brand(), CardBrand::Visa);
        assert_eq!(Pan::parse("5522042705066736").unwrap().brand(), CardBrand::MasterCard);
        assert_eq!(Pan::parse("377514500004820").unwrap().brand(), CardBrand::Amex);
    }

    #[test]
    fn a_stored_brand_word_reads_back_as_its_brand() {
        for brand in [CardBrand::Visa, CardBrand::MasterCard, CardBrand::Amex, CardBrand::Mir, CardBrand::UnionPay] {
            assert_eq!(CardBrand::from_word(brand.as_str()), brand);
        }
        assert_eq!(CardBrand::from_word("visa"), CardBrand::Unknown, "only the stored spelling");
        assert_eq!(CardBrand::from_word(""), CardBrand::Unknown);
    }

    #[test]
    fn refuses_bad_pans() {
        assert_eq!(Pan::parse("4405639704015097"), Err(CardError::PanLuhn));
        assert_eq!(Pan::parse("44056397"), Err(CardError::PanFormat));
        assert_eq!(Pan::parse("4405x39704015096"), Err(CardError::PanFormat));
    }

    #[test]
    fn expiry_forms() {
        assert_eq!(Expiry::parse("0127").unwrap(), Expiry { month: 1, year: 27 });
        assert_eq!(Expiry::parse("01/27").unwrap(), Expiry { month: 1, year: 27 });
        assert_eq!(Expiry::parse("01/2027").unwrap(), Expiry { month: 1, year: 27 });
        assert_eq!(Expiry::from_parts("01", "25").unwrap().mmyy(), "0125");
        assert!(Expiry::parse("1327").is_err());
        assert!(Expiry::parse("0027").is_err());
        assert!(Expiry::parse("127").is_err());
        let e = Expiry::parse("0127").unwrap();
        assert!(!e.is_expired_at(2027, 1));
        assert!(e.is_expired_at(2027, 2));
    }

    #[test]
    fn cvc_is_never_printed() {
        let cvc = Cvc::parse("321").unwrap();
        assert_eq!(format!("{cvc:?}"), "Cvc(***)");
        assert!(Cvc::parse("32").is_err());
        assert!(Cvc::parse("32a").is_err());
    }

    proptest! {
        #[test]
        fn pan_parse_never_panics(s in "\\PC{0,25}") {
            let _ = Pan::parse(&s);
        }

        #[test]
        fn mask_never_shows_middle(digits in "[0-9]{12,19}") {
            let m = mask_pan(&digits);
            // Exactly ten digits survive the mask, whatever the length of the number.
            prop_assert_eq!(m.chars().filter(|c| c.is_ascii_digit()).count(), 10);
        }
    }
}
