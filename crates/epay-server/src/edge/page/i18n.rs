//! The payment page's words in Russian, Kazakh and English.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    Kk,
    En,
}

impl Lang {
    /// ePay's spellings: `rus`/`kaz`/`eng` (seeds 000, 003) and `RU`/`KZ`/`EN` (seed 002).
    pub fn parse(text: &str) -> Lang {
        match text.trim().to_ascii_lowercase().as_str() {
            "kaz" | "kz" | "kk" => Lang::Kk,
            "eng" | "en" => Lang::En,
            _ => Lang::Ru,
        }
    }

    pub fn html_code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::Kk => "kk",
            Lang::En => "en",
        }
    }
}

pub struct Words {
    pub title: &'static str,
    pub merchant: &'static str,
    pub description: &'static str,
    pub amount: &'static str,
    pub card_number: &'static str,
    pub expiry: &'static str,
    pub cvc: &'static str,
    pub holder: &'static str,
    pub pay: &'static str,
    pub processing: &'static str,
    pub bad_number: &'static str,
    pub bad_expiry: &'static str,
    pub bad_cvc: &'static str,
    pub bad_holder: &'static str,
    pub card_saved: &'static str,
    pub verification: &'static str,
    pub verify: &'static str,
    pub success: &'static str,
    pub declined: &'static str,
    pub returning: &'static str,
    pub back_to_shop: &'static str,
    pub bad_link: &'static str,
    pub no_transfers: &'static str,
    pub secure_note: &'static str,
    pub transfer_title: &'static str,
    pub payout_title: &'static str,
    pub aft_title: &'static str,
    pub sender: &'static str,
    pub receiver: &'static str,
    pub receiver_number: &'static str,
    pub saved_card: &'static str,
    pub new_card: &'static str,
    pub fee: &'static str,
    pub total: &'static str,
    pub transfer: &'static str,
    pub transfer_done: &'static str,
    // Attempts at one invoice (docs/compatibility.md §48).
    pub attempts_left: &'static str,
    pub no_attempts_left: &'static str,
    pub too_many_attempts: &'static str,
    pub too_many_attempts_detail: &'static str,
    /// A transfer the service refused for its input (nothing was written).
    pub check_entered: &'static str,
    // The card form's saved cards and "save this card" (issue 19 item 9).
    pub pay_with: &'static str,
    pub save_this_card: &'static str,
    /// A saved card the page refused (another customer's, deactivated, unknown): nothing written.
    pub saved_card_refused: &'static str,
}

pub fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Ru => &RU,
        Lang::Kk => &KK,
        Lang::En => &EN,
    }
}

static RU: Words = Words {
    title: "Оплата картой",
    merchant: "Продавец",
    description: "Описание",
    amount: "Сумма",
    card_number: "Номер карты",
    expiry: "Срок действия (ММ/ГГ)",
    cvc: "CVC/CVV",
    holder: "Имя владельца карты",
    pay: "Оплатить",
    processing: "Обработка…",
    bad_number: "Неверный номер карты",
    bad_expiry: "Неверный срок действия",
    bad_cvc: "Неверный CVC",
    bad_holder: "Введите имя владельца карты латиницей",
    card_saved: "Карта будет сохранена для следующих оплат",
    verification: "Проверка карты: деньги не списываются",
    verify: "Сохранить карту",
    success: "Оплата прошла успешно",
    declined: "Платёж отклонён",
    returning: "Возвращаемся в магазин…",
    back_to_shop: "Вернуться в магазин",
    bad_link: "Ссылка на оплату недействительна",
    no_transfers: "Переводы недоступны на этом терминале",
    secure_note: "Данные карты передаются по защищённому соединению и не сохраняются магазином",
    transfer_title: "Перевод с карты на карту",
    payout_title: "Выплата на карту",
    aft_title: "Оплата с карты",
    sender: "Карта отправителя",
    receiver: "Карта получателя",
    receiver_number: "Номер карты получателя",
    saved_card: "Сохранённая карта",
    new_card: "Новая карта",
    fee: "Комиссия",
    total: "Итого к списанию",
    transfer: "Перевести",
    transfer_done: "Перевод выполнен",
    attempts_left: "Осталось попыток",
    no_attempts_left: "Попыток больше не осталось",
    too_many_attempts: "Превышено число попыток оплаты",
    too_many_attempts_detail:
        "Все попытки оплатить этот заказ отклонены. Вернитесь в магазин, чтобы оформить заказ заново.",
    check_entered: "Проверьте введённые данные и попробуйте ещё раз",
    pay_with: "Чем оплатить",
    save_this_card: "Сохранить карту для следующих оплат",
    saved_card_refused: "Этой сохранённой картой нельзя оплатить. Выберите другую карту или введите новую.",
};

static KK: Words = Words {
    title: "Картамен төлеу",
    merchant: "Сатушы",
    description: "Сипаттама",
    amount: "Сома",
    card_number: "Карта нөмірі",
    expiry: "Қолданылу мерзімі (АА/ЖЖ)",
    cvc: "CVC/CVV",
    holder: "Карта иесінің аты",
    pay: "Төлеу",
    processing: "Өңделуде…",
    bad_number: "Карта нөмірі қате",
    bad_expiry: "Қолданылу мерзімі қате",
    bad_cvc: "CVC қате",
    bad_holder: "Карта иесінің атын латын әріптерімен енгізіңіз",
    card_saved: "Карта келесі төлемдер үшін сақталады",
    verification: "Картаны тексеру: ақша алынбайды",
    verify: "Картаны сақтау",
    success: "Төлем сәтті өтті",
    declined: "Төлем қабылданбады",
    returning: "Дүкенге қайтып жатырмыз…",
    back_to_shop: "Дүкенге оралу",
    bad_link: "Төлем сілтемесі жарамсыз",
    no_transfers: "Бұл терминалда аударымдар қолжетімсіз",
    secure_note: "Карта деректері қорғалған байланыс арқылы жіберіледі және дүкенде сақталмайды",
    transfer_title: "Картадан картаға аударым",
    payout_title: "Картаға төлем",
    aft_title: "Картадан төлеу",
    sender: "Жіберушінің картасы",
    receiver: "Алушының картасы",
    receiver_number: "Алушының карта нөмірі",
    saved_card: "Сақталған карта",
    new_card: "Жаңа карта",
    fee: "Комиссия",
    total: "Барлығы",
    transfer: "Аудару",
    transfer_done: "Аударым орындалды",
    attempts_left: "Қалған әрекеттер саны",
    no_attempts_left: "Басқа әрекет қалмады",
    too_many_attempts: "Төлем әрекеттерінің саны асып кетті",
    too_many_attempts_detail:
        "Бұл тапсырысты төлеудің барлық әрекеттері қабылданбады. Тапсырысты қайта рәсімдеу үшін дүкенге оралыңыз.",
    check_entered: "Енгізілген деректерді тексеріп, қайталап көріңіз",
    pay_with: "Төлейтін карта",
    save_this_card: "Картаны келесі төлемдер үшін сақтау",
    saved_card_refused: "Бұл сақталған картамен төлеу мүмкін емес. Басқа картаны таңдаңыз немесе жаңа карта енгізіңіз.",
};

static EN: Words = Words {
    title: "Card payment",
    merchant: "Merchant",
    description: "Description",
    amount: "Amount",
    card_number: "Card number",
    expiry: "Expiry (MM/YY)",
    cvc: "CVC/CVV",
    holder: "Cardholder name",
    pay: "Pay",
    processing: "Processing…",
    bad_number: "Invalid card number",
    bad_expiry: "Invalid expiry date",
    bad_cvc: "Invalid CVC",
    bad_holder: "Enter the cardholder name in Latin letters",
    card_saved: "Your card will be saved for future payments",
    verification: "Card verification: no money is charged",
    verify: "Save card",
    success: "Payment successful",
    declined: "Payment declined",
    returning: "Returning to the shop…",
    back_to_shop: "Return to the shop",
    bad_link: "This payment link is not valid",
    no_transfers: "Transfers are not available on this terminal",
    secure_note: "Card data travels over a protected connection and is never kept by the shop",
    transfer_title: "Card to card transfer",
    payout_title: "Payout to a card",
    aft_title: "Payment from a card",
    sender: "Sender card",
    receiver: "Receiver card",
    receiver_number: "Receiver card number",
    saved_card: "Saved card",
    new_card: "New card",
    fee: "Fee",
    total: "Total to pay",
    transfer: "Transfer",
    transfer_done: "Transfer complete",
    attempts_left: "Attempts left",
    no_attempts_left: "No attempts left",
    too_many_attempts: "Too many failed payment attempts",
    too_many_attempts_detail:
        "Every attempt to pay this order was declined. Return to the shop to place the order again.",
    check_entered: "Check what you entered and try again",
    pay_with: "Pay with",
    save_this_card: "Save this card for future payments",
    saved_card_refused: "This saved card cannot be used. Choose another card or enter a new one.",
};

/// The simulated issuer's 3-D Secure page, in the payment's language.
pub struct AcsWords {
    pub heading: &'static str,
    pub amount: &'static str,
    pub merchant: &'static str,
    pub card: &'static str,
    /// Before the sandbox's fixed code, shown in bold.
    pub sandbox_code: &'static str,
    /// Production: where the code comes from (the operator's command follows).
    pub code_sent: &'static str,
    pub operator_note: &'static str,
    pub code: &'static str,
    pub confirm: &'static str,
    pub cancel: &'static str,
    pub resend: &'static str,
    pub resent: &'static str,
    pub wrong_code: &'static str,
    pub attempts_left: &'static str,
}

pub fn acs_words(lang: Lang) -> &'static AcsWords {
    match lang {
        Lang::Ru => &ACS_RU,
        Lang::Kk => &ACS_KK,
        Lang::En => &ACS_EN,
    }
}

static ACS_RU: AcsWords = AcsWords {
    heading: "Подтверждение платежа",
    amount: "Сумма",
    merchant: "Магазин",
    card: "Карта",
    sandbox_code: "Тестовый режим: одноразовый код",
    code_sent: "Введите одноразовый код, отправленный держателю карты.",
    operator_note: "Этот тестовый банк пишет код в журнал шлюза; оператор читает его командой",
    code: "Одноразовый код",
    confirm: "Подтвердить",
    cancel: "Отменить платёж",
    resend: "Отправить код ещё раз",
    resent: "Код отправлен ещё раз.",
    wrong_code: "Неверный код.",
    attempts_left: "Осталось попыток",
};

static ACS_KK: AcsWords = AcsWords {
    heading: "Төлемді растау",
    amount: "Сома",
    merchant: "Дүкен",
    card: "Карта",
    sandbox_code: "Тест режимі: бір реттік код",
    code_sent: "Карта иесіне жіберілген бір реттік кодты енгізіңіз.",
    operator_note: "Бұл тест банкі кодты шлюз журналына жазады; оператор оны мына командамен оқиды",
    code: "Бір реттік код",
    confirm: "Растау",
    cancel: "Төлемнен бас тарту",
    resend: "Кодты қайта жіберу",
    resent: "Код қайта жіберілді.",
    wrong_code: "Код қате.",
    attempts_left: "Қалған әрекеттер саны",
};

static ACS_EN: AcsWords = AcsWords {
    heading: "Confirm the payment",
    amount: "Amount",
    merchant: "Shop",
    card: "Card",
    sandbox_code: "Sandbox: the one-time code is",
    code_sent: "Enter the one-time code sent to the card holder.",
    operator_note: "This simulated bank writes it to the gateway's log; operators read it with",
    code: "One-time code",
    confirm: "Confirm",
    cancel: "Cancel payment",
    resend: "Send the code again",
    resent: "The code has been sent again.",
    wrong_code: "Wrong code.",
    attempts_left: "Attempts left",
};
