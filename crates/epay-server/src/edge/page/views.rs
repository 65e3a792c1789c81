//! The payment page's views: the card form, the transfer form, the result and message pages and
//! the self-posting 3-D Secure hop; the ACS's challenge page ([`acs`]) and the demo shop
//! ([`demo`]). Each page is a plain struct rendered by its askama template under
//! `templates/page/` (`acs/`, `demo/`), which escapes every value (docs/architecture.md, "HTML
//! pages"). Scripts and styles are our own files only, pinned by Subresource Integrity.

mod acs;
mod demo;

use askama::Template;
use epay_domain::TransferKind;

pub use acs::{challenge, ChallengeView, Notice};
pub use demo::{checkout, shop, shop_result};

use super::assets::assets;
use super::i18n::{words, Lang, Words};

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
        }
    }
}

pub struct FormView<'a> {
    pub lang: Lang,
    pub short: bool,
    pub raw_params: &'a str,
    pub merchant: &'a str,
    pub description: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub card_save: bool,
    pub verification: bool,
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
}

pub fn form(v: &FormView<'_>) -> Rendered {
    let w = words(v.lang);
    FormPage { frame: Frame::new(v.lang, w.title, v.short), w, v, give_up: safe_link(v.give_up) }.render()
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
    pub amount: &'a str,
    pub fee: &'a str,
    pub total: &'a str,
    pub currency: &'a str,
    /// The customer's saved cards that may pay (offered as the sender): (card id, mask).
    pub paying_cards: &'a [(String, String)],
    /// The customer's saved cards (offered as the receiver): (card id, mask).
    pub saved_cards: &'a [(String, String)],
    /// The cards the page's `senderCardId` / `receiverCardId` pre-select (one of the above).
    pub preselected: &'a crate::services::transfers::Preselected,
    pub alert: Option<&'a str>,
    /// As on the card form: production pages refuse a past expiry month in the browser.
    pub check_expiry_date: bool,
    /// What the shopper typed, shown again after a refusal (docs/security.md, "Card numbers
    /// typed again on the transfer form"): only in this very response, never the CVC.
    pub entered: Entered<'a>,
    /// What is wrong with each field, in the page's language.
    pub errors: FieldErrors,
}

/// The transfer form's fields as the shopper typed them. There is no CVC here, by design.
#[derive(Clone, Copy, Default)]
pub struct Entered<'a> {
    pub pan: &'a str,
    pub expiry: &'a str,
    pub holder: &'a str,
    pub receiver_pan: &'a str,
}

/// A translated message per field of the transfer form that the page refused.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct FieldErrors {
    pub pan: Option<&'static str>,
    pub expiry: Option<&'static str>,
    pub cvc: Option<&'static str>,
    pub receiver_pan: Option<&'static str>,
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
    TransferPage { frame: Frame::new(v.lang, title, v.short), w, v, title, kind: v.kind.as_str(), sender, receiver }
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
            amount: &values[3],
            currency: &values[4],
            card_save: true,
            verification: false,
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
        let places = ["params", "merchant", "description", "amount", "currency", "holder", "alert"];
        let values = [
            hostile("params"),
            hostile("merchant"),
            hostile("description"),
            hostile("amount"),
            hostile("currency"),
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
        let integrity = &assets().form_js.integrity;
        assert!(page.contains(&format!(r#"<script src="/payform/assets/form.js" integrity="{integrity}"></script>"#)));
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
            "amount",
            "fee",
            "total",
            "currency",
            "alert",
            "params",
            "pan",
            "expiry",
            "holder",
            "receiver-pan",
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
            amount: &values[2],
            fee: &values[3],
            total: &values[4],
            currency: &values[5],
            paying_cards: &cards,
            saved_cards: &cards,
            preselected: &preselected,
            alert: Some(&values[6]),
            check_expiry_date: false,
            entered: Entered { pan: &values[8], expiry: &values[9], holder: &values[10], receiver_pan: &values[11] },
            errors: FieldErrors { pan: Some("bad pan"), receiver_pan: Some("bad receiver"), ..Default::default() },
        };
        let page = transfer_form(&view).unwrap();
        assert_shown_as_text(
            &page,
            &[
                "merchant",
                "description",
                "amount",
                "fee",
                "total",
                "currency",
                "alert",
                "params",
                "card-id",
                "card-mask",
                "pan",
                "expiry",
                "holder",
                "receiver-pan",
            ],
        );
        // The refused fields say so by the field; the CVC field is always empty.
        assert!(page.contains(r#"data-msg="Invalid card number">bad pan</p>"#), "{page}");
        let receiver = &page[page.find(r#"<p id="receiver_pan-error""#).unwrap()..];
        assert!(receiver.contains(r#"data-msg="Invalid card number">bad receiver</p>"#), "{page}");
        assert_eq!(page.matches(r#"aria-invalid="true""#).count(), 2, "{page}");
        let cvc = &page[page.find(r#"<input id="cvc""#).unwrap()..];
        assert!(!cvc[..cvc.find('>').unwrap()].contains("value="), "{page}");
        assert!(page.contains(r#"<select id="sender_card_id" name="sender_card_id">"#), "{page}");
        assert!(page.contains(r#"<option value="card-2" selected>4405...5096</option>"#), "{page}");
        assert!(page.contains(r#"<select id="receiver_card_id""#) && page.contains(r#"id="receiver_pan""#));
        assert_eq!(page.matches(" selected").count(), 1, "{page}");

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
            amount: &values[1],
            currency: &values[2],
            card_mask: &values[3],
            acs_id: &values[4],
            md: &values[5],
            term_url: &values[6],
            sandbox: true,
        };
        let page = challenge(&view).unwrap();
        assert_shown_as_text(&page, &["merchant", "amount", "currency", "mask", "acs", "md", "term"]);
        assert!(page.contains("the one-time code is <strong>123456</strong>"), "{page}");
        assert!(page.contains(r#"id="acs-error">Wrong code. Attempts left: <strong>2</strong>"#), "{page}");
        let page = challenge(&ChallengeView { sandbox: false, notice: Notice::Resent, ..view }).unwrap();
        assert!(!page.contains("123456") && page.contains("<code>epay acs code</code>"), "{page}");
        assert!(page.contains(r#"id="acs-resent">The code has been sent again."#) && !page.contains("acs-error"));
        // In the payment's language, the primary action styled apart from the others.
        let page = challenge(&ChallengeView { lang: Lang::Ru, notice: Notice::None, ..view }).unwrap();
        assert!(page.contains("<html lang=\"ru\">") && page.contains(">Подтвердить</button>"), "{page}");
        assert!(
            page.contains(r#"id="acs-submit" class="primary""#)
                && page.contains(r#"id="acs-cancel" class="secondary""#)
        );
        assert!(!page.contains("acs-error") && !page.contains("acs-resent"), "{page}");
    }

    #[test]
    fn the_demo_shop_pages_show_what_they_are_given_as_text() {
        let page = shop_result(false, &hostile("invoice"), &hostile("status"), &hostile("reason")).unwrap();
        assert_shown_as_text(&page, &["invoice", "status", "reason"]);
        let page = shop_result(true, "000000001", "AUTH", "").unwrap();
        assert!(page.contains(r#"<dd id="status">AUTH</dd>"#) && !page.contains("Reason"), "{page}");
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
