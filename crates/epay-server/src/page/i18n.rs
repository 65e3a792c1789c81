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
};
