//! The cabinet's words in Russian, Kazakh and English. One table: each word is written once
//! with its three translations, so a language cannot miss a word.

pub use crate::edge::page::i18n::Lang;

macro_rules! words {
    ($($name:ident: ($ru:literal, $kk:literal, $en:literal),)*) => {
        pub struct Words {
            $(pub $name: &'static str,)*
        }
        static RU: Words = Words { $($name: $ru,)* };
        static KK: Words = Words { $($name: $kk,)* };
        static EN: Words = Words { $($name: $en,)* };
    };
}

pub fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Ru => &RU,
        Lang::Kk => &KK,
        Lang::En => &EN,
    }
}

words! {
    title: ("Кабинет продавца", "Сатушы кабинеті", "Merchant cabinet"),
    sign_in: ("Вход", "Кіру", "Sign in"),
    email: ("Эл. почта", "Эл. пошта", "E-mail"),
    password: ("Пароль", "Құпиясөз", "Password"),
    sign_out: ("Выйти", "Шығу", "Sign out"),
    bad_credentials: ("Неверная эл. почта или пароль", "Эл. пошта немесе құпиясөз қате", "Wrong e-mail or password"),
    locked: ("Слишком много неудачных попыток: вход заблокирован до", "Сәтсіз әрекеттер тым көп: кіру бұғатталды. Бұғаттау аяқталатын уақыт:", "Too many failed attempts: sign-in is locked until"),
    overview: ("Обзор", "Шолу", "Overview"),
    transactions: ("Транзакции", "Транзакциялар", "Transactions"),
    terminals: ("Терминалы", "Терминалдар", "Terminals"),
    credentials: ("Ключи доступа", "Қол жеткізу кілттері", "Credentials"),
    cards: ("Сохранённые карты", "Сақталған карталар", "Saved cards"),
    today: ("Сегодня", "Бүгін", "Today"),
    last_30_days: ("30 дней", "30 күн", "30 days"),
    volume: ("Оборот", "Айналым", "Volume"),
    count: ("Количество", "Саны", "Count"),
    approval_rate: ("Доля одобренных", "Мақұлданғандар үлесі", "Approval rate"),
    terminal: ("Терминал", "Терминал", "Terminal"),
    daily_volume: ("Оборот по дням, 30 дней", "Күндер бойынша айналым, 30 күн", "Daily volume, last 30 days"),
    date_from: ("С даты", "Күннен", "From"),
    date_to: ("По дату", "Күнге дейін", "To"),
    status: ("Статус", "Мәртебе", "Status"),
    st_new: ("Новая", "Жаңа", "New"),
    st_3d: ("Ожидает 3-D Secure", "3-D Secure күтуде", "Awaiting 3-D Secure"),
    st_auth: ("Холд", "Холд", "Held"),
    st_charge: ("Оплачена", "Төленді", "Charged"),
    st_cancel: ("Отменена", "Күші жойылды", "Cancelled"),
    st_cancel_old: ("Холд истёк", "Холд мерзімі өтті", "Hold expired"),
    st_refund: ("Возвращена", "Қайтарылды", "Refunded"),
    st_reject: ("Отклонена", "Қабылданбады", "Declined"),
    st_failed: ("3-D Secure не пройдена", "3-D Secure өтпеді", "3-D Secure failed"),
    st_verified: ("Карта проверена", "Карта тексерілді", "Card verified"),
    any: ("Любой", "Кез келген", "Any"),
    invoice_id: ("Номер заказа (invoiceId)", "Тапсырыс нөмірі (invoiceId)", "Invoice (invoiceId)"),
    card_mask: ("Маска карты", "Карта маскасы", "Card mask"),
    amount_min: ("Сумма от", "Ең аз сома", "Amount from"),
    amount_max: ("Сумма до", "Ең көп сома", "Amount to"),
    search: ("Поиск", "Іздеу", "Search"),
    apply: ("Найти", "Табу", "Apply"),
    reset: ("Сбросить", "Тазарту", "Reset"),
    export_csv: ("Выгрузить CSV", "CSV жүктеу", "Export CSV"),
    found: ("Найдено", "Табылды", "Found"),
    nothing_found: ("Ничего не найдено", "Ештеңе табылмады", "Nothing found"),
    previous: ("Назад", "Артқа", "Previous"),
    next: ("Вперёд", "Келесі", "Next"),
    page: ("Страница", "Бет", "Page"),
    created: ("Дата", "Күні", "Date"),
    amount: ("Сумма", "Сома", "Amount"),
    card: ("Карта", "Карта", "Card"),
    receiver_card: ("Карта получателя", "Алушының картасы", "Receiver card"),
    fee: ("Комиссия", "Комиссия", "Fee"),
    description: ("Описание", "Сипаттама", "Description"),
    reason: ("Причина", "Себеп", "Reason"),
    transaction: ("Транзакция", "Транзакция", "Transaction"),
    kind: ("Тип", "Түрі", "Kind"),
    k_payment: ("Оплата картой", "Картамен төлем", "Card payment"),
    k_verification: ("Проверка карты", "Картаны тексеру", "Card verification"),
    k_p2p: ("Перевод с карты на карту", "Картадан картаға аударым", "Card-to-card transfer"),
    k_aft: ("Пополнение с карты (AFT)", "Картадан толықтыру (AFT)", "Account funding (AFT)"),
    k_oct: ("Выплата на карту (OCT)", "Картаға төлем (OCT)", "Payout to a card (OCT)"),
    charged: ("Списано", "Есептен шығарылды", "Charged"),
    refunded: ("Возвращено", "Қайтарылды", "Refunded"),
    refunds: ("Возвраты", "Қайтарулар", "Refunds"),
    no_refunds: ("Возвратов не было", "Қайтарулар болған жоқ", "No refunds yet"),
    left_to_refund: ("Можно вернуть", "Қайтаруға болады", "Left to refund"),
    history: ("История статусов", "Мәртебелер тарихы", "Status history"),
    operation: ("Операция", "Операция", "Operation"),
    step_created: ("Создание", "Құру", "Created"),
    step_3ds: ("Проверка 3-D Secure", "3-D Secure тексеруі", "3-D Secure check"),
    step_charge: ("Списание", "Есептен шығару", "Charge"),
    step_cancel: ("Отмена", "Болдырмау", "Cancellation"),
    step_refund: ("Возврат", "Қайтару", "Refund"),
    step_expire: ("Истечение холда", "Холд мерзімінің өтуі", "Hold expiry"),
    ledger: ("Проводки", "Бухгалтерлік жазбалар", "Ledger entries"),
    debit: ("Дебет", "Дебет", "Debit"),
    lt_posted: ("Проведено", "Өткізілді", "Posted"),
    lt_pending: ("Холд", "Холд", "Hold"),
    lt_post_pending: ("Списание холда", "Холдты есептен шығару", "Hold charged"),
    lt_void_pending: ("Снятие холда", "Холдты босату", "Hold released"),
    credit: ("Кредит", "Кредит", "Credit"),
    three_ds: ("3-D Secure", "3-D Secure", "3-D Secure"),
    secure_passed: ("Покупатель прошёл проверку 3-D Secure", "Сатып алушы 3-D Secure тексеруінен өтті", "The shopper passed 3-D Secure"),
    tds_pending: ("ожидает ответа покупателя", "сатып алушының жауабын күтуде", "waiting for the shopper"),
    tds_passed: ("код подтверждён", "код расталды", "code accepted"),
    tds_failed: ("неверный код", "код қате", "wrong code"),
    tds_cancelled: ("отменена покупателем", "сатып алушы болдырмады", "cancelled by the shopper"),
    tds_confirmed: ("завершена", "аяқталды", "completed"),
    not_challenged: ("Без проверки 3-D Secure", "3-D Secure тексерусіз", "Not challenged"),
    challenge: ("Проверка", "Тексеру", "Challenge"),
    callbacks: ("Уведомления (postLink)", "Хабарламалар (postLink)", "Callbacks (postLink)"),
    no_callbacks: ("Уведомлений нет", "Хабарлама жоқ", "No callbacks"),
    attempts: ("Попытки", "Әрекеттер", "Attempts"),
    reply: ("Ответ", "Жауап", "Reply"),
    cb_pending: ("в очереди", "кезекте", "queued"),
    cb_delivered: ("доставлено", "жеткізілді", "delivered"),
    cb_failed: ("не доставлено", "жеткізілмеді", "failed"),
    next_attempt: ("Следующая попытка", "Келесі әрекет", "Next attempt"),
    actions: ("Действия", "Әрекеттер", "Actions"),
    charge: ("Списать", "Есептен шығару", "Charge"),
    cancel: ("Отменить", "Болдырмау", "Cancel"),
    refund: ("Вернуть", "Қайтару", "Refund"),
    resend: ("Отправить снова", "Қайта жіберу", "Re-send"),
    amount_hint: ("пусто — вся сумма", "бос — бүкіл сома", "empty: the whole amount"),
    confirm_title: ("Подтвердите действие", "Әрекетті растаңыз", "Confirm the action"),
    confirm: ("Подтвердить", "Растау", "Confirm"),
    back: ("Назад", "Артқа", "Back"),
    done_deactivate: ("Карта отключена", "Карта өшірілді", "Card deactivated"),
    done_charge: ("Списание выполнено", "Есептен шығару орындалды", "Charge completed"),
    done_cancel: ("Отмена выполнена", "Болдырмау орындалды", "Cancellation completed"),
    done_refund: ("Возврат выполнен", "Қайтару орындалды", "Refund completed"),
    done_resend: ("Уведомление поставлено в очередь на отправку", "Хабарлама жіберуге кезекке қойылды", "Callback queued for sending"),
    whole_amount: ("вся сумма", "бүкіл сома", "the whole amount"),
    not_found: ("Не найдено", "Табылмады", "Not found"),
    csrf_refused: ("Форма устарела или отправлена не из кабинета. Обновите страницу и повторите.", "Форма ескірген немесе кабинеттен жіберілмеген. Бетті жаңартып, қайталаңыз.", "The form has expired or did not come from the cabinet. Reload the page and try again."),
    bad_input: ("Неверные данные", "Деректер қате", "Invalid input"),
    refused: ("Операция отклонена", "Операция қабылданбады", "Operation refused"),
    check_field: ("Проверьте поле", "Өрісті тексеріңіз", "Check the field"),
    bad_amount: ("Сумма указана неверно: пример 1000,50", "Сома қате көрсетілген: мысалы 1000,50", "The amount is not valid: for example 1000.50"),
    refund_over_left: ("Сумма возврата больше, чем можно вернуть:", "Қайтару сомасы қайтаруға болатын сомадан көп:", "The refund exceeds what is left to refund:"),
    charge_over_amount: ("Сумма списания больше суммы холда:", "Есептен шығару сомасы холд сомасынан көп:", "The charge exceeds the held amount:"),
    refund_below_min: ("Возврат должен быть не меньше 10 KZT или на всю оставшуюся сумму", "Қайтару 10 KZT-ден кем болмауы немесе қалған соманың бәріне болуы керек", "A refund must be at least 10 KZT, or all that is left"),
    wrong_status: ("Операция недоступна в текущем статусе платежа:", "Төлемнің ағымдағы мәртебесінде операция қолжетімсіз:", "The operation is not possible in the payment's status:"),
    not_a_payment: ("Списание, отмена и возврат доступны только для оплат картой, не для переводов", "Есептен шығару, болдырмау және қайтару тек картамен төлемдерге қолжетімді, аударымдарға емес", "Only card payments can be charged, cancelled or refunded, not transfers"),
    external_reused: ("Этот возврат уже выполнен на другую сумму", "Бұл қайтару басқа сомаға орындалған", "This refund was already made for another amount"),
    internal: ("Внутренняя ошибка, повторите позже", "Ішкі қате, кейінірек қайталаңыз", "Internal error, please try again later"),
    mode: ("Схема оплаты", "Төлем схемасы", "Payment scheme"),
    one_step: ("Одностадийная (сразу списание)", "Бір сатылы (бірден есептен шығару)", "One-step (charged at once)"),
    two_step: ("Двухстадийная (холд, затем списание)", "Екі сатылы (холд, кейін есептен шығару)", "Two-step (hold, then charge)"),
    hold_hours: ("Срок холда, часов", "Холд мерзімі, сағат", "Hold period, hours"),
    transfers: ("Переводы разрешены", "Аударымдарға рұқсат", "Transfers allowed"),
    operation_callbacks: ("Уведомления об операциях", "Операциялар туралы хабарламалар", "Operation callbacks"),
    fee_percent: ("Комиссия за перевод, %", "Аударым комиссиясы, %", "Transfer fee, %"),
    fee_fixed: ("Комиссия фиксированная, KZT", "Тұрақты комиссия, KZT", "Fixed fee, KZT"),
    fee_min: ("Комиссия не менее, KZT", "Ең аз комиссия, KZT", "Minimum fee, KZT"),
    max_attempts: ("Попыток оплаты на заказ (1–10)", "Тапсырысқа төлем әрекеттері (1–10)", "Payment attempts per order (1–10)"),
    attempt: ("Попытка", "Әрекет", "Attempt"),
    invoice_attempts: ("Все попытки оплаты заказа", "Тапсырысты төлеудің барлық әрекеттері", "Every attempt at this invoice"),
    daily_limit: ("Лимит переводов в день, KZT (0 — нет)", "Күндік аударым лимиті, KZT (0 — жоқ)", "Daily transfer limit, KZT (0: none)"),
    save: ("Сохранить", "Сақтау", "Save"),
    saved: ("Сохранено", "Сақталды", "Saved"),
    client_id: ("Client ID", "Client ID", "Client ID"),
    client_secret: ("Client secret", "Client secret", "Client secret"),
    client_secret_note: ("Хранится только хэш; новый секрет показывается один раз, старый перестаёт работать в течение секунды на всех узлах шлюза.", "Тек хэші сақталады; жаңа құпия бір рет көрсетіледі, ескісі шлюздің барлық түйіндерінде бір секунд ішінде жұмысын тоқтатады.", "Only its hash is kept; a new secret is shown once and the old one stops working within a second on every gateway node."),
    rotate_client: ("Выпустить новый client secret", "Жаңа client secret шығару", "Rotate the client secret"),
    webhook_secret: ("Секрет подписи уведомлений", "Хабарлама қолтаңбасының құпиясы", "Callback signing secret"),
    webhook_note: ("Уведомления, поставленные в очередь после смены, подписываются новым секретом.", "Ауыстырудан кейін кезекке қойылған хабарламалар жаңа құпиямен қол қойылады.", "Callbacks queued after a rotation are signed with the new secret."),
    show_secret: ("Показать", "Көрсету", "Show"),
    rotate_webhook: ("Сменить секрет подписи", "Қолтаңба құпиясын ауыстыру", "Rotate the signing secret"),
    new_secret: ("Новый секрет", "Жаңа құпия", "New secret"),
    shown_once: ("Скопируйте сейчас: он больше не будет показан.", "Қазір көшіріп алыңыз: ол қайта көрсетілмейді.", "Copy it now: it will not be shown again."),
    account_id: ("accountId клиента", "Клиенттің accountId", "Customer accountId"),
    show: ("Показать", "Көрсету", "Show"),
    deactivate: ("Отключить", "Өшіру", "Deactivate"),
    no_cards: ("Сохранённых карт нет", "Сақталған карта жоқ", "No saved cards"),
    usable: ("Доступна для оплаты", "Төлеуге қолжетімді", "Usable"),
    yes: ("да", "иә", "yes"),
    no: ("нет", "жоқ", "no"),
    recurrent_agreement: ("Согласие на рекуррентные платежи", "Рекуррентті төлемдерге келісім", "Recurrent agreement"),
    card_history: ("История карты", "Карта тарихы", "Card history"),
    payer_name: ("Держатель карты", "Карта иесі", "Cardholder"),
    card_saved: ("Карта сохранена", "Карта сақталды", "Card saved"),
    card_recurrent_agreed: ("Получено согласие на рекуррентные платежи", "Рекуррентті төлемдерге келісім алынды", "Recurrent agreement recorded"),
    card_deactivated: ("Карта отключена", "Карта өшірілді", "Card deactivated"),
    invoices: ("Счета по ссылке", "Сілтеме бойынша шоттар", "Invoice links"),
    invoice_new: ("Новый счёт", "Жаңа шот", "New invoice"),
    invoice_create: ("Создать ссылку", "Сілтеме жасау", "Create link"),
    invoice_created: ("Ссылка создана:", "Сілтеме жасалды:", "Link created:"),
    invoice_link: ("Ссылка", "Сілтеме", "Link"),
    invoice_open: ("Открыть", "Ашу", "Open"),
    invoice_cancel: ("Отменить", "Жою", "Cancel"),
    invoice_expires: ("Действует до", "Жарамды мерзімі", "Valid until"),
    invoice_expire_period: ("Срок действия (30m, 2h, 1d)", "Жарамдылық мерзімі (30m, 2h, 1d)", "Valid for (30m, 2h, 1d)"),
    invoice_phone: ("Телефон для SMS", "SMS үшін телефон", "Phone for SMS"),
    invoice_active: ("Активен", "Белсенді", "Active"),
    invoice_paid: ("Оплачен", "Төленді", "Paid"),
    invoice_expired: ("Истёк", "Мерзімі өтті", "Expired"),
    invoice_cancelled: ("Отменён", "Жойылды", "Cancelled"),
    subscriptions: ("Подписки", "Жазылымдар", "Subscriptions"),
    subscription: ("Подписка", "Жазылым", "Subscription"),
    no_subscriptions: ("Подписок нет", "Жазылым жоқ", "No subscriptions"),
    frequency: ("Периодичность", "Кезеңділік", "Frequency"),
    freq_weekly: ("Еженедельно", "Апта сайын", "Weekly"),
    freq_monthly: ("Ежемесячно", "Ай сайын", "Monthly"),
    freq_quarterly: ("Ежеквартально", "Тоқсан сайын", "Quarterly"),
    sub_active: ("Активна", "Белсенді", "Active"),
    sub_paused: ("Приостановлена", "Тоқтатыла тұрды", "Paused"),
    sub_cancelled: ("Отменена", "Жойылды", "Cancelled"),
    sub_stopped: ("Остановлена: карта отключена", "Тоқтатылды: карта өшірілді", "Stopped: card deactivated"),
    next_charge: ("Следующее списание", "Келесі есептен шығару", "Next charge"),
    last_payment: ("Последний платёж", "Соңғы төлем", "Last payment"),
    sub_original: ("Первый платёж", "Алғашқы төлем", "Original payment"),
    sub_periods: ("Списания по периодам", "Кезеңдер бойынша есептен шығарулар", "Charges by period"),
    no_periods: ("Списаний ещё не было", "Әлі есептен шығару болған жоқ", "No charges yet"),
    period: ("Период", "Кезең", "Period"),
    approved: ("Одобрено", "Мақұлданды", "Approved"),
    declined: ("Отклонено", "Қабылданбады", "Declined"),
    sub_pause: ("Приостановить", "Тоқтата тұру", "Pause"),
    sub_resume: ("Возобновить", "Жалғастыру", "Resume"),
    sub_cancel: ("Отменить подписку", "Жазылымды жою", "Cancel subscription"),
    done_pause: ("Подписка приостановлена", "Жазылым тоқтатыла тұрды", "Subscription paused"),
    done_resume: ("Подписка возобновлена", "Жазылым жалғастырылды", "Subscription resumed"),
    done_sub_cancel: ("Подписка отменена", "Жазылым жойылды", "Subscription cancelled"),
    currency: ("Валюта", "Валюта", "Currency"),
    language: ("Язык страницы оплаты", "Төлем бетінің тілі", "Payment page language"),
    messages: ("Сообщения", "Хабарламалар", "Messages"),
    message: ("Сообщение", "Хабарлама", "Message"),
    no_messages: ("Сообщений нет", "Хабарлама жоқ", "No messages"),
    channel: ("Канал", "Арна", "Channel"),
    sms: ("SMS", "SMS", "SMS"),
    recipient: ("Получатель", "Алушы", "Recipient"),
    subject: ("Тема", "Тақырып", "Subject"),
    message_language: ("Язык", "Тіл", "Language"),
    last_error: ("Последняя ошибка", "Соңғы қате", "Last error"),
    sent_at: ("Отправлено", "Жіберілді", "Sent at"),
    message_invoice_link: ("Ссылка на оплату счёта", "Шотты төлеу сілтемесі", "Invoice link"),
    message_receipt: ("Чек", "Түбіртек", "Receipt"),
    message_pending: ("В очереди", "Кезекте", "Pending"),
    message_sent: ("Отправлено", "Жіберілді", "Sent"),
    message_failed: ("Не доставлено", "Жеткізілмеді", "Failed"),
}

impl Words {
    /// How often a subscription charges, in words (the code stays on the page as a hint).
    pub fn frequency(&self, f: epay_domain::Frequency) -> &'static str {
        use epay_domain::Frequency as F;
        match f {
            F::Weekly => self.freq_weekly,
            F::Monthly => self.freq_monthly,
            F::Quarterly => self.freq_quarterly,
        }
    }

    /// A subscription's status in words (the code stays on the page as a hint).
    pub fn subscription_status(&self, s: epay_domain::SubscriptionStatus) -> &'static str {
        use epay_domain::SubscriptionStatus as S;
        match s {
            S::Active => self.sub_active,
            S::Paused => self.sub_paused,
            S::Cancelled => self.sub_cancelled,
            S::Stopped => self.sub_stopped,
        }
    }

    /// A transaction status in words (the code stays on the page as a hint).
    pub fn status(&self, s: epay_domain::TxStatus) -> &'static str {
        use epay_domain::TxStatus as S;
        match s {
            S::New => self.st_new,
            S::ThreeD => self.st_3d,
            S::Auth => self.st_auth,
            S::Charge => self.st_charge,
            S::Cancel => self.st_cancel,
            S::CancelOld => self.st_cancel_old,
            S::Refund => self.st_refund,
            S::Reject => self.st_reject,
            S::Failed => self.st_failed,
            S::Verified => self.st_verified,
        }
    }

    pub fn step(&self, s: epay_domain::PaymentStep) -> &'static str {
        use epay_domain::PaymentStep as S;
        match s {
            S::Created => self.step_created,
            S::ThreeDs => self.step_3ds,
            S::Charge => self.step_charge,
            S::Cancel => self.step_cancel,
            S::Refund => self.step_refund,
            S::Expire => self.step_expire,
        }
    }

    pub fn payment_kind(&self, k: epay_domain::PaymentKind) -> &'static str {
        use epay_domain::PaymentKind as K;
        match k {
            K::Payment => self.k_payment,
            K::Verification => self.k_verification,
            K::P2p => self.k_p2p,
            K::Aft => self.k_aft,
            K::Oct => self.k_oct,
        }
    }

    pub fn ledger_kind(&self, k: epay_domain::LedgerTransferKind) -> &'static str {
        use epay_domain::LedgerTransferKind as K;
        match k {
            K::Posted => self.lt_posted,
            K::Pending => self.lt_pending,
            K::PostPending => self.lt_post_pending,
            K::VoidPending => self.lt_void_pending,
        }
    }

    pub fn three_ds_state(&self, s: epay_domain::ThreeDsState) -> &'static str {
        use epay_domain::ThreeDsState as S;
        match s {
            S::Pending => self.tds_pending,
            S::Passed => self.tds_passed,
            S::Failed => self.tds_failed,
            S::Cancelled => self.tds_cancelled,
            S::Confirmed => self.tds_confirmed,
        }
    }

    pub fn delivery(&self, s: epay_domain::DeliveryStatus) -> &'static str {
        use epay_domain::DeliveryStatus as S;
        match s {
            S::Pending => self.cb_pending,
            S::Delivered => self.cb_delivered,
            S::Failed => self.cb_failed,
        }
    }
}
