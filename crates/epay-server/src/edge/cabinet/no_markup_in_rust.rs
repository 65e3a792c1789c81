//! The cabinet's markup lives in `templates/cabinet/`, where askama escapes every value. This
//! test fails when Rust code under `src/edge/cabinet/` builds HTML or SVG itself with `format!`,
//! `write!`/`writeln!` or `push_str` (docs/architecture.md, "HTML pages").
//!
//! What counts as markup: a string literal in the macro's or method's arguments holding a tag
//! (`<` then a letter, `/` or `!`) or a character reference (`&lt;`, `&#60;`, …). Plain text
//! (`"{} {currency}"`, a CSV field, a URL) has neither. Unit tests (`#[cfg(test)]` onwards) may
//! hold markup to compare pages with.

use std::path::Path;

use crate::edge::html::guard::rust_files;

/// Builders of strings that could assemble markup.
const BUILDERS: [&str; 5] = ["format!(", "write!(", "writeln!(", "push_str(", "format_args!("];

/// The places in `source` (before its tests) where a builder's arguments hold markup, as
/// (line number, line).
fn markup_built_in(source: &str) -> Vec<(usize, String)> {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for builder in BUILDERS {
        for (start, _) in code.match_indices(builder) {
            // The literals joined: `format!("{}{}", "<", "b>")` is a tag too.
            let text = call_literals(&code[start + builder.len()..]).concat();
            if holds_markup(&text) {
                let line = code[..start].matches('\n').count() + 1;
                found.push((line, code.lines().nth(line - 1).unwrap_or("").trim().to_string()));
            }
        }
    }
    found.sort();
    found
}

/// The contents of the string literals (plain and raw) among a call's arguments: `rest` starts
/// after the opening parenthesis and the call ends at the one that closes it. Char literals
/// and comments are skipped, so a `'"'` or `')'` does not end anything.
fn call_literals(rest: &str) -> Vec<&str> {
    let mut literals = Vec::new();
    let mut depth = 1;
    let mut i = 0;
    let bytes = rest.as_bytes();
    while i < bytes.len() && depth > 0 {
        let tail = &rest[i..];
        if let Some(body) = tail.strip_prefix("r#\"") {
            let end = body.find("\"#").unwrap_or(body.len());
            literals.push(&body[..end]);
            i += 3 + end + 2;
        } else if let Some(body) = tail.strip_prefix('"') {
            let mut escaped = false;
            let end = body
                .char_indices()
                .find_map(|(j, c)| {
                    let closes = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    closes.then_some(j)
                })
                .unwrap_or(body.len());
            literals.push(&body[..end]);
            i += 1 + end + 1;
        } else if tail.starts_with("//") {
            i += tail.find('\n').unwrap_or(tail.len());
        } else if tail.starts_with("'\\") {
            // '\n', '\'', '\\': to the next quote after the escaped character.
            i += 3 + tail[3..].find('\'').map_or(tail.len() - 3, |e| e + 1);
        } else if let Some(c) = char_literal(tail) {
            i += 2 + c.len_utf8();
        } else {
            match bytes[i] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            i += tail.chars().next().map_or(1, char::len_utf8);
        }
    }
    literals
}

/// The character of a literal like `'"'` at the start of `code` (not a lifetime like `'a`).
fn char_literal(code: &str) -> Option<char> {
    let mut chars = code.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some('\''), Some(c), Some('\'')) => Some(c),
        _ => None,
    }
}

fn holds_markup(text: &str) -> bool {
    let tag = text
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'));
    let reference = ["&lt;", "&gt;", "&amp;", "&quot;", "&#"].iter().any(|r| text.contains(r));
    tag || reference
}

#[test]
fn no_cabinet_code_builds_html_or_svg() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/edge/cabinet");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() > 5, "{}", dir.display());
    let mut offences = Vec::new();
    // This file's own examples of what not to do are not offences.
    for path in files.into_iter().filter(|p| !p.ends_with("no_markup_in_rust.rs")) {
        for (line, text) in markup_built_in(&std::fs::read_to_string(&path).unwrap()) {
            offences.push(format!("{}:{line}: {text}", path.display()));
        }
    }
    assert!(offences.is_empty(), "markup built in Rust; put it in a template:\n{}", offences.join("\n"));
}

/// The test catches what the cabinet used to do, and leaves text alone.
#[test]
fn the_check_tells_markup_from_text() {
    let built = [
        r##"let a = format!(r#"<tr data-id="{id}"><td>{}</td></tr>"#, x);"##,
        r#"out.push_str(&format!("<option value=\"{}\">", escape(v)));"#,
        r#"body.push_str("</svg>");"#,
        "write!(f, \"<p class=\\\"{}\\\">\", c)?;",
        r#"let s = format!("{} &lt; {}", a, b);"#,
        r#"html.push_str(&format!("{}{}", "<", "b>"));"#,
        "writeln!(\n    out,\n    \"<li>{}</li>\",\n    item\n)",
    ];
    for code in built {
        assert!(!markup_built_in(code).is_empty(), "not caught: {code}");
    }
    let text = [
        r#"let label = format!("{} ({})", t.name, t.pos_id);"#,
        r#"let back = format!("/cabinet/cards?account={}", account);"#,
        r#"format!("\"{}\"", text.replace('"', "\"\""))"#,
        r#"out.push_str(&field(&p.description)); out.push_str(",");"#,
        r#"let what = format!("{label}: {a} {}", p.currency);"#,
        r#"if a < b { format!("{a}<{b}") } else { String::new() }"#,
        r#"let s = format!("{}", x); /* a < b */"#,
        "#[cfg(test)]\nmod tests { fn t() { format!(\"<p>{}</p>\", 1); } }",
    ];
    for code in text {
        assert!(markup_built_in(code).is_empty(), "flagged text: {code}");
    }
}
