//! What the shopper's pages say for a decline: a short, actionable text per ePay reason code
//! (facts §15.2) in Russian, Kazakh and English, with the code kept visible for support
//! ("… (462)"). The API and the callbacks keep ePay's English texts (`ReasonCode::message`):
//! only the pages change (docs/compatibility.md, "Decline texts on the shopper's pages").
//!
//! The texts say what to do, and do not blame the card where the card is not the cause: a lost
//! or stolen card reads as the bank not accepting it (a page need not tell a card's finder).

use epay_domain::ReasonCode;

use super::i18n::Lang;

/// "text (code)" for a decline with `reason`, in `lang`.
pub fn decline(lang: Lang, reason: ReasonCode) -> String {
    format!("{} ({})", text(lang, reason), reason.code)
}

/// The same for a code the transfer service reports as a number; a code the gateway does not
/// know keeps the service's (English) message.
pub fn decline_code(lang: Lang, code: i32, message: &str) -> String {
    match ReasonCode::from_code(code) {
        Some(reason) => decline(lang, reason),
        None => format!("{message} ({code})"),
    }
}

/// (ru, kk, en) for one reason.
fn texts(reason: ReasonCode) -> (&'static str, &'static str, &'static str) {
    const CONTACT_BANK: (&str, &str, &str) = (
        "Банк не принимает платежи по этой карте. Обратитесь в банк или оплатите другой картой.",
        "Банк бұл карта бойынша төлемдерді қабылдамайды. Банкке хабарласыңыз немесе басқа картамен төлеңіз.",
        "Your bank does not accept payments with this card. Contact your bank, or pay with another card.",
    );
    match reason.code {
        0 => ("Оплата прошла успешно.", "Төлем сәтті өтті.", "The payment went through."),
        100 => (
            "Техническая ошибка. Попробуйте ещё раз через несколько минут.",
            "Техникалық қате. Бірнеше минуттан кейін қайталап көріңіз.",
            "A technical error occurred. Try again in a few minutes.",
        ),
        457 => (
            "Срок действия не совпадает с картой. Проверьте месяц и год на лицевой стороне карты.",
            "Қолданылу мерзімі картамен сәйкес келмейді. Картадағы ай мен жылды тексеріңіз.",
            "The expiry date does not match the card. Check the month and year printed on it.",
        ),
        462 => (
            "Банк, выпустивший карту, не одобрил платёж. Позвоните в банк по номеру на обороте карты или оплатите другой картой.",
            "Картаны шығарған банк төлемді мақұлдамады. Картаның артындағы нөмір бойынша банкке қоңырау шалыңыз немесе басқа картамен төлеңіз.",
            "The bank that issued your card did not approve the payment. Call the number on the back of the card, or pay with another card.",
        ),
        465 => (
            "По карте ограничены такие платежи. Снимите ограничение в приложении банка или оплатите другой картой.",
            "Картада мұндай төлемдерге шектеу бар. Банк қосымшасында шектеуді алып тастаңыз немесе басқа картамен төлеңіз.",
            "Payments like this are restricted on your card. Lift the restriction in your bank's app, or pay with another card.",
        ),
        466 => (
            "Банк отклонил платёж. Обратитесь в банк или оплатите другой картой.",
            "Банк төлемді қабылдамады. Банкке хабарласыңыз немесе басқа картамен төлеңіз.",
            "Your bank declined the payment. Contact your bank, or pay with another card.",
        ),
        467 => (
            "Карта не активна. Активируйте её в приложении банка или оплатите другой картой.",
            "Карта белсенді емес. Оны банк қосымшасында белсендіріңіз немесе басқа картамен төлеңіз.",
            "The card is not active yet. Activate it in your bank's app, or pay with another card.",
        ),
        470 => (
            "Сумма платежа не принята. Вернитесь в магазин и оформите заказ заново.",
            "Төлем сомасы қабылданбады. Дүкенге оралып, тапсырысты қайта рәсімдеңіз.",
            "The amount was not accepted. Return to the shop and place the order again.",
        ),
        471 => (
            "Банк не нашёл такую карту. Проверьте номер карты.",
            "Банк мұндай картаны таппады. Карта нөмірін тексеріңіз.",
            "The bank does not know this card. Check the card number.",
        ),
        472 => (
            "Номер карты введён с ошибкой. Проверьте его.",
            "Карта нөмірі қате енгізілді. Оны тексеріңіз.",
            "The card number has a typo. Check it.",
        ),
        473 => (
            "Платёж не подтверждён кодом банка. Попробуйте ещё раз и введите код из SMS внимательно.",
            "Төлем банк кодымен расталмады. Қайталап көріңіз және SMS-тегі кодты мұқият енгізіңіз.",
            "The payment was not confirmed with your bank's code. Try again and enter the code from the SMS carefully.",
        ),
        477 => (
            "Банк не смог обработать данные карты. Оплатите другой картой.",
            "Банк карта деректерін өңдей алмады. Басқа картамен төлеңіз.",
            "The bank could not process the card's details. Pay with another card.",
        ),
        478 => (
            "Срок действия карты истёк. Оплатите другой картой.",
            "Картаның қолданылу мерзімі өтіп кеткен. Басқа картамен төлеңіз.",
            "The card has expired. Pay with another card.",
        ),
        481 | 483 => CONTACT_BANK,
        484 => (
            "На карте недостаточно средств. Пополните карту или оплатите другой картой.",
            "Картада қаражат жеткіліксіз. Картаны толтырыңыз немесе басқа картамен төлеңіз.",
            "There is not enough money on the card. Top it up, or pay with another card.",
        ),
        487 => (
            "Магазин не может принять этот платёж. Обратитесь в магазин.",
            "Дүкен бұл төлемді қабылдай алмайды. Дүкенге хабарласыңыз.",
            "The shop cannot take this payment. Contact the shop.",
        ),
        488 => (
            "Сумма больше лимита по карте. Измените лимит в приложении банка или оплатите другой картой.",
            "Сома карта лимитінен асады. Банк қосымшасында лимитті өзгертіңіз немесе басқа картамен төлеңіз.",
            "The amount is above your card's limit. Change the limit in your bank's app, or pay with another card.",
        ),
        489 => (
            "Карта заблокирована. Обратитесь в банк или оплатите другой картой.",
            "Карта бұғатталған. Банкке хабарласыңыз немесе басқа картамен төлеңіз.",
            "The card is blocked. Contact your bank, or pay with another card.",
        ),
        491 => (
            "Слишком много платежей подряд. Подождите немного и попробуйте снова.",
            "Қатарынан тым көп төлем жасалды. Біраз күтіп, қайталап көріңіз.",
            "Too many payments in a short time. Wait a little and try again.",
        ),
        493 => (
            "Банк карты сейчас не отвечает. Попробуйте через несколько минут.",
            "Карта банкі қазір жауап бермейді. Бірнеше минуттан кейін қайталап көріңіз.",
            "Your card's bank is not answering right now. Try again in a few minutes.",
        ),
        499 => (
            "Подтверждение платежа отменено или код не введён. Попробуйте ещё раз.",
            "Төлемді растау тоқтатылды немесе код енгізілмеді. Қайталап көріңіз.",
            "The confirmation was cancelled or no code was entered. Try again.",
        ),
        528 => (
            "Карта получателя исчерпала дневной лимит переводов. Попробуйте завтра или выберите другую карту.",
            "Алушы картасы аударымдардың күндік лимитіне жетті. Ертең қайталаңыз немесе басқа картаны таңдаңыз.",
            "The receiving card has reached its daily transfer limit. Try tomorrow, or choose another card.",
        ),
        529 => (
            "Магазин исчерпал дневной лимит платежей. Попробуйте завтра или обратитесь в магазин.",
            "Дүкен төлемдердің күндік лимитіне жетті. Ертең қайталаңыз немесе дүкенге хабарласыңыз.",
            "The shop has reached its daily payment limit. Try tomorrow, or contact the shop.",
        ),
        877 => (
            "Не удалось пройти проверку 3-D Secure. Попробуйте ещё раз.",
            "3-D Secure тексеруі аяқталмады. Қайталап көріңіз.",
            "The 3-D Secure check could not be completed. Try again.",
        ),
        2357 => (
            "ИИН и номер телефона не совпадают. Проверьте их.",
            "ЖСН мен телефон нөмірі сәйкес келмейді. Оларды тексеріңіз.",
            "The IIN and the phone number do not match. Check them.",
        ),
        2740 => (
            "Превышено число попыток оплаты. Вернитесь в магазин и оформите заказ заново.",
            "Төлем әрекеттерінің саны асып кетті. Дүкенге оралып, тапсырысты қайта рәсімдеңіз.",
            "Too many payment attempts. Return to the shop and place the order again.",
        ),
        2872 => (
            "Неверный CVC/CVV. Проверьте три цифры на обороте карты и попробуйте ещё раз.",
            "CVC/CVV қате. Картаның артындағы үш цифрды тексеріп, қайталап көріңіз.",
            "The CVC/CVV is wrong. Check the three digits on the back of the card and try again.",
        ),
        _ => (
            "Банк отклонил платёж. Обратитесь в банк или оплатите другой картой.",
            "Банк төлемді қабылдамады. Банкке хабарласыңыз немесе басқа картамен төлеңіз.",
            "The payment was declined. Contact your bank, or pay with another card.",
        ),
    }
}

fn text(lang: Lang, reason: ReasonCode) -> &'static str {
    let (ru, kk, en) = texts(reason);
    match lang {
        Lang::Ru => ru,
        Lang::Kk => kk,
        Lang::En => en,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_a_shopper_can_meet_has_its_own_text_in_each_language() {
        let fallback = texts(ReasonCode { code: -1, message: "" });
        for reason in ReasonCode::ALL.iter().filter(|r| !r.is_success()) {
            let (ru, kk, en) = texts(*reason);
            assert_ne!((ru, kk, en), fallback, "{} falls back to the generic text", reason.code);
            assert!(ru != en && kk != en && ru != kk, "{}: not translated", reason.code);
            for lang in [Lang::Ru, Lang::Kk, Lang::En] {
                let shown = decline(lang, *reason);
                assert!(shown.ends_with(&format!(" ({})", reason.code)), "the code stays visible: {shown}");
                assert_ne!(text(lang, *reason), reason.message, "the page says more than the wire: {shown}");
            }
        }
        assert_eq!(
            decline(Lang::Ru, ReasonCode::INSUFFICIENT_FUNDS),
            "На карте недостаточно средств. Пополните карту или оплатите другой картой. (484)"
        );
        assert!(decline(Lang::Kk, ReasonCode::WRONG_CVC).starts_with("CVC/CVV қате."));
        assert_eq!(decline_code(Lang::En, 9999, "Something new"), "Something new (9999)");
    }
}
