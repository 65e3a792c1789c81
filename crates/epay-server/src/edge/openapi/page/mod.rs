//! The API reference page at `/docs`, rendered on the server from the OpenAPI document: no
//! scripts, no external assets, only our stylesheet. Sections per tag; each operation with its
//! method, path, security, parameters, request body and responses as field tables, and examples.
//!
//! [`view`] reads the document into plain view structs; `templates/docs/` turns them into HTML
//! (askama, escaping every value); descriptions are markdown ([`crate::edge::html::markdown`]).

mod view;

use askama::Template;
use serde_json::Value;

// The enums the templates match on.
use view::{SchemaDefBody, SchemaDefView, SchemeKind, SchemeView, TagView, TypePart};

/// Where the page's stylesheet is served.
pub const CSS_PATH: &str = "/docs/docs.css";
pub const CSS: &str = include_str!("../../../../assets/docs.css");

/// The whole page (`templates/docs/page.html`).
#[derive(Template)]
#[template(path = "docs/page.html")]
struct DocsPage {
    css_path: &'static str,
    info: view::Info,
    schemes: Vec<SchemeView>,
    tags: Vec<TagView>,
    schemas: Vec<SchemaDefView>,
}

/// The page for `doc`, operations in each tag in the order of the operationIds in `order`.
pub fn render(doc: &Value, order: &[String]) -> askama::Result<String> {
    DocsPage {
        css_path: CSS_PATH,
        info: view::info(doc),
        schemes: view::security_schemes(doc),
        tags: view::tags(doc, order),
        schemas: view::schema_defs(doc),
    }
    .render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `text` as askama writes it into a page.
    fn escape(text: &str) -> String {
        askama::filters::escape(text, askama::filters::Html).unwrap().to_string()
    }

    #[test]
    fn the_page_names_every_path_and_schema() {
        let doc = super::super::document();
        let html = render(doc, super::super::operation_order()).unwrap();
        for path in doc["paths"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("<code class=\"path\">{}</code>", escape(path))), "{path} missing");
        }
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("id=\"schema-{}\"", view::slug(name))), "{name} missing");
        }
        assert!(!html.contains("<script"), "the page has no scripts");
        // Markdown descriptions are rendered, not escaped twice.
        assert!(html.contains("<strong><code>/api</code> prefix.</strong>"), "the description's markdown");
        assert!(!html.contains("&lt;strong&gt;") && !html.contains("&#60;strong&#62;"));
        // Types link to their schemas; enum values are code.
        assert!(html.contains("<a href=\"#schema-ErrorBody\">ErrorBody</a>"));
        assert!(html.contains("one of <code>"));
    }

    /// A hostile string in every place the document puts text (a summary, a parameter's name and
    /// description, a schema's name, field and description, an example, a tag, a response) is
    /// text on the page.
    #[test]
    fn text_from_the_document_is_escaped() {
        const XSS: &str = "<script>alert(1)</script>";
        let img = "<img src=x onerror=alert(1)>";
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": format!("T {XSS}"), "version": XSS, "description": format!("intro {img} [x](javascript:alert(1))")},
            "tags": [{"name": format!("Tag {XSS}"), "description": XSS}],
            "paths": {
                "/p/{id}": {
                    "servers": [{"url": format!("/{XSS}")}],
                    "post": {
                        "tags": [format!("Tag {XSS}")],
                        "operationId": format!("op{XSS}"),
                        "summary": format!("Summary {XSS}"),
                        "description": format!("Description {XSS}"),
                        "security": [{format!("s{XSS}"): [XSS]}],
                        "parameters": [{"name": format!("id{XSS}"), "in": "path", "required": true,
                            "description": format!("The id {XSS} {img}"), "schema": {"type": "string", "enum": [XSS]}}],
                        "requestBody": {"content": {"application/json": {
                            "schema": {"$ref": format!("#/components/schemas/Evil{XSS}")},
                            "example": {"field": XSS},
                        }}},
                        "responses": {"200": {
                            "description": format!("OK {XSS}"),
                            "headers": {format!("X-{XSS}"): {"description": XSS}},
                            "content": {"application/json": {
                                "schema": {"type": "array", "items": {"$ref": format!("#/components/schemas/Evil{XSS}")}},
                                "examples": {format!("named {XSS}"): {"value": XSS}},
                            }},
                        }},
                    },
                },
            },
            "components": {
                "schemas": {format!("Evil{XSS}"): {
                    "type": "object",
                    "description": format!("Schema {XSS}"),
                    "required": [format!("field{XSS}")],
                    "properties": {format!("field{XSS}"): {"type": "string", "description": XSS, "example": XSS}},
                }},
                "securitySchemes": {format!("s{XSS}"): {
                    "type": "oauth2", "description": XSS,
                    "flows": {"clientCredentials": {"tokenUrl": XSS, "scopes": {XSS: XSS}}},
                }},
            },
        });
        let html = render(&doc, &[]).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("javascript:alert(1)\""), "{html}");
        for shown in [
            "Summary &#60;script&#62;alert(1)&#60;/script&#62;",
            "id&#60;script&#62;alert(1)&#60;/script&#62;",
            "The id &lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;",
            ">Evil&#60;script&#62;alert(1)&#60;/script&#62;</h3>",
            "&#34;field&#34;: &#34;&#60;script&#62;alert(1)&#60;/script&#62;&#34;",
            "Example: named &#60;script&#62;",
        ] {
            assert!(html.contains(shown), "{shown} not on the page:\n{html}");
        }
        // Ids made from names are slugs.
        assert!(html.contains("id=\"schema-Evil-script-alert-1---script-\""), "{html}");
    }
}
