//! The transaction list's filters: read from the query string into a typed `PaymentFilter`, and
//! written back into links (pagination, CSV export) unchanged.

use std::collections::HashMap;
use std::str::FromStr;

use epay_domain::{Amount, TxStatus};
use epay_store::PaymentFilter;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use super::error::CabinetError;
use crate::platform::clock::KZ_OFFSET;

/// Rows per page of the list.
pub const PAGE_SIZE: i64 = 25;
/// Most rows one CSV export holds; narrow the filter for more.
pub const EXPORT_LIMIT: i64 = 10_000;

/// The filter form's fields as typed, kept to fill the form and build links again.
pub const FIELDS: [&str; 9] = ["from", "to", "status", "terminal", "invoice", "card", "min", "max", "q"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub filter: PaymentFilter,
    /// 1-based.
    pub page: i64,
    /// The raw values of `FIELDS` (trimmed), for the form and links.
    pub raw: Vec<(&'static str, String)>,
}

impl ListQuery {
    pub fn raw(&self, name: &str) -> &str {
        self.raw.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// `from=…&to=…` of the non-empty filters, URL-encoded (for page links and the export).
    pub fn query_string(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.raw.iter().filter(|(_, v)| !v.is_empty()) {
            out.append_pair(k, v);
        }
        out.finish()
    }
}

/// Midnight at the start of `date` in Kazakhstan time, as unix ms.
fn day_start_ms(date: Date) -> i64 {
    let t = PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_offset(KZ_OFFSET);
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A field of the filter form the user must correct (the page names it in their words).
fn bad(field: &'static str, hint: String) -> CabinetError {
    CabinetError::BadField { field, hint }
}

fn parse_date(field: &'static str, text: &str) -> Result<Date, CabinetError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).map_err(|_| bad(field, format!("{field}: {text:?} is not a date (YYYY-MM-DD)")))
}

/// An amount as people type it: `1000.50`, `1000,50`, `1 000,50` (a space, a no-break space
/// or a narrow no-break space between the thousands). Both a comma and a point: ambiguous,
/// refused.
pub fn amount_input(text: &str) -> Result<Amount, epay_domain::MoneyError> {
    let compact: String = text.chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}')).collect();
    if compact.contains(',') && compact.contains('.') {
        return Err(epay_domain::MoneyError::NotANumber);
    }
    Amount::parse_major(&compact.replace(',', "."))
}

fn parse_amount(field: &'static str, text: &str) -> Result<i64, CabinetError> {
    amount_input(text).map(Amount::minor).map_err(|e| bad(field, format!("{field}: {e}")))
}

/// Reads the list's query string. Bad values are refused with a message naming the field.
pub fn parse(query: &HashMap<String, String>) -> Result<ListQuery, CabinetError> {
    let get = |k: &str| query.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let raw: Vec<(&'static str, String)> = FIELDS.iter().map(|k| (*k, get(k))).collect();
    let value = |k: &str| raw.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str()).unwrap_or("");
    let some = |v: &str| (!v.is_empty()).then(|| v.to_string());
    for (k, v) in &raw {
        if v.len() > 100 {
            return Err(bad(k, format!("{k}: at most 100 characters")));
        }
    }
    let mut filter = PaymentFilter::default();
    if !value("from").is_empty() {
        filter.from_ms = Some(day_start_ms(parse_date("from", value("from"))?));
    }
    if !value("to").is_empty() {
        // The "to" day is included: up to the next midnight.
        let to = parse_date("to", value("to"))?;
        let next = to.next_day().ok_or_else(|| bad("to", "to: date out of range".into()))?;
        filter.to_ms = Some(day_start_ms(next));
    }
    if let (Some(from), Some(to)) = (filter.from_ms, filter.to_ms) {
        if from >= to {
            return Err(bad("from", "from: must not be after to".into()));
        }
    }
    if !value("status").is_empty() {
        let status = TxStatus::from_str(value("status")).map_err(|e| bad("status", format!("status: {e}")))?;
        filter.status = Some(status);
    }
    filter.terminal_id = some(value("terminal"));
    filter.invoice_id = some(value("invoice"));
    filter.card_mask = some(value("card"));
    filter.search = some(value("q"));
    if !value("min").is_empty() {
        filter.min_amount_minor = Some(parse_amount("min", value("min"))?);
    }
    if !value("max").is_empty() {
        filter.max_amount_minor = Some(parse_amount("max", value("max"))?);
    }
    if let (Some(min), Some(max)) = (filter.min_amount_minor, filter.max_amount_minor) {
        if min > max {
            return Err(bad("min", "min: must not be more than max".into()));
        }
    }
    let page = match query.get("page").map(|p| p.trim()).filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=100_000).contains(p))
            .ok_or_else(|| bad("page", format!("page: {p:?} is not a page number")))?,
    };
    Ok(ListQuery { filter, page, raw })
}

/// Today's midnight (Kazakhstan time) for `now_ms`, and the day number (days since the epoch
/// in that zone) the store's daily statistics use.
pub fn today(now_ms: i64) -> (i64, i64) {
    let offset_ms = i64::from(KZ_OFFSET.whole_seconds()) * 1000;
    let day = (now_ms + offset_ms).div_euclid(86_400_000);
    (day * 86_400_000 - offset_ms, day)
}

/// `YYYY-MM-DD` of a day number in Kazakhstan time.
pub fn day_label(day: i64) -> String {
    OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|d| format!("{:02}.{:02}", d.day(), d.month() as u8))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_take_a_decimal_comma_and_spaces_between_thousands() {
        for typed in ["1000.50", "1000,50", "1 000,50", "1\u{a0}000,50", "1\u{202f}000,5"] {
            assert_eq!(amount_input(typed).map(|a| a.minor()), Ok(100_050), "{typed:?}");
        }
        // Both separators (ambiguous), three decimals (a comma is the decimal point), signs, words.
        for refused in ["1,000.50", "12,3.4", "abc", "", "1,234", "-5", "1.234"] {
            assert!(amount_input(refused).is_err(), "{refused:?}");
        }
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_every_filter() {
        let l = parse(&q(&[
            ("from", "2026-11-22"),
            ("to", "2026-11-22"),
            ("status", TxStatus::Charge.as_str()),
            ("invoice", " 000000001 "),
            ("card", "5096"),
            ("min", "10.5"),
            ("max", "100"),
            ("q", "mug"),
            ("page", "2"),
        ]))
        .unwrap();
        // 2026-11-22 00:00 in UTC+5 is 2026-11-21 19:00 UTC.
        assert_eq!(l.filter.from_ms, Some(1_795_287_600_000));
        assert_eq!(l.filter.to_ms, Some(1_795_287_600_000 + 86_400_000));
        assert_eq!(l.filter.status, Some(TxStatus::Charge));
        assert_eq!(l.filter.invoice_id.as_deref(), Some("000000001"));
        assert_eq!(l.filter.min_amount_minor, Some(1050));
        assert_eq!(l.filter.max_amount_minor, Some(10000));
        assert_eq!(l.page, 2);
        assert!(l.query_string().contains("invoice=000000001"));
        assert!(!l.query_string().contains("terminal="));
    }

    #[test]
    fn refuses_bad_values_by_name() {
        for (k, v) in [("from", "22.11.2026"), ("status", "PAID"), ("min", "-1"), ("max", "1.234"), ("page", "0")] {
            let e = parse(&q(&[(k, v)])).unwrap_err();
            assert!(e.to_string().starts_with(k), "{k}: {e}");
        }
        assert!(parse(&q(&[("min", "10"), ("max", "5")])).is_err());
        assert!(parse(&q(&[("from", "2026-11-23"), ("to", "2026-11-22")])).is_err());
    }

    #[test]
    fn days_are_kazakhstan_days() {
        // 2026-11-21 19:30 UTC is already 22 November in Almaty.
        let (start, day) = today(1_795_289_400_000);
        assert_eq!(start, 1_795_287_600_000);
        assert_eq!(day_label(day), "22.11");
    }
}
