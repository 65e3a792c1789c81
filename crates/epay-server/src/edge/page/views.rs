//! The payment page's views: the card form, the transfer form, the result and message pages and
//! the self-posting 3-D Secure hop; the ACS's challenge page ([`acs`]) and the demo shop
//! ([`demo`]). Each page is a plain struct rendered by its askama template under
//! `templates/page/` (`acs/`, `demo/`), which escapes every value (docs/architecture.md, "HTML
//! pages"). Scripts and styles are our own files only, pinned by Subresource Integrity.

mod acs;
mod demo;

use askama::Template;
use epay_domain::{Amount, CardBrand, Currency, TransferKind};

pub use acs::{challenge, ChallengeView, Notice};
pub use demo::{checkout, shop, shop_result};

use super::assets::assets;
use super::i18n::{words, Lang, Words};
use super::money::{money, phrase};
use super::switch::{self, Keep, LanguageLink};
use crate::services::payments::OfferedCard;

/// A rendered page, or why its template failed (the handler answers 500 then).
pub type Rendered = askama::Result<String>;

/// What the frame around every page shows (`templates/page/layout.html`).
struct Frame<'a> {
    /// The page's language as HTML names it (`lang="ru"`).
    lang: &'static str,
    title: &'a str,
    /// In the widget (`isShortForm`): the compact layout.
    short: bool,
    css_integrity: &'static str,
    js_integrity: &'static str,
    /// The language switch: on the forms only (empty elsewhere: a result is final, and its
    /// POST cannot be fetched again in another language).
    languages: Vec<LanguageLink>,
    /// The switch's name for screen readers, in the page's language.
    language_label: &'static str,
}

impl<'a> Frame<'a> {
    fn new(lang: Lang, title: &'a str, short: bool) -> Frame<'a> {
        let a = assets();
        Frame {
            lang: lang.html_code(),
            title,
            short,
            css_integrity: &a.form_css.integrity,
            js_integrity: &a.form_js.integrity,
            languages: Vec::new(),
            language_label: words(lang).language,
        }
    }

    /// The frame of a form, with the language switch back to the same form.
    fn with_switch(self, lang: Lang, keep: &Keep<'_>) -> Frame<'a> {
        Frame { languages: switch::links(lang, keep), ..self }
    }
}

pub struct FormView<'a> {
    pub lang: Lang,
    pub short: bool,
    pub raw_params: &'a str,
    pub merchant: &'a str,
    pub description: &'a str,
    pub amount: Amount,
    pub currency: Currency,
    pub card_save: bool,
    pub verification: bool,
    /// "Save this card" is offered (the token names the customer); ticked when `card_save`.
    pub save_offered: bool,
    /// The customer's saved cards the form lists, and the one chosen (`None`: a new card).
    pub saved_cards: &'a [OfferedCard],
    pub chosen_card: Option<&'a str>,
    pub holder: &'a str,
    /// A problem to show above the form (a decline, a refused card).
    pub alert: Option<&'a str>,
    pub action: &'a str,
    /// Whether the page refuses an expiry month that is past by the shopper's own clock.
    /// Production only: in the sandbox the gateway decides by its sandbox clock, and a published
    /// test card is never expired (docs/test-cards.md), so the page checks the format only.
    pub check_expiry_date: bool,
    /// After a declined attempt: how many more the invoice allows (docs/compatibility.md §48).
    pub attempts_left: Option<i32>,
    /// Where a shopper who gives up after a decline goes (failureBackLink); empty: no link.
    pub give_up: &'a str,
}

/// `templates/page/form.html`.
#[derive(Template)]
#[template(path = "page/form.html")]
struct FormPage<'a> {
    frame: Frame<'a>,
    w: &'static Words,
    v: &'a FormView<'a>,
    /// `v.give_up` if it is an http(s) link, else empty.
    give_up: &'a str,
    /// The amount as the page's language writes it (`2 500 ₸`).
    money: String,
    /// The Pay button: "Оплатить 2 500 ₸", "2 500 ₸ төлеу", "Pay ₸2,500".
    pay: String,
    /// `v.saved_cards` as the form lists them; "a new card" is chosen when none of them is.
    saved: Vec<SavedChoice<'a>>,
    new_card_chosen: bool,
}

/// One saved card in the card form's list: its mask and brand, never its number.
struct SavedChoice<'a> {
    id: &'a str,
    mask: &'a str,
    /// The brand's name (the icon's text), and its icon when we have one.
    brand: &'static str,
    icon: Option<&'static str>,
    chosen: bool,
}

pub fn form(v: &FormView<'_>) -> Rendered {
    let w = words(v.lang);
    let keep = Keep { raw_params: v.raw_params, short: v.short, kind: None };
    let money = money(v.lang, v.amount, v.currency);
    let saved: Vec<SavedChoice<'_>> = v
        .saved_cards
        .iter()
        .map(|card| SavedChoice {
            id: &card.id,
            mask: &card.mask,
            brand: brand_name(card.brand),
            icon: super::assets::brand_icon(card.brand),
            chosen: v.chosen_card == Some(card.id.as_str()),
        })
        .collect();
    let new_card_chosen = !saved.iter().any(|card| card.chosen);
    FormPage {
        frame: Frame::new(v.lang, w.title, v.short).with_switch(v.lang, &keep),
        w,
        v,
        give_up: safe_link(v.give_up),
        pay: phrase(w.pay_amount, &money),
        money,
        saved,
        new_card_chosen,
    }
    .render()
}

/// A brand's name as a shopper reads it (the icon's text; form.js names them alike).
fn brand_name(brand: CardBrand) -> &'static str {
    match brand {
        CardBrand::Visa => "Visa",
        CardBrand::MasterCard => "Mastercard",
        CardBrand::Amex => "American Express",
        CardBrand::UnionPay => "UnionPay",
        CardBrand::Mir => "Mir",
        CardBrand::Unknown => "",
    }
}

pub struct ResultView<'a> {
    pub lang: Lang,
    /// Overrides the success heading (transfers say "Transfer complete").
    pub heading: Option<&'a str>,
    pub short: bool,
    pub success: bool,
    pub reason: Option<&'a str>,
    /// Where the browser goes next (backLink or failureBackLink); empty: stay here.
    pub redirect: &'a str,
    /// A link back to the shop when there is no automatic redirect.
    pub shop_link: &'a str,
    /// After a payment or transfer went through: its receipt.
    pub receipt: Option<&'a ReceiptView>,
}

/// "Send the receipt to a…@mail.kz": the button's text and the ticket it posts.
pub struct ReceiptOffer {
    pub label: String,
    pub ticket: String,
}

/// Seconds the result page counts down, visibly, before it returns to the shop (form.js; the
/// shopper may return at once or stay: docs/compatibility.md, "The result page").
pub const RETURN_AFTER_SECS: u32 = 10;

/// The receipt on a success page, written out in the page's language (`page::receipt` makes it
/// from `services::receipts::Receipt`, the gateway's own record of the payment).
pub struct ReceiptView {
    pub merchant: String,
    pub amount: String,
    pub currency: String,
    /// ePay's mask; never more of the number.
    pub card: String,
    pub status: &'static str,
    /// The raw status (`AUTH`), a hint for support.
    pub status_code: &'static str,
    pub invoice: String,
    pub reference: String,
    pub date: String,
    /// The "send the receipt" button; `None`: no e-mail was given, the receipt was just sent,
    /// or the page is the widget's (which closes on success).
    pub offer: Option<ReceiptOffer>,
    /// After a send: where the receipt went.
    pub notice: Option<String>,
}

/// `templates/page/result.html`.
#[derive(Template)]
#[template(path = "page/result.html")]
struct ResultPage<'a> {
    frame: Frame<'a>,
    w: &'static Words,
    heading: &'a str,
    success: bool,
    reason: Option<&'a str>,
    /// Both links passed [`safe_link`]: empty when they are not http(s).
    redirect: &'a str,
    shop_link: &'a str,
    receipt: Option<&'a ReceiptView>,
    /// The countdown before `redirect`: its seconds, its sentence as first shown, and the same
    /// with `{s}` for form.js to fill in.
    countdown: u32,
    returning_in: String,
}

/// `url` if the browser may be sent there (http or https), else nothing: every link a page
/// redirects to or offers passes here, whatever checked it before.
fn safe_link(url: &str) -> &str {
    if crate::services::links::is_http_url(url) {
        url.trim()
    } else {
        ""
    }
}

pub fn result(v: &ResultView<'_>) -> Rendered {
    let w = words(v.lang);
    let heading = match (v.success, v.heading) {
        (true, Some(h)) => h,
        (true, None) => w.success,
        (false, _) => w.declined,
    };
    ResultPage {
        frame: Frame::new(v.lang, heading, v.short),
        w,
        heading,
        success: v.success,
        reason: v.reason,
        redirect: safe_link(v.redirect),
        shop_link: safe_link(v.shop_link),
        receipt: v.receipt,
        countdown: RETURN_AFTER_SECS,
        returning_in: w.returning_in.replace("{s}", &RETURN_AFTER_SECS.to_string()),
    }
    .render()
}

/// `templates/page/message.html`.
#[derive(Template)]
#[template(path = "page/message.html")]
struct MessagePage<'a> {
    frame: Frame<'a>,
    heading: &'a str,
    detail: &'a str,
}

/// A page that only says something is wrong (bad link, transfers unavailable).
pub fn message(lang: Lang, short: bool, heading: &str, detail: &str) -> Rendered {
    MessagePage { frame: Frame::new(lang, heading, short), heading, detail }.render()
}

pub struct TransferFormView<'a> {
    pub lang: Lang,
    pub short: bool,
    pub raw_params: &'a str,
    pub kind: TransferKind,
    pub merchant: &'a str,
    pub description: &'a str,
    pub amount: Amount,
    pub fee: Amount,
    pub total: Amount,
    pub currency: Currency,
    /// The customer's saved cards that may pay (offered as the sender): (card id, mask).
    pub paying_cards: &'a [(String, String)],
    /// The customer's saved cards (offered as the receiver): (card id, mask).
    pub saved_cards: &'a [(String, String)],
    /// The cards the page's `senderCardId` / `receiverCardId` pre-select (one of the above).
    pub preselected: &'a crate::services::transfers::Preselected,
    pub alert: Option<&'a str>,
    /// As on the card form: production pages refuse a past expiry month in the browser.
    pub check_expiry_date: bool,
    /// What the shopper typed, shown again after a refusal: never a card number nor the CVC
    /// (docs/security.md, "What the transfer form sends back"). form.js keeps the typed numbers
    /// in the browser instead.
    pub entered: Entered<'a>,
    /// What is wrong with each field, in the page's language.
    pub errors: FieldErrors,
}

/// The transfer form's fields the server may send back as the shopper typed them. There is no
/// card number and no CVC here, by design: no response carries a PAN.
#[derive(Clone, Copy, Default)]
pub struct Entered<'a> {
    pub expiry: &'a str,
    pub holder: &'a str,
}

/// A translated message per field of the transfer form that the page refused.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct FieldErrors {
    pub pan: Option<&'static str>,
    pub expiry: Option<&'static str>,
    pub cvc: Option<&'static str>,
    pub receiver_pan: Option<&'static str>,
    /// The transfer form's optional holder name, when typed and not a name (holder.rs).
    pub holder: Option<&'static str>,
}

impl FieldErrors {
    pub fn any(&self) -> bool {
        *self != FieldErrors::default()
    }
}

/// `templates/page/transfer.html`.
#[derive(Template)]
#[template(path = "page/transfer.html")]
struct TransferPage<'a> {
    frame: Frame<'a>,
    w: &'static Words,
    v: &'a TransferFormView<'a>,
    title: &'static str,
    kind: &'static str,
    /// The sender's side (P2P, AFT: not OCT, where the merchant pays).
    sender: Option<SavedCards<'a>>,
    /// The receiver's side (P2P, OCT: not AFT, where the merchant is paid).
    receiver: Option<SavedCards<'a>>,
    /// Amount, fee and total as the page's language writes them.
    amount: String,
    fee: String,
    total: String,
    /// The button: "Перевести 2 500 ₸", "2 500 ₸ аудару", "Transfer ₸2,500".
    submit: String,
}

/// The saved cards one side of a transfer may use, as a select named `field` (none: no select).
struct SavedCards<'a> {
    field: &'static str,
    options: Vec<CardOption<'a>>,
}

struct CardOption<'a> {
    id: &'a str,
    mask: &'a str,
    selected: bool,
}

impl<'a> SavedCards<'a> {
    fn new(field: &'static str, cards: &'a [(String, String)], selected: Option<&str>) -> SavedCards<'a> {
        let options =
            cards.iter().map(|(id, mask)| CardOption { id, mask, selected: selected == Some(id.as_str()) }).collect();
        SavedCards { field, options }
    }
}

/// The transfer form: sender card (P2P, AFT), receiver card (P2P, OCT), fee shown up front.
pub fn transfer_form(v: &TransferFormView<'_>) -> Rendered {
    let w = words(v.lang);
    let title = match v.kind {
        TransferKind::Aft => w.aft_title,
        TransferKind::Oct => w.payout_title,
        TransferKind::P2p => w.transfer_title,
    };
    let sender = (v.kind != TransferKind::Oct)
        .then(|| SavedCards::new("sender_card_id", v.paying_cards, v.preselected.sender.as_deref()));
    let receiver = (v.kind != TransferKind::Aft)
        .then(|| SavedCards::new("receiver_card_id", v.saved_cards, v.preselected.receiver.as_deref()));
    let keep = Keep { raw_params: v.raw_params, short: v.short, kind: Some(v.kind) };
    let shown = |amount| money(v.lang, amount, v.currency);
    let total = shown(v.total);
    TransferPage {
        frame: Frame::new(v.lang, title, v.short).with_switch(v.lang, &keep),
        w,
        v,
        title,
        kind: v.kind.as_str(),
        sender,
        receiver,
        amount: shown(v.amount),
        fee: shown(v.fee),
        submit: phrase(w.transfer_amount, &total),
        total,
    }
    .render()
}

/// `templates/page/auto_post.html`.
#[derive(Template)]
#[template(path = "page/auto_post.html")]
struct AutoPostPage<'a> {
    frame: Frame<'a>,
    note: &'a str,
    action: &'a str,
    fields: &'a [(&'a str, &'a str)],
}

/// A form that posts itself (3-D Secure hops); a button remains for browsers without scripts.
pub fn auto_post(lang: Lang, action: &str, fields: &[(&str, &str)], note: &str) -> Rendered {
    let action = safe_link(action);
    if action.is_empty() {
        return message(lang, false, note, "the return address is not an http(s) URL");
    }
    AutoPostPage { frame: Frame::new(lang, note, false), note, action, fields }.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::transfers::Preselected;

    /// A hostile value naming where it went, and how the page must show it: as text.
    fn hostile(place: &str) -> String {
        format!("<script>alert('{place}')</script>")
    }

    fn shown(place: &str) -> String {
        format!("&#60;script&#62;alert(&#39;{place}&#39;)&#60;/script&#62;")
    }

    /// Every place shows its hostile value as text, and no script but our own is on the page.
    fn assert_shown_as_text(page: &str, places: &[&str]) {
        for place in places {
            assert!(page.contains(&shown(place)), "{place} is not shown as text:\n{page}");
        }
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("alert('"), "{page}");
    }

    fn form_view<'a>(lang: Lang, values: &'a [String; 8]) -> FormView<'a> {
        FormView {
            lang,
            short: false,
            raw_params: &values[0],
            merchant: &values[1],
            description: &values[2],
            amount: Amount::from_minor(250_000).unwrap(),
            currency: Currency::Kzt,
            card_save: true,
            verification: false,
            save_offered: false,
            saved_cards: &[],
            chosen_card: None,
            holder: &values[5],
            alert: Some(&values[6]),
            action: "/payform/pay",
            check_expiry_date: false,
            attempts_left: Some(2),
            give_up: &values[7],
        }
    }

    #[test]
    fn the_card_form_shows_merchant_text_as_text() {
        let places = ["params", "merchant", "description", "holder", "alert"];
        let values = [
            hostile("params"),
            hostile("merchant"),
            hostile("description"),
            String::new(),
            String::new(),
            hostile("holder"),
            hostile("alert"),
            format!("https://shop.example/back?x=\"{}", hostile("give-up")),
        ];
        // A hostile `language` is some language, never text on the page.
        let lang = Lang::parse(&format!("\">{}", hostile("lang")));
        let page = form(&form_view(lang, &values)).unwrap();
        assert_shown_as_text(&page, &places);
        assert!(page.contains(&format!("href=\"https://shop.example/back?x=&#34;{}\"", shown("give-up"))), "{page}");
        assert!(page.contains("<html lang=\"ru\">"), "{page}");
        // What the black-box tests and form.js find.
        assert!(page.contains(r#"id="attempts-left">Осталось попыток: <strong>2</strong>"#), "{page}");
        assert!(page.contains(r#"<p class="note">Карта будет сохранена для следующих оплат</p>"#), "{page}");
        assert!(page.contains(r#"data-check-date="false""#) && page.contains(r#"name="isShortForm" value="false""#));
        assert!(page.contains(r#"<body class="full">"#), "{page}");
        // The amount and the button as Russian writes them; the placeholder in Cyrillic.
        assert!(page.contains("<span id=\"amount\">2\u{a0}500\u{a0}₸</span>"), "{page}");
        assert!(page.contains(">Оплатить 2\u{a0}500\u{a0}₸</button>") && page.contains(r#"placeholder="ММ/ГГ""#));
        // The switch: params kept (escaped as text), the current language marked.
        let params: String = url::form_urlencoded::byte_serialize(values[0].as_bytes()).collect();
        let kk =
            format!(r#"<a id="lang-kk" lang="kk" hreflang="kk" href="/payform/?params={params}&#38;lang=kk">Қаз</a>"#);
        assert!(page.contains(&kk), "{page}");
        assert!(page.contains(r#"href="/payform/?params="#) && page.contains(r#"aria-current="true">Рус</a>"#));
        assert!(page.contains(r#"<nav class="languages" aria-label="Язык">"#), "{page}");
        assert!(page.contains(r#"<input type="hidden" name="lang" value="ru">"#), "{page}");
        let integrity = &assets().form_js.integrity;
        assert!(page.contains(&format!(r#"<script src="/payform/assets/form.js" integrity="{integrity}"></script>"#)));
    }

    #[test]
    fn the_card_form_lists_saved_cards_as_text_and_offers_the_box() {
        let values: [String; 8] = std::array::from_fn(|_| "x".into());
        let cards = [
            OfferedCard { id: hostile("id"), mask: hostile("mask"), brand: CardBrand::Unknown },
            OfferedCard { id: "card-2".into(), mask: "440563...5096".into(), brand: CardBrand::Visa },
        ];
        let mut view = form_view(Lang::Kk, &values);
        (view.save_offered, view.saved_cards, view.chosen_card) = (true, &cards, Some("card-2"));
        let page = form(&view).unwrap();
        assert_shown_as_text(&page, &["id", "mask"]);
        assert!(page.contains(r#"<legend>Төлейтін карта</legend>"#), "{page}");
        assert!(page.contains(r#"value="card-2" checked>"#) && page.contains(r#"alt="Visa""#), "{page}");
        assert!(page.contains(r#"id="new-card" name="card_id" value="">"#), "a new card is not chosen: {page}");
        assert!(page.contains(r#"name="save_card" value="true" checked> Картаны келесі төлемдер үшін сақтау"#));
        assert!(!page.contains("Карта келесі төлемдер үшін сақталады"), "the box replaces the note: {page}");
        // Nothing chosen (an id the form does not list): a new card; the box unticked without cardSave.
        (view.chosen_card, view.card_save) = (Some("elsewhere"), false);
        let page = form(&view).unwrap();
        assert!(page.contains(r#"id="new-card" name="card_id" value="" checked>"#), "{page}");
        assert!(page.contains(r#"name="save_card" value="true">"#), "{page}");
    }

    #[test]
    fn the_card_form_offers_no_link_but_http_and_verifies_without_a_price() {
        let values: [String; 8] =
            std::array::from_fn(|i| if i == 7 { "javascript:alert(1)".into() } else { "x".into() });
        let mut view = form_view(Lang::En, &values);
        view.verification = true;
        let page = form(&view).unwrap();
        assert!(!page.contains("give-up") && !page.contains("javascript:"), "{page}");
        assert!(page.contains(">Save card</button>") && page.contains("no money is charged"), "{page}");
    }

    #[test]
    fn each_language_writes_the_amount_and_the_button_its_own_way() {
        let values: [String; 8] = std::array::from_fn(|_| "x".to_string());
        let mut view = form_view(Lang::Kk, &values);
        view.amount = Amount::from_minor(100_050).unwrap();
        let page = form(&view).unwrap();
        assert!(page.contains(">1\u{a0}000,50\u{a0}₸ төлеу</button>"), "{page}");
        assert!(page.contains(r#"placeholder="АА/ЖЖ""#) && page.contains(r#"aria-current="true">Қаз</a>"#));
        view.lang = Lang::En;
        view.currency = Currency::Usd;
        let page = form(&view).unwrap();
        assert!(page.contains(r#"<span id="amount">$1,000.50</span>"#) && page.contains(">Pay $1,000.50</button>"));
        assert!(page.contains(r#"placeholder="MM/YY""#) && page.contains(r#"aria-current="true">Eng</a>"#));
        // Only the forms switch language: a result is final.
        let result = message(Lang::En, false, "x", "y").unwrap();
        assert!(!result.contains("languages"), "{result}");
    }

    #[test]
    fn the_result_page_shows_the_reason_as_text_and_only_http_links() {
        let (reason, heading) = (hostile("reason"), hostile("heading"));
        let redirect = format!("https://shop.example/ok?{}", hostile("redirect"));
        let view = ResultView {
            lang: Lang::En,
            heading: Some(&heading),
            short: true,
            success: true,
            reason: Some(&reason),
            redirect: &redirect,
            shop_link: "",
            receipt: None,
        };
        let page = result(&view).unwrap();
        assert_shown_as_text(&page, &["reason", "heading", "redirect"]);
        assert!(page.contains(r#"data-success="true" data-widget="true" data-redirect="https://shop.example/ok?"#));
        assert!(page.contains(r#"<h1 class="ok">"#) && page.contains(r#"<body class="short">"#), "{page}");

        let failed =
            ResultView { success: false, redirect: "data:text/html,x", shop_link: "https://shop.example/", ..view };
        let page = result(&failed).unwrap();
        assert!(page.contains(r#"data-redirect="""#) && !page.contains("data:text"), "{page}");
        assert!(page.contains(r#"<a class="button" id="continue" href="https://shop.example/">Return to the shop</a>"#));
        assert!(page.contains(r#"<h1 class="failed">Payment declined</h1>"#), "{page}");
        assert!(!page.contains(r#"id="countdown""#), "no redirect, no countdown: {page}");
    }

    #[test]
    fn the_receipt_shows_its_values_as_text_and_counts_down_visibly() {
        let values: Vec<String> =
            ["merchant", "amount", "currency", "card", "invoice", "reference", "date", "label", "ticket", "notice"]
                .iter()
                .map(|p| hostile(p))
                .collect();
        let receipt = ReceiptView {
            merchant: values[0].clone(),
            amount: values[1].clone(),
            currency: values[2].clone(),
            card: values[3].clone(),
            status: "Оплачено — сумма списана",
            status_code: "CHARGE",
            invoice: values[4].clone(),
            reference: values[5].clone(),
            date: values[6].clone(),
            offer: Some(ReceiptOffer { label: values[7].clone(), ticket: values[8].clone() }),
            notice: Some(values[9].clone()),
        };
        let view = ResultView {
            lang: Lang::Ru,
            heading: None,
            short: false,
            success: true,
            reason: None,
            redirect: "https://shop.example/ok",
            shop_link: "",
            receipt: Some(&receipt),
        };
        let page = result(&view).unwrap();
        assert_shown_as_text(
            &page,
            &["merchant", "amount", "currency", "card", "invoice", "reference", "date", "label", "ticket", "notice"],
        );
        assert!(page.contains(r#"<span id="receipt-status">Оплачено — сумма списана</span> <code class="hint" id="receipt-status-code">CHARGE</code>"#));
        assert!(page.contains(r#"<form id="receipt-form" method="post" action="/payform/receipt">"#), "{page}");
        // The countdown: its words with the seconds, and the same with {s} for form.js.
        assert!(page.contains(r#"data-countdown="10""#), "{page}");
        assert!(page.contains(r#"data-template="Возврат в магазин через {s} с""#), "{page}");
        assert!(
            page.contains(">Возврат в магазин через 10 с</p>")
                && page.contains(r#"id="countdown-status" role="status""#)
        );
        assert!(page
            .contains(r#"<button type="button" id="stay" class="outline" hidden>Остаться на этой странице</button>"#));
    }

    #[test]
    fn the_message_page_shows_its_text_as_text() {
        let page = message(Lang::Kk, false, &hostile("heading"), &hostile("detail")).unwrap();
        assert_shown_as_text(&page, &["heading", "detail"]);
        assert!(page.contains("<html lang=\"kk\">"), "{page}");
    }

    #[test]
    fn the_transfer_form_shows_merchant_and_card_text_as_text() {
        let cards = vec![(hostile("card-id"), hostile("card-mask")), ("card-2".to_string(), "4405...5096".to_string())];
        let values: Vec<String> = [
            "merchant",
            "description",
            "unused-amount",
            "unused-fee",
            "unused-total",
            "unused-currency",
            "alert",
            "params",
            "expiry",
            "holder",
        ]
        .iter()
        .map(|p| hostile(p))
        .collect();
        let preselected = Preselected { sender: Some("card-2".into()), receiver: None };
        let view = TransferFormView {
            lang: Lang::En,
            short: false,
            raw_params: &values[7],
            kind: TransferKind::P2p,
            merchant: &values[0],
            description: &values[1],
            amount: Amount::from_minor(10_000).unwrap(),
            fee: Amount::from_minor(9_500).unwrap(),
            total: Amount::from_minor(19_500).unwrap(),
            currency: Currency::Kzt,
            paying_cards: &cards,
            saved_cards: &cards,
            preselected: &preselected,
            alert: Some(&values[6]),
            check_expiry_date: false,
            entered: Entered { expiry: &values[8], holder: &values[9] },
            errors: FieldErrors { pan: Some("bad pan"), receiver_pan: Some("bad receiver"), ..Default::default() },
        };
        let page = transfer_form(&view).unwrap();
        assert_shown_as_text(
            &page,
            &["merchant", "description", "alert", "params", "card-id", "card-mask", "expiry", "holder"],
        );
        // The refused fields say so by the field; the CVC field is always empty.
        assert!(page.contains(r#"data-msg="Invalid card number">bad pan</p>"#), "{page}");
        let receiver = &page[page.find(r#"<p id="receiver_pan-error""#).unwrap()..];
        assert!(receiver.contains(r#"data-msg="Invalid card number">bad receiver</p>"#), "{page}");
        assert_eq!(page.matches(r#"aria-invalid="true""#).count(), 2, "{page}");
        // Nor does a card number come back: the typed ones stay in the browser (form.js).
        for input in [r#"<input id="cvc""#, r#"<input id="pan""#, r#"<input id="receiver_pan""#] {
            let field = &page[page.find(input).unwrap()..];
            assert!(!field[..field.find('>').unwrap()].contains("value="), "{input}: {page}");
        }
        assert!(page.contains(r#"<select id="sender_card_id" name="sender_card_id">"#), "{page}");
        assert!(page.contains(r#"<option value="card-2" selected>4405...5096</option>"#), "{page}");
        assert!(page.contains(r#"<select id="receiver_card_id""#) && page.contains(r#"id="receiver_pan""#));
        assert_eq!(page.matches(" selected").count(), 1, "{page}");
        assert!(page.contains(r#"<span id="fee">₸95</span>"#) && page.contains(">Transfer ₸195</button>"), "{page}");
        assert!(page.contains(r#"href="/payform/?params="#) && page.contains("&#38;isTransfer=true&#38;lang=kk"));

        // A payout has no sender, a payment from a card no receiver; no saved cards, no select.
        let oct = transfer_form(&TransferFormView { kind: TransferKind::Oct, ..view }).unwrap();
        assert!(!oct.contains(r#"id="pan""#) && oct.contains(r#"id="receiver_pan""#), "{oct}");
        assert!(oct.contains(r#"name="kind" value="oct""#), "{oct}");
        let aft = transfer_form(&TransferFormView { kind: TransferKind::Aft, paying_cards: &[], ..view }).unwrap();
        assert!(aft.contains(r#"id="pan""#) && !aft.contains("receiver_pan") && !aft.contains("<select"), "{aft}");
    }

    #[test]
    fn the_auto_post_form_carries_its_fields_as_text() {
        let (name, value, note) = (hostile("name"), hostile("value"), hostile("note"));
        let fields = [(name.as_str(), value.as_str()), ("MD", "a+b/c=")];
        let page = auto_post(Lang::En, "https://shop.example/3ds?a=1&b=2", &fields, &note).unwrap();
        assert_shown_as_text(&page, &["name", "value", "note"]);
        assert!(page.contains(r#"action="https://shop.example/3ds?a=1&#38;b=2" data-autosubmit="true""#), "{page}");
        assert!(page.contains(r#"<input type="hidden" name="MD" value="a+b/c=">"#), "{page}");
        // Not http(s): no form at all.
        let page = auto_post(Lang::En, "javascript:alert(1)", &fields, "Returning").unwrap();
        assert!(!page.contains("<form") && !page.contains("javascript:"), "{page}");
    }

    #[test]
    fn the_challenge_page_shows_everything_as_text() {
        let values: Vec<String> =
            ["merchant", "amount", "currency", "mask", "acs", "md", "term"].iter().map(|p| hostile(p)).collect();
        let view = ChallengeView {
            lang: Lang::En,
            notice: Notice::WrongCode,
            attempts_left: 2,
            merchant: &values[0],
            amount: Amount::from_minor(250_000).unwrap(),
            currency: &values[2],
            card_mask: &values[3],
            acs_id: &values[4],
            md: &values[5],
            term_url: &values[6],
            sandbox: true,
        };
        let page = challenge(&view).unwrap();
        assert_shown_as_text(&page, &["merchant", "currency", "mask", "acs", "md", "term"]);
        // A currency code the page does not know is written as it is, after the amount's words.
        assert!(page.contains(&format!(r#"id="acs-amount">{}"#, shown("currency"))), "{page}");
        assert!(page.contains("the one-time code is <strong>123456</strong>"), "{page}");
        assert!(page.contains(r#"id="acs-error">Wrong code. Attempts left: <strong>2</strong>"#), "{page}");
        let page = challenge(&ChallengeView { sandbox: false, notice: Notice::Resent, ..view }).unwrap();
        assert!(!page.contains("123456") && page.contains("<code>epay acs code</code>"), "{page}");
        assert!(page.contains(r#"id="acs-resent">The code has been sent again."#) && !page.contains("acs-error"));
        // In the payment's language, the primary action styled apart from the others.
        let page = challenge(&ChallengeView { lang: Lang::Ru, notice: Notice::None, ..view }).unwrap();
        assert!(page.contains("<html lang=\"ru\">") && page.contains(">Подтвердить</button>"), "{page}");
        let page = challenge(&ChallengeView { lang: Lang::Ru, notice: Notice::None, currency: "KZT", ..view }).unwrap();
        assert!(page.contains("id=\"acs-amount\">2\u{a0}500\u{a0}₸</dd>") && page.contains("ТЕСТОВЫЙ БАНК"), "{page}");
        assert!(
            page.contains(r#"id="acs-submit" class="primary""#)
                && page.contains(r#"id="acs-cancel" class="secondary""#)
        );
        assert!(!page.contains("acs-error") && !page.contains("acs-resent"), "{page}");
    }

    #[test]
    fn the_demo_shop_pages_show_what_they_are_given_as_text() {
        let page = shop_result(false, &hostile("invoice"), None, &hostile("reason")).unwrap();
        assert_shown_as_text(&page, &["invoice", "reason"]);
        assert!(page.contains(r#"<span id="status"></span></dd>"#) && !page.contains("status-code"), "{page}");
        let page = shop_result(true, "000000001", Some(epay_domain::TxStatus::Auth), "").unwrap();
        assert!(page.contains(
            r#"<span id="status">Paid — amount held on the card</span> <code class="hint" id="status-code">AUTH</code>"#
        ));
        assert!(!page.contains("Reason") && page.contains(r#"data-status="AUTH""#), "{page}");
        assert!(page.contains("Thank you! Payment received."), "{page}");

        let object = serde_json::json!({"description": "</script><script>alert(1)</script>", "amount": 2500});
        let page = checkout(&object, true).unwrap();
        assert_eq!(page.matches("</script>").count(), 3, "{page}");
        assert!(!page.contains("<script>") && page.contains(r#"id="open-widget""#), "{page}");
        let start = page.find(r#"data-widget="true">"#).unwrap() + r#"data-widget="true">"#.len();
        let json = &page[start..start + page[start..].find("</script>").unwrap()];
        assert_eq!(serde_json::from_str::<serde_json::Value>(json).unwrap(), object);

        assert!(shop(false).unwrap().contains(r#"id="buy-widget""#));
        assert!(!shop(true).unwrap().contains("checkout"));
    }
}
