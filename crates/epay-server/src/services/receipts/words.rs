//! A payment's words for people, in Russian, Kazakh and English: its status as a shopper reads
//! it ("Paid — amount held on the card" for `AUTH`), a date in Astana time, and the receipt
//! e-mail (`templates/mail/receipt.*.txt`). The payment page, the demo shop and the e-mail use
//! the same words; the raw status code stays beside them where support needs it.

use askama::Template;
use epay_domain::{MessageLanguage, TxStatus};
use time::OffsetDateTime;

use super::Receipt;
use crate::platform::clock::KZ_OFFSET;
use crate::services::outbox::{message_amount, one_line};

/// The status of a payment in words, in `lang`.
pub fn status(lang: MessageLanguage, status: TxStatus) -> &'static str {
    let (ru, kk, en) = match status {
        TxStatus::New => ("Создан", "Құрылды", "Created"),
        TxStatus::ThreeD => ("Ожидает подтверждения 3-D Secure", "3-D Secure растауын күтуде", "Awaiting 3-D Secure"),
        TxStatus::Auth => (
            "Оплачено — сумма заблокирована на карте",
            "Төленді — сома картада бұғатталды",
            "Paid — amount held on the card",
        ),
        TxStatus::Charge => ("Оплачено — сумма списана", "Төленді — сома есептен шығарылды", "Paid — amount charged"),
        TxStatus::Cancel => ("Отменено", "Күші жойылды", "Cancelled"),
        TxStatus::CancelOld => {
            ("Отменено: истёк срок блокировки", "Күші жойылды: бұғаттау мерзімі өтті", "Cancelled: the hold expired")
        }
        TxStatus::Refund => ("Возвращено", "Қайтарылды", "Refunded"),
        TxStatus::Reject => ("Отклонено", "Қабылданбады", "Declined"),
        TxStatus::Failed => ("Не пройдена проверка 3-D Secure", "3-D Secure тексерісінен өтпеді", "3-D Secure failed"),
        TxStatus::Verified => ("Карта проверена", "Карта тексерілді", "Card verified"),
    };
    pick(lang, ru, kk, en)
}

fn pick(lang: MessageLanguage, ru: &'static str, kk: &'static str, en: &'static str) -> &'static str {
    match lang {
        MessageLanguage::Ru => ru,
        MessageLanguage::Kk => kk,
        MessageLanguage::En => en,
    }
}

const MONTHS_RU: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];
const MONTHS_KK: [&str; 12] = [
    "қаңтар",
    "ақпан",
    "наурыз",
    "сәуір",
    "мамыр",
    "маусым",
    "шілде",
    "тамыз",
    "қыркүйек",
    "қазан",
    "қараша",
    "желтоқсан",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `ms` in Astana time, as each language writes a date: "1 декабря 2026 г., 09:05",
/// "2026 жылғы 1 желтоқсан, 09:05", "1 December 2026, 09:05".
pub fn date(lang: MessageLanguage, ms: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(KZ_OFFSET);
    let (day, month, year) = (dt.day(), usize::from(u8::from(dt.month())) - 1, dt.year());
    let time = format!("{:02}:{:02}", dt.hour(), dt.minute());
    match lang {
        MessageLanguage::Ru => format!("{day} {} {year} г., {time}", MONTHS_RU[month]),
        MessageLanguage::Kk => format!("{year} жылғы {day} {}, {time}", MONTHS_KK[month]),
        MessageLanguage::En => format!("{day} {} {year}, {time}", MONTHS_EN[month]),
    }
}

/// "Astana time" after a date.
pub fn time_zone(lang: MessageLanguage) -> &'static str {
    pick(lang, "время Астаны", "Астана уақыты", "Astana time")
}

/// The values the e-mail templates show, written out on one line each.
struct Shown {
    shop: String,
    amount: String,
    card: String,
    status: &'static str,
    invoice_id: String,
    reference: String,
    date: String,
}

#[derive(Template)]
#[template(path = "mail/receipt.ru.txt")]
struct ReceiptRu<'a> {
    m: &'a Shown,
}

#[derive(Template)]
#[template(path = "mail/receipt.kk.txt")]
struct ReceiptKk<'a> {
    m: &'a Shown,
}

#[derive(Template)]
#[template(path = "mail/receipt.en.txt")]
struct ReceiptEn<'a> {
    m: &'a Shown,
}

/// Ours render from plain strings and cannot fail; if one did, the log says so and the body is
/// empty rather than half-written.
fn render(template: &dyn askama::DynTemplate) -> String {
    template.dyn_render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the receipt template did not render");
        String::new()
    })
}

/// (subject, body) of the receipt e-mail, in the receipt's language.
pub fn email(r: &Receipt) -> (String, String) {
    let lang = r.language;
    let m = Shown {
        shop: one_line(&r.merchant_name),
        amount: message_amount(r.amount, &r.currency),
        card: r.card_mask.clone(),
        status: status(lang, r.status),
        invoice_id: r.invoice_id.clone(),
        reference: r.reference.clone(),
        date: format!("{} ({})", date(lang, r.at_ms), time_zone(lang)),
    };
    let body = match lang {
        MessageLanguage::Ru => render(&ReceiptRu { m: &m }),
        MessageLanguage::Kk => render(&ReceiptKk { m: &m }),
        MessageLanguage::En => render(&ReceiptEn { m: &m }),
    };
    let subject = match lang {
        MessageLanguage::Ru => format!("Чек об оплате: {}, {}", m.shop, m.amount),
        MessageLanguage::Kk => format!("Төлем түбіртегі: {}, {}", m.shop, m.amount),
        MessageLanguage::En => format!("Your receipt: {}, {}", m.shop, m.amount),
    };
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use epay_domain::{Amount, PaymentKind};

    // 2026-12-01 04:05 UTC = 09:05 in Astana.
    const AT: i64 = 1_796_097_900_000;

    #[test]
    fn dates_read_naturally_in_each_language_in_astana_time() {
        assert_eq!(date(MessageLanguage::Ru, AT), "1 декабря 2026 г., 09:05");
        assert_eq!(date(MessageLanguage::Kk, AT), "2026 жылғы 1 желтоқсан, 09:05");
        assert_eq!(date(MessageLanguage::En, AT), "1 December 2026, 09:05");
    }

    #[test]
    fn every_status_has_words_in_every_language() {
        for s in TxStatus::ALL {
            for lang in MessageLanguage::ALL {
                let text = status(*lang, *s);
                assert!(!text.is_empty() && text != s.as_str(), "{s:?} {lang:?}");
            }
        }
        assert_eq!(status(MessageLanguage::Ru, TxStatus::Charge), "Оплачено — сумма списана");
        assert_ne!(status(MessageLanguage::En, TxStatus::Auth), status(MessageLanguage::En, TxStatus::Charge));
    }

    #[test]
    fn the_e_mail_says_everything_in_each_language_on_one_line_each() {
        for (lang, subject, card) in [
            (MessageLanguage::Ru, "Чек об оплате: Shop Bcc: x@y.kz, 1500.50 KZT", "Карта: 440563...5096"),
            (MessageLanguage::Kk, "Төлем түбіртегі: Shop Bcc: x@y.kz, 1500.50 KZT", "Карта: 440563...5096"),
            (MessageLanguage::En, "Your receipt: Shop Bcc: x@y.kz, 1500.50 KZT", "Card: 440563...5096"),
        ] {
            let r = Receipt {
                merchant_name: "Shop\r\nBcc: x@y.kz".into(),
                kind: PaymentKind::Payment,
                status: TxStatus::Auth,
                amount: Amount::from_minor(150_050).unwrap(),
                currency: "KZT".into(),
                card_mask: "440563...5096".into(),
                reference: "123456789012".into(),
                invoice_id: "000123".into(),
                at_ms: AT,
                language: lang,
                back_link: String::new(),
                email_masked: None,
                ticket: String::new(),
            };
            let (s, body) = email(&r);
            assert_eq!(s, subject);
            assert!(body.contains(card), "{body}");
            assert!(body.contains("123456789012") && body.contains("000123"), "{body}");
            assert!(body.contains(status(lang, TxStatus::Auth)) && body.contains(&date(lang, AT)), "{body}");
        }
    }
}
