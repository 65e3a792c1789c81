//! The cabinet's pages as askama templates (docs/architecture.md, "HTML pages").
//!
//! Each page is a plain view struct (strings, numbers, vectors of rows; no HTML) rendered by a
//! template in `templates/cabinet/`. Every template extends `cabinet/layout.html`, the one
//! head, header, menu and stylesheet of the cabinet, and reads two fields every page struct
//! has: `frame` ([`Frame`]) and `w` (the words of the user's language). askama escapes every
//! value, so text from a merchant, a shopper or a callback receiver is text on the page. Forms
//! that change something carry the CSRF token in `frame.csrf`.
//!
//! The functions here turn what the handlers read from the store into those structs; the
//! handlers hand the struct to [`super::html`], which renders it.

mod invoices;
mod messages;
mod overview;
mod settings;
mod subscriptions;
mod transactions;

use askama::Template;
use epay_domain::Amount;

pub use invoices::invoices;
pub use messages::{message, messages};
pub use overview::{overview, TerminalStats};
pub use settings::{card, cards, credentials, terminals};
pub use subscriptions::{subscription, subscriptions};
pub use transactions::{detail, transactions, DetailView, ListView};

use super::i18n::{words, Lang, Words};
use crate::platform::clock::epay_datetime;

/// Which menu entry is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Transactions,
    Terminals,
    Credentials,
    Cards,
    Invoices,
    Messages,
    Subscriptions,
}

/// Who is signed in and where: what every signed-in page shows around its content.
pub struct Chrome<'a> {
    pub lang: Lang,
    pub email: &'a str,
    pub csrf: &'a str,
    pub section: Section,
    /// This page's path, for the language links to come back to.
    pub path: &'a str,
}

/// An amount as a form field takes it back (`1000.5`): for inputs and hidden fields only.
pub fn money(minor: i64) -> String {
    Amount::from_minor(minor).map(|a| a.to_string()).unwrap_or_else(|_| minor.to_string())
}

/// An amount as people of `lang` write it: `1 000,50` (ru, kk) or `1,000.50` (en); the payment
/// page's formatter, so the cabinet and the page write numbers alike.
pub use crate::edge::page::money::number as amount;

/// A date and time in Kazakhstan time: `text` for people of the page's language, `iso` for the
/// `<time datetime>` attribute (and for support, who compare it with logs).
pub struct When {
    pub iso: String,
    pub text: String,
}

const MONTHS_EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

pub fn when(lang: Lang, ms: i64) -> When {
    let iso = epay_datetime(ms);
    // 2026-11-22T14:00:05.000000+05:00
    let part = |from: usize, to: usize| iso.get(from..to).unwrap_or("");
    let (y, m, d, hm) = (part(0, 4), part(5, 7), part(8, 10), part(11, 16));
    let text = match lang {
        Lang::En => {
            let month = m.parse::<usize>().ok().and_then(|m| MONTHS_EN.get(m.wrapping_sub(1))).unwrap_or(&"");
            format!("{} {month} {y}, {hm}", d.trim_start_matches('0'))
        }
        Lang::Ru | Lang::Kk => format!("{d}.{m}.{y} {hm}"),
    };
    When { iso, text }
}

/// The human text of [`when`], where only text fits (a message).
pub fn date(lang: Lang, ms: i64) -> String {
    when(lang, ms).text
}

/// An approval rate: `36,4 %` (ru, kk) or `36.4%` (en); `—` without attempts.
pub fn rate(lang: Lang, r: Option<f64>) -> String {
    match (r, lang) {
        (None, _) => "—".into(),
        (Some(r), Lang::En) => format!("{r:.1}%"),
        (Some(r), Lang::Ru | Lang::Kk) => format!("{r:.1}\u{a0}%").replace('.', ","),
    }
}

/// The CSS class suffix of a status badge (`s-charge`, `s-refund`, …).
fn status_class(status: epay_domain::TxStatus) -> String {
    status.as_str().to_lowercase()
}

/// A status badge: the words, and the ePay code as a hint for support.
pub struct Badge {
    pub class: String,
    pub text: &'static str,
    pub code: &'static str,
}

fn badge(w: &Words, status: epay_domain::TxStatus) -> Badge {
    Badge { class: status_class(status), text: w.status(status), code: status.as_str() }
}

/// What `templates/cabinet/layout.html` shows around a page: the language, the title, the
/// language links and, when someone is signed in, the menu.
pub struct Frame {
    /// `lang` of the document.
    pub lang: &'static str,
    /// The page's title (the layout adds "— epay").
    pub title: String,
    /// `sha384-…` of the stylesheet, for its `integrity` attribute.
    pub css_integrity: &'static str,
    pub languages: Vec<LanguageLink>,
    /// The signed-in user's menu; `None` on the sign-in page and error pages.
    pub menu: Option<Menu>,
    /// The token the page's forms carry: the session's, or the sign-in form's double-submit
    /// token; empty on a page without forms.
    pub csrf: String,
}

pub struct LanguageLink {
    /// `ru`, `kk`, `en`: in the link's id and path.
    pub code: &'static str,
    pub label: &'static str,
    /// This page's path, URL-encoded, to come back to.
    pub back: String,
    pub current: bool,
}

pub struct Menu {
    pub email: String,
    pub items: Vec<MenuItem>,
}

pub struct MenuItem {
    /// `nav-<id>`.
    pub id: &'static str,
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

fn languages(lang: Lang, path: &str) -> Vec<LanguageLink> {
    let back: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    [(Lang::Ru, "RU"), (Lang::Kk, "KZ"), (Lang::En, "EN")]
        .into_iter()
        .map(|(l, label)| LanguageLink { code: l.html_code(), label, back: back.clone(), current: l == lang })
        .collect()
}

impl Frame {
    /// The frame of a page nobody is signed in to (sign-in, errors).
    fn plain(lang: Lang, title: &str, path: &str, csrf: &str) -> Frame {
        Frame {
            lang: lang.html_code(),
            title: title.to_string(),
            css_integrity: &super::assets::css().integrity,
            languages: languages(lang, path),
            menu: None,
            csrf: csrf.to_string(),
        }
    }

    /// The frame of a signed-in page: the menu with `c.section` open.
    fn signed(c: &Chrome<'_>, title: &str) -> Frame {
        let w = words(c.lang);
        let item = |section: Section, id: &'static str, href: &'static str, label: &'static str| MenuItem {
            id,
            href,
            label,
            current: section == c.section,
        };
        let items = vec![
            item(Section::Overview, "overview", "/cabinet/overview", w.overview),
            item(Section::Transactions, "transactions", "/cabinet/transactions", w.transactions),
            item(Section::Terminals, "terminals", "/cabinet/terminals", w.terminals),
            item(Section::Credentials, "credentials", "/cabinet/credentials", w.credentials),
            item(Section::Cards, "cards", "/cabinet/cards", w.cards),
            item(Section::Invoices, "invoices", "/cabinet/invoices", w.invoices),
            item(Section::Messages, "messages", "/cabinet/messages", w.messages),
            item(Section::Subscriptions, "subscriptions", "/cabinet/subscriptions", w.subscriptions),
        ];
        Frame { menu: Some(Menu { email: c.email.to_string(), items }), ..Frame::plain(c.lang, title, c.path, c.csrf) }
    }
}

/// `templates/cabinet/login.html`: the sign-in form.
#[derive(Template)]
#[template(path = "cabinet/login.html")]
pub struct LoginPage {
    frame: Frame,
    w: &'static Words,
    email: String,
    problem: Option<String>,
}

pub fn login(lang: Lang, csrf: &str, email: &str, problem: Option<&str>) -> LoginPage {
    let w = words(lang);
    LoginPage {
        frame: Frame::plain(lang, w.sign_in, "/cabinet/login", csrf),
        w,
        email: email.to_string(),
        problem: problem.map(str::to_string),
    }
}

/// `templates/cabinet/error.html`: what went wrong, and the way back into the cabinet. A
/// signed-in user keeps the menu.
#[derive(Template)]
#[template(path = "cabinet/error.html")]
pub struct ErrorPage {
    frame: Frame,
    w: &'static Words,
    heading: String,
    /// Shown as an alert when there is one.
    detail: Option<String>,
    /// The gateway's own words for support (e.g. the API's English refusal), small, under it.
    hint: Option<String>,
}

pub fn error_page(lang: Lang, heading: &str, detail: &str) -> ErrorPage {
    let w = words(lang);
    ErrorPage {
        frame: Frame::plain(lang, heading, "/cabinet", ""),
        w,
        heading: heading.to_string(),
        detail: (!detail.is_empty()).then(|| detail.to_string()),
        hint: None,
    }
}

/// The error page of a signed-in user: the menu stays, so the way on is one click.
pub fn signed_error_page(c: &Chrome<'_>, heading: &str, detail: &str, hint: &str) -> ErrorPage {
    ErrorPage {
        frame: Frame::signed(c, heading),
        hint: (!hint.is_empty()).then(|| hint.to_string()),
        ..error_page(c.lang, heading, detail)
    }
}

/// `templates/cabinet/confirm.html`: "Are you sure?", what will happen, and a form that
/// repeats the request with `confirmed=yes`.
#[derive(Template)]
#[template(path = "cabinet/confirm.html")]
pub struct ConfirmPage {
    frame: Frame,
    w: &'static Words,
    question: String,
    /// Where the confirmed form posts.
    action: String,
    /// The request's fields, sent again as hidden inputs.
    fields: Vec<(String, String)>,
    back: String,
    /// The action cannot be undone (a refund, a cancel, a rotation): a destructive button.
    danger: bool,
}

pub fn confirm(
    c: &Chrome<'_>,
    question: &str,
    action: &str,
    fields: &[(&str, &str)],
    back: &str,
    danger: bool,
) -> ConfirmPage {
    let w = words(c.lang);
    ConfirmPage {
        frame: Frame::signed(c, w.confirm_title),
        w,
        question: question.to_string(),
        action: action.to_string(),
        fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        back: back.to_string(),
        danger,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const XSS: &str = "<script>alert(1)</script>";
    pub const ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

    pub fn chrome(lang: Lang) -> Chrome<'static> {
        Chrome { lang, email: "ops@shop.kz", csrf: "csrf-token", section: Section::Transactions, path: "/cabinet/x" }
    }

    /// The hostile text is on the page only as text.
    pub fn assert_escaped(html: &str) {
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains(ESCAPED), "{html}");
    }

    #[test]
    fn the_layout_frames_every_page_once() {
        let html = confirm(&chrome(Lang::En), "Refund: 30 KZT?", "/cabinet/transactions/p1/refund", &[], "/back", true)
            .render()
            .unwrap();
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert_eq!(html.matches("<html").count(), 1);
        assert!(html.contains(r#"<html lang="en">"#));
        assert!(html.contains(&format!(r#"integrity="{}""#, super::super::assets::css().integrity)));
        assert!(html.contains(r#"<a id="nav-transactions" href="/cabinet/transactions" aria-current="page">"#));
        assert!(html.contains(r#"<a id="nav-overview" href="/cabinet/overview">"#));
        assert!(
            html.contains(
                r#"<a class="lang" id="lang-en" href="/cabinet/lang/en?back=%2Fcabinet%2Fx" aria-current="true">EN</a>"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"<span id="who">ops@shop.kz</span>"#));
        // The first CSRF field is the sign-out form's, in the header.
        assert!(html.contains(r#"<input type="hidden" name="csrf" value="csrf-token"><button id="sign-out""#));
        assert!(!html.contains("<script") && !html.contains("style="), "CSP: no script, no inline style");
    }

    #[test]
    fn sign_in_and_error_pages_have_no_menu() {
        let html = login(Lang::Ru, "t0k", XSS, Some(XSS)).render().unwrap();
        assert!(!html.contains("nav-overview") && html.contains(r#"<html lang="ru">"#));
        assert!(html.contains(r#"<input type="hidden" name="csrf" value="t0k">"#));
        assert!(html.contains(r#"<p class="alert" role="alert" id="alert">"#));
        assert_escaped(&html);
        let html = error_page(Lang::En, "Not found", "").render().unwrap();
        assert!(
            html.contains(r#"<section class="panel narrow" id="error"><h1>Not found</h1><p><a id="back""#),
            "{html}"
        );
        let html = error_page(Lang::En, "Invalid input", XSS).render().unwrap();
        assert_escaped(&html);
    }

    #[test]
    fn amounts_rates_and_dates_are_written_as_the_language_writes_them() {
        assert_eq!(amount(Lang::Ru, 100_050), "1\u{a0}000,50");
        assert_eq!(amount(Lang::Kk, 123_456_789), "1\u{a0}234\u{a0}567,89");
        assert_eq!(amount(Lang::En, 100_050), "1,000.50");
        assert_eq!(amount(Lang::En, 100_000), "1,000");
        assert_eq!(amount(Lang::En, 5), "0.05");
        assert_eq!(amount(Lang::Ru, 99_900), "999");
        assert_eq!(amount(Lang::En, -150), "-1.50");
        assert_eq!(rate(Lang::Ru, Some(36.4)), "36,4\u{a0}%");
        assert_eq!(rate(Lang::En, Some(36.4)), "36.4%");
        assert_eq!(rate(Lang::Kk, None), "—");
        // 2022-11-15 02:52:17 in Kazakhstan (UTC+5).
        let t = when(Lang::En, 1_668_462_737_289);
        assert_eq!((t.iso.as_str(), t.text.as_str()), ("2022-11-15T02:52:17.289000+05:00", "15 Nov 2022, 02:52"));
        assert_eq!(date(Lang::Ru, 1_668_462_737_289), "15.11.2022 02:52");
    }

    #[test]
    fn the_confirmation_repeats_the_fields_as_text() {
        let html = confirm(
            &chrome(Lang::En),
            XSS,
            "/cabinet/cards/c1/deactivate",
            &[("account", XSS)],
            "/cabinet/cards?account=a&b",
            true,
        )
        .render()
        .unwrap();
        assert_escaped(&html);
        assert!(html.contains(r#"<input type="hidden" name="confirmed" value="yes">"#));
        assert!(html.contains(r#"href="/cabinet/cards?account=a&#38;b""#), "{html}");
    }
}
