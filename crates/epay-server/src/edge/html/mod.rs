//! How the gateway makes HTML (docs/architecture.md, "HTML pages").
//!
//! A page is a plain view struct (strings, numbers, enums, vectors: no HTML) with
//! `#[derive(askama::Template)]`, rendered by a template under `crates/epay-server/templates/`,
//! one folder per surface (`docs/`, `page/`, `acs/`, `demo/`). askama checks the template
//! against the struct at compile time and HTML-escapes every `{{ value }}`, so text from anywhere
//! (a merchant, a shopper, a configuration file, the OpenAPI document) is text on the page.
//!
//! The one way to put markup we made ourselves into a page is a [`TrustedHtml`] value. Only the
//! renderers in this module make one ([`markdown`], [`script_data`]), and askama inserts it as
//! is. Templates never use the `|safe` filter; a test below holds every template to that.

#[cfg(test)]
pub(crate) mod guard;
pub mod markdown;
pub mod script_data;

use std::fmt;

/// HTML made by one of this module's renderers (never from a `String` someone hands us), which
/// askama inserts into a page without escaping it again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedHtml(String);

impl TrustedHtml {
    /// The markup, for tests and for callers that need the text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustedHtml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// askama leaves values of this type unescaped (and escapes everything else).
impl askama::filters::HtmlSafe for TrustedHtml {}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    /// No template switches escaping off: no `|safe`, no `{% filter safe %}`, no `escape("none")`,
    /// and every template is `.html` or `.svg`, extensions askama escapes for as HTML (the
    /// cabinet's charts are `.svg`), except the plain-text messages in `templates/mail/`. Markup of
    /// our own goes in as a `TrustedHtml` value instead.
    #[test]
    fn templates_never_switch_escaping_off() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut templates = Vec::new();
        files_under(&root.join("templates"), &mut templates);
        assert!(!templates.is_empty());
        for path in templates {
            let extension = path.extension().and_then(|e| e.to_str());
            // The one exception: plain-text messages (`templates/mail/*.txt`, e-mail and SMS
            // bodies), which no browser renders; HTML escaping would garble a `&` in a link.
            let plain_text = path.starts_with(root.join("templates/mail")) && extension == Some("txt");
            assert!(plain_text || matches!(extension, Some("html" | "svg")), "{}", path.display());
            let text: String = std::fs::read_to_string(&path).unwrap().chars().filter(|c| !c.is_whitespace()).collect();
            for forbidden in ["|safe", "filtersafe", "escape(\"none\")", "|e(\"none\")"] {
                assert!(!text.contains(forbidden), "{} uses {forbidden}", path.display());
            }
        }
        // Nor does a template struct turn escaping off for itself.
        let mut sources = Vec::new();
        files_under(&root.join("src"), &mut sources);
        for path in sources.iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
            let text: String = std::fs::read_to_string(path).unwrap().chars().filter(|c| !c.is_whitespace()).collect();
            assert!(!text.contains(&format!("escape=\"{}\"", "none")), "{} turns escaping off", path.display());
        }
    }
}
