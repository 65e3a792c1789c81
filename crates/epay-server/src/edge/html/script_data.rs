//! Data a page hands to its script: JSON inside `<script type="application/json">`, which the
//! script reads with `JSON.parse(element.textContent)`.
//!
//! The text of a script element is not HTML: entities are not decoded there, so askama's escaping
//! would corrupt the JSON. What must not appear in it is markup that ends the element
//! (`</script>`) or opens a comment (`<!--`). This renderer writes every `<`, `>` and `&` as a
//! JSON `\u` escape: valid JSON (those characters occur only inside strings) that parses to the
//! same value, and no tag can start.

use super::TrustedHtml;

/// `value` as JSON fit to be the content of a `<script type="application/json">` element.
pub fn json(value: &serde_json::Value) -> TrustedHtml {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            // Line terminators to JavaScript, though not to JSON: escaped, should a script ever
            // evaluate the text rather than parse it.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    TrustedHtml(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn markup_in_the_data_cannot_end_the_script_and_the_value_survives() {
        let value = json!({
            "description": "</script><script>alert(1)</script><!-- & -->",
            "nested": {"list": ["a<b", "c>d", "\u{2028}"]},
            "amount": 2500,
        });
        let data = json(&value);
        for markup in ["<", ">", "&", "\u{2028}"] {
            assert!(!data.as_str().contains(markup), "{markup} in {}", data.as_str());
        }
        let parsed: serde_json::Value = serde_json::from_str(data.as_str()).unwrap();
        assert_eq!(parsed, value);
    }
}
