//! An [`Amount`] on ePay's JSON wire: a number in major units with at most two decimals
//! (`100`, `12.22`), the way ePay writes it and the way the gateway and the SDK read it.
//!
//! Both directions go through the number's text, never through an `f64`: an `f64` cannot hold
//! `12.22` (it holds 12.2199999999999997513…), and reading `12.225` through one would round it to
//! an amount the sender never wrote instead of refusing it. So these impls work with serde_json
//! only (they use its `RawValue`); that is the one format ePay speaks.

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::money::{Amount, MoneyError};

/// The most characters of a refused value an error repeats back.
const MAX_ECHO_CHARS: usize = 32;

/// Written as a JSON number with exactly its digits: `100` (a whole amount has no `.0`, as seed
/// 003 shows, so that a client decoding into an integer does not choke), `12.5`, `12.22`.
impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let number = RawValue::from_string(self.to_string()).map_err(S::Error::custom)?;
        number.serialize(serializer)
    }
}

/// Read from a JSON number or a numeric string (`12.22`, `"12.22"`: ePay's clients send both),
/// exactly; more than two decimals, a negative amount, anything not a number is an error that says
/// which rule was broken.
impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <Box<RawValue>>::deserialize(deserializer)?;
        Amount::from_json(raw.get()).map_err(|e| D::Error::custom(refused(raw.get(), &e)))
    }
}

impl Amount {
    /// The amount a JSON value's text stands for: a number's digits, or a string's contents.
    pub fn from_json(text: &str) -> Result<Amount, MoneyError> {
        let text = text.trim();
        if text.starts_with('"') {
            let inner: String = serde_json::from_str(text).map_err(|_| MoneyError::NotANumber)?;
            Amount::parse_major(&inner)
        } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            Amount::parse_major(text)
        } else {
            // null, true, an object...: `parse_major` would say the same, but only by luck.
            Err(MoneyError::NotANumber)
        }
    }
}

fn refused(text: &str, error: &MoneyError) -> String {
    let text = text.trim();
    let shown = match text.char_indices().nth(MAX_ECHO_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    };
    format!("invalid amount {shown} ({error})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::MAX_AMOUNT_MINOR;
    use proptest::prelude::*;

    fn minor(minor: i64) -> Amount {
        Amount::from_minor(minor).unwrap()
    }

    #[test]
    fn writes_the_exact_digits() {
        for (amount, text) in [
            (minor(1), "0.01"),
            (minor(5), "0.05"),
            (minor(1_222), "12.22"),
            (minor(1_250), "12.5"),
            (minor(10_000), "100"),
            (minor(100_000_099), "1000000.99"),
            (minor(MAX_AMOUNT_MINOR), "1000000000"),
            (minor(MAX_AMOUNT_MINOR - 1), "999999999.99"),
            (Amount::ZERO, "0"),
        ] {
            assert_eq!(serde_json::to_string(&amount).unwrap(), text);
        }
        // Inside an object too, and into a `Value` (which keeps a number, not a string).
        assert_eq!(serde_json::to_string(&serde_json::json!({"amount": minor(1_222)})).unwrap(), r#"{"amount":12.22}"#);
        assert!(serde_json::to_value(minor(1_222)).unwrap().is_number());
    }

    #[test]
    fn reads_numbers_and_numeric_strings_exactly() {
        for (text, expected) in [
            ("0.01", 1),
            ("12.22", 1_222),
            ("12.20", 1_220),
            ("100", 10_000),
            ("100.0", 10_000),
            ("1e2", 10_000),
            ("1000000.99", 100_000_099),
            ("999999999.99", MAX_AMOUNT_MINOR - 1),
            ("1000000000", MAX_AMOUNT_MINOR),
            (r#""12.22""#, 1_222),
            (r#""0.01""#, 1),
            (r#""100""#, 10_000),
        ] {
            assert_eq!(serde_json::from_str::<Amount>(text).unwrap(), minor(expected), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_exact_amount() {
        let error = |text: &str| serde_json::from_str::<Amount>(text).unwrap_err().to_string();
        // Through an f64, 12.225 would have become 12.22 or 12.23.
        assert!(error("12.225").contains("invalid amount 12.225 (amount must have at most 2 decimal places)"));
        assert!(error(r#""12.225""#).contains("at most 2 decimal places"));
        assert!(error("0.009").contains("at most 2 decimal places"));
        assert!(error("12.220000000000001").contains("at most 2 decimal places"));
        assert!(error("-1").contains("must not be negative"));
        assert!(error("1000000000.01").contains("exceeds the limit"));
        assert!(error("1e300").contains("exceeds the limit"));
        for not_a_number in
            [r#""NaN""#, r#""Infinity""#, r#""-inf""#, r#""""#, r#""12,22""#, "null", "true", "[1]", r#"{"a":1}"#]
        {
            assert!(error(not_a_number).contains("amount must be a number"), "{not_a_number}: {}", error(not_a_number));
        }
        // JSON itself has no NaN: serde_json refuses the text before an amount is read.
        assert!(serde_json::from_str::<Amount>("NaN").is_err());
        // A long refused value is cut in the message.
        assert!(error(&format!(r#""{}""#, "x".repeat(500))).len() < 120);
    }

    #[test]
    fn reads_an_amount_inside_a_struct() {
        #[derive(Deserialize, Serialize)]
        struct Answer {
            amount: Amount,
            #[serde(default)]
            fee: Amount,
        }
        let answer: Answer = serde_json::from_slice(br#"{"amount": 12.22}"#).unwrap();
        assert_eq!((answer.amount, answer.fee), (minor(1_222), Amount::ZERO));
        assert_eq!(serde_json::to_string(&answer).unwrap(), r#"{"amount":12.22,"fee":0}"#);
        let error = serde_json::from_slice::<Answer>(br#"{"amount": 12.225}"#).err().unwrap().to_string();
        assert!(error.starts_with("invalid amount 12.225 (amount must have at most 2 decimal places)"), "{error}");
    }

    proptest! {
        #[test]
        fn json_round_trip(m in 0i64..=MAX_AMOUNT_MINOR) {
            let amount = minor(m);
            let text = serde_json::to_string(&amount).unwrap();
            prop_assert_eq!(serde_json::from_str::<Amount>(&text).unwrap(), amount);
            prop_assert_eq!(serde_json::from_str::<Amount>(&format!("\"{text}\"")).unwrap(), amount);
        }
    }
}
