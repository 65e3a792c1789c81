//! The page's language switch (рус / қаз / eng): one link per language to the same form.
//!
//! Language is presentation only. A link carries the page's `params` exactly as the page got
//! them (the token inside fixes the amount, invoice and terminal: DESIGN §5a), the widget flag,
//! the transfer kind's flag, and `lang`; nothing else from the request is copied, so the switch
//! cannot be made to carry any other parameter. The handlers read `lang` with
//! [`Lang::chosen`]: a value that names no language is ignored and the payment's own `language`
//! stands. The payment's stored language (its callbacks, the issuer's page) does not change.

use epay_domain::TransferKind;

use super::i18n::Lang;

/// One language's link.
pub struct LanguageLink {
    /// `ru`, `kk`, `en`: the link's `lang` and `hreflang`, and its id (`lang-kk`).
    pub code: &'static str,
    /// The language's own name for itself, so a shopper finds it whatever the page's language.
    pub label: &'static str,
    pub href: String,
    /// The page's language (`aria-current`).
    pub current: bool,
}

/// What the switched page must keep: the form it shows.
pub struct Keep<'a> {
    /// The page's `params`, unchanged.
    pub raw_params: &'a str,
    /// The widget's compact layout.
    pub short: bool,
    /// The transfer form's kind; `None`: the card form.
    pub kind: Option<TransferKind>,
}

/// The switch's links, the current language marked.
pub fn links(current: Lang, keep: &Keep<'_>) -> Vec<LanguageLink> {
    [(Lang::Ru, "Рус"), (Lang::Kk, "Қаз"), (Lang::En, "Eng")]
        .into_iter()
        .map(|(lang, label)| LanguageLink {
            code: lang.html_code(),
            label,
            href: href(lang, keep),
            current: lang == current,
        })
        .collect()
}

/// `/payform/?params=…[&isShortForm=true][&isTransfer=true]&lang=kk`: always the form's GET
/// address, whichever page (a refused POST too) shows the switch.
fn href(lang: Lang, keep: &Keep<'_>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("params", keep.raw_params);
    if keep.short {
        query.append_pair("isShortForm", "true");
    }
    if let Some(kind) = keep.kind {
        query.append_pair(kind_flag(kind), "true");
    }
    query.append_pair("lang", lang.html_code());
    format!("/payform/?{}", query.finish())
}

/// The query flag that opens the transfer form of `kind` (as payment-api.js's calls do).
fn kind_flag(kind: TransferKind) -> &'static str {
    match kind {
        TransferKind::P2p => "isTransfer",
        TransferKind::Aft => "isAFT",
        TransferKind::Oct => "isOCT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_links_keep_the_params_and_change_only_the_language() {
        // LZString's alphabet has `+` and `$`: both must survive the trip through the query.
        let keep = Keep { raw_params: "N4Ig+d$x-1", short: false, kind: None };
        let links = links(Lang::Kk, &keep);
        let shown: Vec<_> = links.iter().map(|l| (l.code, l.label, l.current)).collect();
        assert_eq!(shown, [("ru", "Рус", false), ("kk", "Қаз", true), ("en", "Eng", false)]);
        assert_eq!(links[2].href, "/payform/?params=N4Ig%2Bd%24x-1&lang=en");
        let back: Vec<(String, String)> =
            url::form_urlencoded::parse(links[2].href.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
        assert_eq!(back, [("params".to_string(), "N4Ig+d$x-1".to_string()), ("lang".into(), "en".into())]);
    }

    #[test]
    fn the_widget_and_the_transfer_forms_stay_what_they_are() {
        let keep = Keep { raw_params: "P", short: true, kind: Some(TransferKind::Aft) };
        assert_eq!(links(Lang::Ru, &keep)[0].href, "/payform/?params=P&isShortForm=true&isAFT=true&lang=ru");
        let keep = Keep { kind: Some(TransferKind::P2p), short: false, ..keep };
        assert_eq!(links(Lang::Ru, &keep)[1].href, "/payform/?params=P&isTransfer=true&lang=kk");
        let keep = Keep { kind: Some(TransferKind::Oct), ..keep };
        assert_eq!(links(Lang::Ru, &keep)[1].href, "/payform/?params=P&isOCT=true&lang=kk");
    }

    #[test]
    fn only_a_language_is_chosen_by_lang() {
        assert_eq!(Lang::chosen("kk"), Some(Lang::Kk));
        assert_eq!(Lang::chosen(" EN "), Some(Lang::En));
        assert_eq!(Lang::chosen("rus"), Some(Lang::Ru));
        for junk in ["", "de", "kk&amount=1", "\"><script>"] {
            assert_eq!(Lang::chosen(junk), None, "{junk}");
        }
    }
}
