//! Amounts as people read them, per page language: the one place that writes a number of money
//! for a person (the payment page, the ACS page and the cabinet all call it).
//!
//! - Russian and Kazakh: `2 500 ₸`, `1 000,50 ₸`: thousands grouped by a no-break space
//!   (U+00A0, as CLDR's ru and kk locales do), a decimal comma, the symbol after the number,
//!   separated by a no-break space too so that a line never ends between number and symbol.
//! - English: `₸2,500`, `$1,000.50`: a comma groups thousands, a decimal point, the symbol
//!   before the number without a space, as English writes `$` and `€` (and CLDR's en locale
//!   writes `₸`).
//!
//! Whole amounts have no decimals (`2 500 ₸`), any other two (`0,05 ₸`). A currency without a
//! symbol of ours is written by its ISO code (`2 500 XYZ`, `XYZ 2,500`).

use epay_domain::{Amount, Currency};

use super::i18n::Lang;

/// The space inside amounts: it groups thousands (ru, kk) and joins number and symbol.
pub const SPACE: char = '\u{a0}';

/// A number of minor units as people of `lang` write it, without a currency: `1 000,50` (ru,
/// kk) or `1,000.50` (en); whole amounts without decimals (`1 000`).
pub fn number(lang: Lang, minor: i64) -> String {
    let (group, point) = match lang {
        Lang::En => (',', '.'),
        Lang::Ru | Lang::Kk => (SPACE, ','),
    };
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let digits = (abs / 100).to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 * 2);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(group);
        }
        grouped.push(c);
    }
    match abs % 100 {
        0 => format!("{sign}{grouped}"),
        cents => format!("{sign}{grouped}{point}{cents:02}"),
    }
}

/// The sign people know a currency by.
pub fn symbol(currency: Currency) -> &'static str {
    match currency {
        Currency::Kzt => "₸",
        Currency::Rub => "₽",
        Currency::Usd => "$",
        Currency::Eur => "€",
    }
}

/// An amount with its currency, as people of `lang` write it: `2 500 ₸` (ru, kk), `₸2,500` (en).
pub fn money(lang: Lang, amount: Amount, currency: Currency) -> String {
    with_mark(lang, amount.minor(), Mark::Symbol(symbol(currency)))
}

/// As [`money`], for a currency stored as its code (the store keeps text): a code we know gets
/// its symbol, any other is written as it is.
pub fn money_coded(lang: Lang, minor: i64, code: &str) -> String {
    match code.parse::<Currency>() {
        Ok(currency) => with_mark(lang, minor, Mark::Symbol(symbol(currency))),
        Err(_) => with_mark(lang, minor, Mark::Code(code.trim())),
    }
}

/// How the currency is written beside the number.
enum Mark<'a> {
    Symbol(&'static str),
    Code(&'a str),
}

fn with_mark(lang: Lang, minor: i64, mark: Mark<'_>) -> String {
    let n = number(lang, minor);
    match (lang, mark) {
        (Lang::Ru | Lang::Kk, Mark::Symbol(s)) => format!("{n}{SPACE}{s}"),
        (Lang::Ru | Lang::Kk, Mark::Code(c)) => format!("{n}{SPACE}{c}"),
        // English: "$2,500", and "-$1.50" with a sign; a code is a word: "XYZ 2,500".
        (Lang::En, Mark::Symbol(s)) => match n.strip_prefix('-') {
            Some(unsigned) => format!("-{s}{unsigned}"),
            None => format!("{s}{n}"),
        },
        (Lang::En, Mark::Code(c)) => format!("{c}{SPACE}{n}"),
    }
}

/// A phrase of `template` with its `{amount}` filled: each language puts the amount where its
/// grammar wants it ("Оплатить {amount}", "{amount} төлеу", "Pay {amount}").
pub fn phrase(template: &str, amount: &str) -> String {
    template.replace("{amount}", amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kzt(minor: i64) -> Amount {
        Amount::from_minor(minor).unwrap()
    }

    /// The tests write the no-break space as `_` to stay readable.
    fn nb(text: &str) -> String {
        text.replace('_', "\u{a0}")
    }

    #[test]
    fn numbers_group_thousands_and_show_decimals_only_when_there_are_some() {
        assert_eq!(number(Lang::Ru, 250_000), nb("2_500"));
        assert_eq!(number(Lang::Ru, 100_050), nb("1_000,50"));
        assert_eq!(number(Lang::Kk, 123_456_789), nb("1_234_567,89"));
        assert_eq!(number(Lang::En, 100_050), "1,000.50");
        assert_eq!(number(Lang::En, 100_000), "1,000");
        assert_eq!(number(Lang::En, 5), "0.05");
        assert_eq!(number(Lang::Ru, 99_900), "999");
        assert_eq!(number(Lang::Ru, 100_000), nb("1_000"));
        assert_eq!(number(Lang::En, -150), "-1.50");
        assert_eq!(number(Lang::Ru, 0), "0");
        assert_eq!(number(Lang::Ru, 10), "0,10");
    }

    #[test]
    fn each_language_writes_tenge_its_own_way() {
        assert_eq!(money(Lang::Ru, kzt(250_000), Currency::Kzt), nb("2_500_₸"));
        assert_eq!(money(Lang::Ru, kzt(100_050), Currency::Kzt), nb("1_000,50_₸"));
        assert_eq!(money(Lang::Kk, kzt(250_000), Currency::Kzt), nb("2_500_₸"));
        assert_eq!(money(Lang::Kk, kzt(100_050), Currency::Kzt), nb("1_000,50_₸"));
        assert_eq!(money(Lang::En, kzt(250_000), Currency::Kzt), "₸2,500");
        assert_eq!(money(Lang::En, kzt(100_050), Currency::Kzt), "₸1,000.50");
    }

    #[test]
    fn every_currency_has_its_symbol() {
        let cases = [
            (Currency::Kzt, "₸", nb("1_000,50_₸"), "₸1,000.50"),
            (Currency::Rub, "₽", nb("1_000,50_₽"), "₽1,000.50"),
            (Currency::Usd, "$", nb("1_000,50_$"), "$1,000.50"),
            (Currency::Eur, "€", nb("1_000,50_€"), "€1,000.50"),
        ];
        for (currency, sign, ru, en) in cases {
            assert_eq!(symbol(currency), sign);
            assert_eq!(money(Lang::Ru, kzt(100_050), currency), ru);
            assert_eq!(money(Lang::En, kzt(100_050), currency), en);
            // The stored code reads the same as the enum.
            assert_eq!(money_coded(Lang::Ru, 100_050, currency.code()), ru);
            assert_eq!(money_coded(Lang::En, 100_050, &currency.code().to_lowercase()), en);
        }
    }

    #[test]
    fn an_unknown_currency_is_written_by_its_code() {
        assert_eq!(money_coded(Lang::Ru, 250_000, "XYZ"), nb("2_500_XYZ"));
        assert_eq!(money_coded(Lang::Kk, 5, "GBP"), nb("0,05_GBP"));
        assert_eq!(money_coded(Lang::En, 250_000, "XYZ"), nb("XYZ_2,500"));
    }

    #[test]
    fn large_zero_and_negative_amounts() {
        // The largest amount an operation may carry: one billion.
        let max = kzt(epay_domain::money::MAX_AMOUNT_MINOR);
        assert_eq!(money(Lang::Ru, max, Currency::Kzt), nb("1_000_000_000_₸"));
        assert_eq!(money(Lang::En, max, Currency::Kzt), "₸1,000,000,000");
        assert_eq!(money_coded(Lang::En, i64::MAX, "KZT"), "₸92,233,720,368,547,758.07");
        assert_eq!(money_coded(Lang::Ru, i64::MIN, "KZT"), nb("-92_233_720_368_547_758,08_₸"));
        assert_eq!(money(Lang::Ru, Amount::ZERO, Currency::Kzt), nb("0_₸"));
        assert_eq!(money(Lang::En, Amount::ZERO, Currency::Usd), "$0");
        assert_eq!(money_coded(Lang::En, -150, "USD"), "-$1.50");
        assert_eq!(money_coded(Lang::Ru, -150, "USD"), nb("-1,50_$"));
    }

    #[test]
    fn phrases_put_the_amount_where_the_language_wants_it() {
        let amount = money(Lang::Kk, kzt(250_000), Currency::Kzt);
        assert_eq!(phrase("{amount} төлеу", &amount), nb("2_500_₸ төлеу"));
        assert_eq!(phrase("Pay {amount}", "₸2,500"), "Pay ₸2,500");
    }
}
