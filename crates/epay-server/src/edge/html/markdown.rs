//! Markdown (CommonMark with tables and strikethrough) to HTML, with pulldown-cmark, for text
//! that is ours but should not be able to harm the page if it ever carried something hostile:
//! the OpenAPI descriptions on `/docs` today.
//!
//! What the markdown may not do, whatever it contains:
//! - pass HTML through: raw HTML, block or inline, comes out as escaped text;
//! - link anywhere but `http(s)`, a relative path or an `#anchor` (`javascript:`, `data:`,
//!   `mailto:` and every other scheme stay plain text);
//! - load anything: an image comes out as its alt text (the page loads nothing but its
//!   stylesheet);
//! - style anything: table column alignment, which pulldown-cmark writes as an inline `style`
//!   attribute, is dropped (the pages' CSP allows no inline style).

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

use super::TrustedHtml;

/// Block markdown: paragraphs, lists, tables, code blocks.
pub fn block(text: &str) -> TrustedHtml {
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, tamed(text).into_iter());
    TrustedHtml(out)
}

/// Markdown for a table cell or a line: a text that is one paragraph comes without its `<p>`;
/// anything longer (a list, several paragraphs) renders as [`block`] does.
pub fn inline(text: &str) -> TrustedHtml {
    let mut events = tamed(text);
    if is_one_paragraph(&events) {
        events.pop();
        events.remove(0);
    }
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    TrustedHtml(out)
}

/// The parser's events with everything the module comment forbids taken out.
fn tamed(text: &str) -> Vec<Event<'_>> {
    let mut dropped_links = Vec::new();
    Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
        .filter_map(|event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
            // A raw HTML block reads as a paragraph of (escaped) text.
            Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::Paragraph)),
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                let allowed = link_type != LinkType::Email && is_safe_target(&dest_url);
                dropped_links.push(!allowed);
                allowed.then_some(Event::Start(Tag::Link { link_type, dest_url, title, id }))
            }
            Event::End(TagEnd::Link) => {
                let dropped = dropped_links.pop().unwrap_or(false);
                (!dropped).then_some(Event::End(TagEnd::Link))
            }
            // Without the image's start and end, its alt text is ordinary text.
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
            Event::Start(Tag::Table(alignments)) => {
                Some(Event::Start(Tag::Table(vec![pulldown_cmark::Alignment::None; alignments.len()])))
            }
            other => Some(other),
        })
        .collect()
}

/// Whether a link target is `http(s)`, relative, or an `#anchor`. Browsers ignore tabs and
/// newlines anywhere in a URL and controls and spaces around it (`java\tscript:` is
/// `javascript:`), so the scheme is read with those removed.
fn is_safe_target(url: &str) -> bool {
    let cleaned: String = url.chars().filter(|c| !c.is_ascii_control() && *c != ' ').collect();
    let cleaned = cleaned.to_ascii_lowercase();
    match cleaned.find([':', '/', '?', '#']) {
        Some(i) if cleaned[i..].starts_with(':') => matches!(&cleaned[..i], "http" | "https"),
        // No scheme: a path, a query or an anchor on this site.
        _ => true,
    }
}

/// Whether the events are one paragraph and nothing else.
fn is_one_paragraph(events: &[Event<'_>]) -> bool {
    if !matches!(events.first(), Some(Event::Start(Tag::Paragraph))) {
        return false;
    }
    let mut depth = 0usize;
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                depth -= 1;
                if depth == 0 {
                    return i == events.len() - 1;
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(text: &str) -> String {
        block(text).as_str().to_string()
    }

    #[test]
    fn raw_html_comes_out_as_text() {
        let out = html("Hello <script>alert(1)</script> there");
        assert!(!out.contains("<script"), "{out}");
        assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{out}");

        let out = html("<img src=x onerror=alert(1)>\n\nnext");
        assert!(!out.contains("<img"), "{out}");
        assert!(out.contains("&lt;img src=x onerror=alert(1)&gt;"), "{out}");
        assert!(out.contains("<p>next</p>"), "{out}");

        let out = html("<div onclick=\"x()\">\n*a*\n</div>");
        assert!(!out.contains("<div"), "{out}");
        assert!(out.starts_with("<p>&lt;div onclick=\"x()\"&gt;"), "{out}");

        let out = inline("a <b onmouseover=alert(1)>b</b>");
        assert_eq!(out.as_str(), "a &lt;b onmouseover=alert(1)&gt;b&lt;/b&gt;");
    }

    #[test]
    fn only_web_links_and_anchors_are_links() {
        for hostile in [
            "[x](javascript:alert(1))",
            "[x](JavaScript:alert(1))",
            "[x](java&#9;script:alert(1))",
            "[x](%20javascript:alert(1))",
            "[x](data:text/html,<script>alert(1)</script>)",
            "[x](vbscript:msgbox)",
            "<javascript:alert(1)>",
            "<me@example.com>",
            "[x][r]\n\n[r]: javascript:alert(1)",
        ] {
            let out = html(hostile);
            assert!(!out.contains("<a"), "{hostile} became a link: {out}");
            assert!(!out.to_ascii_lowercase().contains("href"), "{hostile}: {out}");
        }
        for (safe, href) in [
            ("[x](https://example.com/a?b=1)", "https://example.com/a?b=1"),
            ("[x](http://example.com)", "http://example.com"),
            ("[x](/openapi.json)", "/openapi.json"),
            ("[x](#schema-Amount)", "#schema-Amount"),
            ("[x](docs/api.md)", "docs/api.md"),
            ("<https://example.com>", "https://example.com"),
        ] {
            let out = html(safe);
            assert!(out.contains(&format!("<a href=\"{href}\">")), "{safe}: {out}");
        }
        // The text of a refused link stays.
        assert_eq!(inline("see [the docs](javascript:x) now").as_str(), "see the docs now");
    }

    #[test]
    fn images_are_their_alt_text() {
        let out = html("![a cat](https://example.com/cat.png)");
        assert_eq!(out, "<p>a cat</p>\n");
    }

    #[test]
    fn tables_code_and_lists_render() {
        let out = html("| a | b |\n|:--|--:|\n| `x` | **y** |");
        assert!(out.contains("<table>"), "{out}");
        assert!(out.contains("<th>a</th>"), "{out}");
        assert!(out.contains("<td><code>x</code></td>"), "{out}");
        assert!(out.contains("<td><strong>y</strong></td>"), "{out}");
        assert!(!out.contains("style="), "no inline style: {out}");

        let out = html("```json\n{\"a\": \"<b>\"}\n```");
        assert_eq!(out, "<pre><code class=\"language-json\">{\"a\": \"&lt;b&gt;\"}\n</code></pre>\n");

        assert_eq!(
            html("one\ntwo\n\n- x\n- `y`"),
            "<p>one\ntwo</p>\n<ul>\n<li>x</li>\n<li><code>y</code></li>\n</ul>\n"
        );
        assert_eq!(inline("a `<b>` **c** <d>").as_str(), "a <code>&lt;b&gt;</code> <strong>c</strong> &lt;d&gt;");
        assert_eq!(inline("**`/api` x.** `a**b`").as_str(), "<strong><code>/api</code> x.</strong> <code>a**b</code>");
    }

    #[test]
    fn inline_keeps_blocks_that_are_more_than_a_paragraph() {
        assert_eq!(inline("").as_str(), "");
        assert_eq!(inline("one").as_str(), "one");
        assert_eq!(inline("one\n\ntwo").as_str(), "<p>one</p>\n<p>two</p>\n");
        assert_eq!(inline("- a\n- b").as_str(), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n");
    }
}
