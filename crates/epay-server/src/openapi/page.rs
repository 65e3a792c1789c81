//! The API reference page at `/docs`, rendered on the server from the OpenAPI document: no
//! scripts, no external assets, only our stylesheet. Sections per tag; each operation with its
//! method, path, security, parameters, request body and responses as field tables, and examples.

use std::fmt::Write;

use serde_json::{Map, Value};

/// Where the page's stylesheet is served.
pub const CSS_PATH: &str = "/docs/docs.css";
pub const CSS: &str = include_str!("../../assets/docs.css");

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The whole page.
pub fn render(doc: &Value, order: &[String]) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} — API reference</title><link rel=\"stylesheet\" href=\"{CSS_PATH}\"></head>\n<body>\n\
         <div class=\"layout\">",
        t = esc(title)
    );
    let operations = operations_by_tag(doc, order);
    nav(&mut out, doc, &operations);
    out.push_str("<main>\n");
    let _ = writeln!(
        out,
        "<header><h1>{}</h1><p class=\"meta\">Version {} · OpenAPI {} · machine-readable: \
         <a href=\"/openapi.json\">/openapi.json</a></p>{}</header>",
        esc(title),
        esc(doc["info"]["version"].as_str().unwrap_or("")),
        esc(doc["openapi"].as_str().unwrap_or("")),
        md(doc["info"]["description"].as_str().unwrap_or(""))
    );
    security_section(&mut out, doc);
    for (tag, description, ops) in &operations {
        let _ = write!(
            out,
            "<section class=\"tag\" id=\"{}\">\n<h2>{}</h2>\n{}",
            tag_anchor(tag),
            esc(tag),
            md(description)
        );
        for op in ops {
            operation(&mut out, doc, op);
        }
        out.push_str("</section>\n");
    }
    schemas_section(&mut out, doc);
    out.push_str("</main>\n</div>\n</body></html>\n");
    out
}

/// One operation of the document: where it is and what it is.
struct OpRef<'a> {
    path: &'a str,
    method: &'a str,
    op: &'a Value,
    servers: Option<&'a Value>,
}

fn operations_by_tag<'a>(doc: &'a Value, order: &[String]) -> Vec<(String, String, Vec<OpRef<'a>>)> {
    let mut tags: Vec<(String, String, Vec<OpRef<'_>>)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (t["name"].as_str().unwrap_or("").to_string(), t["description"].as_str().unwrap_or("").to_string(), vec![])
        })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = item.get(*method) else { continue };
            let tag = op["tags"][0].as_str().unwrap_or("Other").to_string();
            let entry = match tags.iter().position(|(name, _, _)| *name == tag) {
                Some(i) => &mut tags[i],
                None => {
                    tags.push((tag, String::new(), vec![]));
                    tags.last_mut().expect("just pushed")
                }
            };
            entry.2.push(OpRef { path, method, op, servers: item.get("servers") });
        }
    }
    tags.retain(|(_, _, ops)| !ops.is_empty());
    for (_, _, ops) in tags.iter_mut() {
        ops.sort_by_key(|op| {
            let id = op.op["operationId"].as_str().unwrap_or("");
            order.iter().position(|o| o == id).unwrap_or(usize::MAX)
        });
    }
    tags
}

fn nav(out: &mut String, doc: &Value, operations: &[(String, String, Vec<OpRef<'_>>)]) {
    let _ = writeln!(
        out,
        "<nav class=\"toc\" aria-label=\"Contents\"><p class=\"brand\"><a href=\"#\">{}</a></p>\n<ul>\n\
         <li><a href=\"#authentication\">Authentication</a></li>",
        esc(doc["info"]["title"].as_str().unwrap_or("API").split(" — ").next().unwrap_or("API"))
    );
    for (tag, _, ops) in operations {
        let _ = writeln!(out, "<li><a href=\"#{}\">{}</a><ul>", tag_anchor(tag), esc(tag));
        for op in ops {
            let _ = writeln!(
                out,
                "<li><a href=\"#{}\"><span class=\"m {m}\">{M}</span> {}</a></li>",
                op_anchor(op),
                esc(op.path),
                m = op.method,
                M = op.method.to_ascii_uppercase()
            );
        }
        out.push_str("</ul></li>\n");
    }
    out.push_str("<li><a href=\"#schemas\">Schemas</a></li>\n</ul>\n</nav>\n");
}

fn security_section(out: &mut String, doc: &Value) {
    out.push_str("<section id=\"authentication\">\n<h2>Authentication</h2>\n");
    for (name, scheme) in doc["components"]["securitySchemes"].as_object().into_iter().flatten() {
        let _ = writeln!(out, "<h3 id=\"security-{}\">{}</h3>", esc(name), esc(name));
        let kind = match scheme["type"].as_str() {
            Some("oauth2") => {
                let flow = &scheme["flows"]["clientCredentials"];
                format!(
                    "OAuth2, client credentials; token URL <code>{}</code>",
                    esc(flow["tokenUrl"].as_str().unwrap_or(""))
                )
            }
            Some("apiKey") => format!(
                "API key in the {} parameter <code>{}</code>",
                esc(scheme["in"].as_str().unwrap_or("")),
                esc(scheme["name"].as_str().unwrap_or(""))
            ),
            other => esc(other.unwrap_or("")),
        };
        let _ = write!(out, "<p class=\"meta\">{kind}</p>{}", md(scheme["description"].as_str().unwrap_or("")));
        if let Some(scopes) = scheme["flows"]["clientCredentials"]["scopes"].as_object() {
            out.push_str("<table><thead><tr><th>scope</th><th>meaning</th></tr></thead><tbody>\n");
            for (scope, meaning) in scopes {
                let _ = writeln!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td></tr>",
                    esc(scope),
                    esc(meaning.as_str().unwrap_or(""))
                );
            }
            out.push_str("</tbody></table>\n");
        }
    }
    out.push_str("</section>\n");
}

fn operation(out: &mut String, doc: &Value, r: &OpRef<'_>) {
    let op = r.op;
    let _ = writeln!(
        out,
        "<article class=\"op\" id=\"{}\">\n<h3><span class=\"m {m}\">{M}</span> <code class=\"path\">{}</code></h3>\n\
         <p class=\"summary\">{}</p>",
        op_anchor(r),
        esc(r.path),
        esc(op["summary"].as_str().unwrap_or("")),
        m = r.method,
        M = r.method.to_ascii_uppercase()
    );
    let mut facts = Vec::new();
    if let Some(servers) = r.servers.and_then(Value::as_array) {
        let bases: Vec<String> = servers
            .iter()
            .filter_map(|s| s["url"].as_str())
            .map(|u| format!("<code>{}</code>", esc(&join(u, r.path))))
            .collect();
        facts.push(format!("Served at {}", bases.join(" and ")));
    }
    facts.push(security_text(op));
    let _ = writeln!(out, "<p class=\"meta\">{}</p>", facts.join(" · "));
    out.push_str(&md(op["description"].as_str().unwrap_or("")));

    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str(
            "<h4>Parameters</h4>\n<table><thead><tr><th>name</th><th>in</th><th>type</th><th>required</th>\
                      <th>description</th></tr></thead><tbody>\n",
        );
        for p in params {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p["name"].as_str().unwrap_or("")),
                esc(p["in"].as_str().unwrap_or("")),
                type_html(&p["schema"]),
                if p["required"].as_bool() == Some(true) { "yes" } else { "no" },
                inline(p["description"].as_str().unwrap_or(""))
            );
        }
        out.push_str("</tbody></table>\n");
    }

    if let Some(body) = op.get("requestBody") {
        out.push_str("<h4>Request body</h4>\n");
        let content = body["content"].as_object();
        let types: Vec<String> =
            content.into_iter().flatten().map(|(ct, _)| format!("<code>{}</code>", esc(ct))).collect();
        let _ =
            write!(out, "<p class=\"meta\">{}</p>{}", types.join(", "), md(body["description"].as_str().unwrap_or("")));
        if let Some((_, media)) = content.and_then(|c| c.iter().next()) {
            schema_block(out, doc, &media["schema"]);
            if let Some(example) = media.get("example") {
                example_block(out, "Example", example);
            }
        }
    }

    out.push_str("<h4>Responses</h4>\n");
    for (status, response) in op["responses"].as_object().into_iter().flatten() {
        let class = match status.chars().next() {
            Some('2') => "ok",
            Some('4') => "client",
            _ => "server",
        };
        let _ = writeln!(
            out,
            "<div class=\"response\"><p><span class=\"status {class}\">{}</span> {}</p>",
            esc(status),
            inline(response["description"].as_str().unwrap_or(""))
        );
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            let _ = writeln!(
                out,
                "<p class=\"meta\">Header <code>{}</code>: {}</p>",
                esc(name),
                inline(header["description"].as_str().unwrap_or(""))
            );
        }
        for (content_type, media) in response["content"].as_object().into_iter().flatten() {
            let _ = writeln!(out, "<p class=\"meta\"><code>{}</code></p>", esc(content_type));
            if content_type.contains("json") {
                schema_block(out, doc, &media["schema"]);
            }
            if let Some(example) = media.get("example") {
                example_block(out, "Example", example);
            }
            for (name, example) in media["examples"].as_object().into_iter().flatten() {
                example_block(out, &format!("Example: {name}"), &example["value"]);
            }
        }
        out.push_str("</div>\n");
    }
    out.push_str("</article>\n");
}

fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

fn security_text(op: &Value) -> String {
    let Some(requirements) = op["security"].as_array() else {
        return "No authentication".into();
    };
    let alternatives: Vec<String> = requirements
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|r| r.iter())
        .map(|(scheme, scopes)| {
            let scopes: Vec<&str> = scopes.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let link = format!("<a href=\"#security-{s}\">{s}</a>", s = esc(scheme));
            if scopes.is_empty() {
                link
            } else {
                format!("{link} (scope <code>{}</code>)", esc(&scopes.join(" ")))
            }
        })
        .collect();
    format!("Auth: {}", alternatives.join(" or "))
}

/// A schema: a link to its component and, for objects, the table of its fields.
fn schema_block(out: &mut String, doc: &Value, schema: &Value) {
    if schema.is_null() {
        return;
    }
    let _ = writeln!(out, "<p class=\"schema\">Schema: {}</p>", type_html(schema));
    let target = match schema.get("items") {
        Some(items) if schema["type"] == "array" => items,
        _ => schema,
    };
    let resolved = resolve(target, doc);
    if let Some(variants) = resolved.get("oneOf").and_then(Value::as_array) {
        for variant in variants {
            let name = ref_name(variant).unwrap_or("variant");
            let _ = writeln!(out, "<p class=\"meta\">{}:</p>", esc(name));
            fields_table(out, doc, resolve(variant, doc));
        }
    } else {
        fields_table(out, doc, resolved);
    }
}

/// The fields of an object schema (`allOf` parts merged), one row each.
fn fields_table(out: &mut String, doc: &Value, schema: &Value) {
    let mut rows = Vec::new();
    collect_fields(doc, schema, &mut rows, 0);
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"fields\"><thead><tr><th>field</th><th>type</th><th>required</th><th>description</th>\
                  </tr></thead><tbody>\n",
    );
    for (name, field, required) in rows {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            type_html(field),
            if required { "yes" } else { "no" },
            inline(&field_description(field))
        );
    }
    out.push_str("</tbody></table>\n");
}

fn collect_fields<'a>(doc: &'a Value, schema: &'a Value, rows: &mut Vec<(String, &'a Value, bool)>, depth: usize) {
    if depth > 8 {
        return;
    }
    let schema = resolve(schema, doc);
    for part in schema["allOf"].as_array().into_iter().flatten() {
        collect_fields(doc, part, rows, depth + 1);
    }
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, field) in schema["properties"].as_object().into_iter().flatten() {
        rows.push((name.clone(), field, required.contains(&name.as_str())));
    }
}

/// A field's own description (a `$ref` next to `null` carries it on its variant).
fn field_description(field: &Value) -> String {
    if let Some(d) = field["description"].as_str() {
        return d.to_string();
    }
    field["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|part| part["description"].as_str())
        .unwrap_or("")
        .to_string()
}

fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/components/schemas/")
}

fn resolve<'a>(schema: &'a Value, doc: &'a Value) -> &'a Value {
    match ref_name(schema) {
        Some(name) => doc["components"]["schemas"].get(name).unwrap_or(schema),
        None => schema,
    }
}

/// A short type, with links to component schemas: `string`, `Amount`, `array of X`, `X | null`.
fn type_html(schema: &Value) -> String {
    if let Some(name) = ref_name(schema) {
        return format!("<a href=\"#{}\">{}</a>", schema_anchor(name), esc(name));
    }
    if let Some(variants) = schema["oneOf"].as_array().or_else(|| schema["anyOf"].as_array()) {
        let parts: Vec<String> = variants.iter().map(type_html).collect();
        return parts.join(" | ");
    }
    if schema.get("allOf").is_some() {
        return "object".into();
    }
    let mut types: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec![],
    };
    for t in types.iter_mut() {
        if t == "array" {
            *t = format!("array of {}", type_html(&schema["items"]));
        } else {
            *t = esc(t);
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> =
            values.iter().map(|v| format!("<code>{}</code>", esc(&v.to_string().replace('"', "")))).collect();
        types.push(format!("one of {}", values.join(", ")));
    }
    if types.is_empty() {
        "any".into()
    } else {
        types.join(" | ")
    }
}

fn example_block(out: &mut String, title: &str, example: &Value) {
    let text = match example {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let _ = writeln!(out, "<details><summary>{}</summary><pre><code>{}</code></pre></details>", esc(title), esc(&text));
}

fn schemas_section(out: &mut String, doc: &Value) {
    out.push_str("<section id=\"schemas\">\n<h2>Schemas</h2>\n");
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap_or(&Map::new()) {
        let _ = write!(
            out,
            "<div class=\"schema-def\" id=\"{}\"><h3>{}</h3>\n{}",
            schema_anchor(name),
            esc(name),
            md(schema["description"].as_str().unwrap_or(""))
        );
        if schema.get("properties").is_some() || schema.get("allOf").is_some() {
            fields_table(out, doc, schema);
        } else {
            let _ = writeln!(out, "<p class=\"schema\">Type: {}</p>", type_html(schema));
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn tag_anchor(tag: &str) -> String {
    format!("tag-{}", slug(tag))
}

fn op_anchor(r: &OpRef<'_>) -> String {
    format!("op-{}", slug(r.op["operationId"].as_str().unwrap_or(r.path)))
}

fn schema_anchor(name: &str) -> String {
    format!("schema-{}", slug(name))
}

fn slug(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect()
}

/// HTML-escapes text (element content and attribute values): the payment page's escaping.
pub(crate) use crate::page::escape as esc;

/// The little Markdown the descriptions use: paragraphs, `- ` lists, `code` and **bold**.
fn md(text: &str) -> String {
    let mut out = String::new();
    for block in text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        let lines: Vec<&str> = block.lines().map(str::trim).collect();
        if lines.iter().all(|l| l.starts_with("- ")) {
            out.push_str("<ul>");
            for line in lines {
                let _ = write!(out, "<li>{}</li>", inline(&line[2..]));
            }
            out.push_str("</ul>\n");
        } else {
            let _ = writeln!(out, "<p>{}</p>", inline(&lines.join(" ")));
        }
    }
    out
}

/// Escapes, then turns `code` and **bold** into elements (bold may contain code).
fn inline(text: &str) -> String {
    let escaped = esc(text);
    let mut out = String::with_capacity(escaped.len() + 32);
    let (mut code, mut bold) = (false, false);
    let mut rest = escaped.as_str();
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = &rest[1..];
        } else if !code && rest.starts_with("**") {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = &rest[2..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_escaped_first() {
        assert_eq!(inline("a `<b>` **c** <d>"), "a <code>&lt;b&gt;</code> <strong>c</strong> &lt;d&gt;");
        assert_eq!(inline("**`/api` x.** `a**b`"), "<strong><code>/api</code> x.</strong> <code>a**b</code>");
        assert_eq!(inline("open `x"), "open <code>x</code>");
        assert_eq!(md("one\ntwo\n\n- x\n- `y`"), "<p>one two</p>\n<ul><li>x</li><li><code>y</code></li></ul>\n");
    }

    #[test]
    fn the_page_names_every_path_and_schema() {
        let doc = super::super::document();
        let html = render(doc, super::super::operation_order());
        for path in doc["paths"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("<code class=\"path\">{}</code>", esc(path))), "{path} missing");
        }
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("id=\"schema-{}\"", slug(name))), "{name} missing");
        }
        assert!(!html.contains("<script"), "the page has no scripts");
    }
}
