//! No HTML built in Rust on the surfaces that are on templates (docs/architecture.md, "HTML
//! pages"): a string literal that opens an HTML tag (`<p`, `</div`, `<!doctype`) inside the
//! arguments of `format!`, `write!`, `writeln!`, `format_args!`, `concat!` or a `push_str(…)`
//! call fails the test. Markup belongs in a template; a `<` that opens no tag (`a < b`,
//! `Bearer <token>`, `Vec<u8>`) and HTML in comments, in other macros (`json!`) or in a file's
//! `#[cfg(test)]` tail (expected output) are fine.

use std::path::Path;

/// The source folders on templates: every surface that writes HTML. (The cabinet's own
/// `no_markup_in_rust` test also refuses character references built in Rust.)
const ON_TEMPLATES: &[&str] = &["src/edge/page", "src/edge/openapi", "src/edge/cabinet"];

/// The macros and methods whose string arguments become output text.
const BUILDERS: &[&str] = &["format", "write", "writeln", "format_args", "concat"];
const METHODS: &[&str] = &["push_str"];

/// HTML and SVG element names: `<` + one of these (then a space, `>`, `/`, `{` or the literal's
/// end) opens a tag.
const ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "address",
    "area",
    "article",
    "aside",
    "audio",
    "b",
    "base",
    "bdi",
    "bdo",
    "blockquote",
    "body",
    "br",
    "button",
    "canvas",
    "caption",
    "circle",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "datalist",
    "dd",
    "del",
    "details",
    "dfn",
    "dialog",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "g",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "i",
    "iframe",
    "img",
    "input",
    "ins",
    "kbd",
    "label",
    "legend",
    "li",
    "line",
    "link",
    "main",
    "map",
    "mark",
    "menu",
    "meta",
    "meter",
    "nav",
    "noscript",
    "object",
    "ol",
    "optgroup",
    "option",
    "output",
    "p",
    "param",
    "path",
    "picture",
    "polygon",
    "polyline",
    "pre",
    "progress",
    "q",
    "rect",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "script",
    "search",
    "section",
    "select",
    "slot",
    "small",
    "source",
    "span",
    "strong",
    "style",
    "sub",
    "summary",
    "sup",
    "svg",
    "table",
    "tbody",
    "td",
    "template",
    "text",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "time",
    "title",
    "tr",
    "track",
    "u",
    "ul",
    "var",
    "video",
    "wbr",
];

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Punct(char),
    /// A string literal's content (escapes left as written) and the line it starts on.
    Str(String, usize),
}

/// Rust source as identifiers, punctuation and string literals; comments, char literals,
/// lifetimes, numbers and whitespace dropped.
fn tokens(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let count_lines = |from: usize, to: usize| chars[from..to].iter().filter(|c| **c == '\n').count();
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0);
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += count_lines(start, i.min(chars.len()));
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            let end = i.min(chars.len());
            out.push(Token::Str(chars[start + 1..end].iter().collect(), line));
            line += count_lines(start, end);
            i = end + 1;
        } else if c == '\'' {
            // A char literal ('<', '\'', '\u{2028}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let raw = matches!(word.as_str(), "r" | "br" | "cr") && matches!(chars.get(i), Some('"' | '#'));
            if raw {
                let hashes = chars[i..].iter().take_while(|c| **c == '#').count();
                let body = i + hashes + 1;
                let closing: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
                let mut end = body;
                while end < chars.len() && !chars[end..].starts_with(&closing) {
                    end += 1;
                }
                out.push(Token::Str(chars[body.min(end)..end].iter().collect(), line));
                line += count_lines(start, end);
                i = end + closing.len();
            } else if !word.starts_with(|c: char| c.is_ascii_digit()) {
                out.push(Token::Ident(word));
            }
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// Whether `text` opens an HTML tag somewhere.
fn opens_a_tag(text: &str) -> bool {
    text.match_indices('<').any(|(at, _)| {
        let rest = &text[at + 1..];
        let lower = rest.to_ascii_lowercase();
        if lower.starts_with("!doctype") || lower.starts_with("!--") {
            return true;
        }
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let name: String = rest.chars().take_while(char::is_ascii_alphanumeric).collect();
        let after = rest[name.len()..].chars().next();
        let name = name.to_ascii_lowercase();
        // `<h{level}`: a heading whose level is filled in.
        let heading = name == "h" && after == Some('{');
        heading
            || ELEMENTS.contains(&name.as_str())
                && after.is_none_or(|c| c.is_whitespace() || matches!(c, '>' | '/' | '{' | '\\'))
    })
}

/// The string literals (line, text) that build HTML in `source`, a Rust file without its tests.
fn html_built_in(source: &str) -> Vec<(usize, String)> {
    let tokens = tokens(source);
    // Token indices: a literal inside nested builders (`format!("{}", concat!("<p>"))`) counts once.
    let mut found = std::collections::BTreeSet::new();
    for (at, token) in tokens.iter().enumerate() {
        let Token::Ident(name) = token else { continue };
        let before = at.checked_sub(1).and_then(|b| tokens.get(b));
        let args_from = match (before, tokens.get(at + 1), tokens.get(at + 2)) {
            (_, Some(Token::Punct('!')), Some(Token::Punct('(' | '[' | '{'))) if BUILDERS.contains(&name.as_str()) => {
                at + 2
            }
            (Some(Token::Punct('.')), Some(Token::Punct('(')), _) if METHODS.contains(&name.as_str()) => at + 1,
            _ => continue,
        };
        let mut depth = 0;
        for (index, token) in tokens.iter().enumerate().skip(args_from) {
            match token {
                Token::Punct('(' | '[' | '{') => depth += 1,
                Token::Punct(')' | ']' | '}') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                Token::Str(text, _) if opens_a_tag(text) => {
                    found.insert(index);
                }
                _ => {}
            }
        }
    }
    found
        .into_iter()
        .filter_map(|index| match &tokens[index] {
            Token::Str(text, line) => Some((*line, text.clone())),
            _ => None,
        })
        .collect()
}

/// A file's code without its `#[cfg(test)]` tail (tests may spell out expected HTML).
fn without_tests(source: &str) -> &str {
    match source.lines().position(|line| line.trim() == "#[cfg(test)]") {
        Some(at) => {
            let offset: usize = source.lines().take(at).map(|l| l.len() + 1).sum();
            &source[..offset.min(source.len())]
        }
        None => source,
    }
}

/// Every `.rs` file under `dir`, into `out` (the cabinet's own guard reads its folder with it).
pub(crate) fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn surfaces_on_templates_build_no_html_in_rust() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ON_TEMPLATES {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 5, "{files:?}");
    let mut offenders = Vec::new();
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        for (line, text) in html_built_in(without_tests(&source)) {
            offenders.push(format!("{}:{line}: {text}", path.strip_prefix(root).unwrap().display()));
        }
    }
    assert!(offenders.is_empty(), "HTML built in Rust (put it in a template):\n{}", offenders.join("\n"));
}

#[test]
fn the_guard_finds_html_building_and_nothing_else() {
    let building = [
        r##"let x = format!(r#"<p class="alert">{}</p>"#, text);"##,
        r#"out.push_str("<li>");"#,
        r#"write!(f, "<td>{x}</td>")?;"#,
        r#"writeln!(out, "{}</div>", a)"#,
        r#"let page = format!("<!doctype html>{body}");"#,
        r#"let s = format!("{}", concat!("<span", " id=x>"));"#,
        r###"format!(r##"<h{level} id="{id}">"##)"###,
        r#"format!("<a href=\"{}\">", link)"#,
        r#"format!(
            "{}{}",
            other("x"),
            "<br>"
        )"#,
    ];
    for source in building {
        assert_eq!(html_built_in(source).len(), 1, "{source}");
    }
    let innocent = [
        r#"format!("Authorization: Bearer <token> {x}")"#,
        r#"format!("{a} < {b} and {c} > {d}")"#,
        r#"format!("Vec<u8> and Option<String> and <base64 of it>")"#,
        r#"// format!("<p>{}</p>", x)"#,
        r#"/* out.push_str("<div>") */ let a = 1;"#,
        r#"json!({"cryptogram": "<p>"})"#,
        r#"let c = '<'; let s: &'static str = "<p>"; format!("{c}{s}")"#,
        r#"out.push('<'); out.push_str("&amp;")"#,
        r#"text.replace("</", "<\\/")"#,
    ];
    for source in innocent {
        assert_eq!(html_built_in(source), Vec::<(usize, String)>::new(), "{source}");
    }
    // Lines are counted across comments and multi-line literals.
    let source = "/* one\ntwo */\nlet a = \"x\ny\";\nformat!(\"<p>\")";
    assert_eq!(html_built_in(source), vec![(5, "<p>".to_string())]);
    // Tests may spell out HTML.
    let source = "fn f() {}\n#[cfg(test)]\nmod tests { fn t() { format!(\"<p>{}</p>\", 1); } }";
    assert!(html_built_in(without_tests(source)).is_empty());
    assert_eq!(html_built_in(source).len(), 1);
}
