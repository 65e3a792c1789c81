//! The reference page as plain data, read from the OpenAPI document: every string here is text
//! (the template escapes it) except the [`TrustedHtml`] of rendered markdown descriptions.

use serde_json::{Map, Value};

use crate::edge::html::{markdown, TrustedHtml};

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// One security scheme of the Authentication section.
pub struct SchemeView {
    pub name: String,
    pub kind: SchemeKind,
    pub description: TrustedHtml,
    /// OAuth2 scopes and what each means.
    pub scopes: Vec<(String, String)>,
}

pub enum SchemeKind {
    OAuth2 { token_url: String },
    ApiKey { location: String, name: String },
    Other(String),
}

/// A tag: a section of operations.
pub struct TagView {
    pub name: String,
    pub anchor: String,
    pub description: TrustedHtml,
    pub operations: Vec<OperationView>,
}

pub struct OperationView {
    pub anchor: String,
    /// Lower case, as in the document: also the CSS class of the method badge.
    pub method: &'static str,
    pub method_label: String,
    pub path: String,
    pub summary: String,
    /// The full paths it answers at, when the path item lists servers (`/x` and `/api/x`).
    pub served_at: Vec<String>,
    /// `None`: no authentication; else the alternatives, any one of which will do.
    pub auth: Option<Vec<AuthOption>>,
    pub description: TrustedHtml,
    pub parameters: Vec<ParameterView>,
    pub body: Option<BodyView>,
    pub responses: Vec<ResponseView>,
}

pub struct AuthOption {
    pub scheme: String,
    /// The scopes, space-separated, when the operation names any.
    pub scopes: Option<String>,
}

pub struct ParameterView {
    pub name: String,
    pub location: String,
    pub ty: TypeView,
    pub required: bool,
    pub description: TrustedHtml,
}

pub struct BodyView {
    pub content_types: Vec<String>,
    pub description: TrustedHtml,
    pub schema: Option<SchemaView>,
    pub example: Option<ExampleView>,
}

pub struct ResponseView {
    pub status: String,
    /// The CSS class of the status: `ok`, `client` or `server`.
    pub class: &'static str,
    pub description: TrustedHtml,
    pub headers: Vec<(String, TrustedHtml)>,
    pub contents: Vec<ContentView>,
}

pub struct ContentView {
    pub content_type: String,
    pub schema: Option<SchemaView>,
    pub examples: Vec<ExampleView>,
}

/// A schema where it is used: its type (with links) and the fields of the object it names.
pub struct SchemaView {
    pub ty: TypeView,
    pub fields: Vec<FieldView>,
    /// For a `oneOf`: each variant's name and fields (then `fields` is empty).
    pub variants: Vec<(String, Vec<FieldView>)>,
}

pub struct FieldView {
    pub name: String,
    pub ty: TypeView,
    pub required: bool,
    pub description: TrustedHtml,
}

pub struct ExampleView {
    pub title: String,
    pub text: String,
}

/// A component schema in the Schemas section.
pub struct SchemaDefView {
    pub name: String,
    pub anchor: String,
    pub description: TrustedHtml,
    pub body: SchemaDefBody,
}

pub enum SchemaDefBody {
    /// An object: its fields (possibly none).
    Fields(Vec<FieldView>),
    /// Anything else: its type.
    Type(TypeView),
}

/// A short type, `string`, `Amount`, `array of X`, `X | null`, `one of A, B`, as a run of
/// pieces the template writes one after another.
pub type TypeView = Vec<TypePart>;

pub enum TypePart {
    Text(String),
    /// A component schema, linked to its definition.
    Schema {
        name: String,
        anchor: String,
    },
    /// An enum value.
    Code(String),
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or("").to_string()
}

/// The page's title, version, OpenAPI version and description.
pub struct Info {
    pub title: String,
    pub brand: String,
    pub version: String,
    pub openapi: String,
    pub description: TrustedHtml,
}

pub fn info(doc: &Value) -> Info {
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    Info {
        title: title.to_string(),
        brand: title.split(" — ").next().unwrap_or("API").to_string(),
        version: text(&doc["info"]["version"]),
        openapi: text(&doc["openapi"]),
        description: markdown::block(doc["info"]["description"].as_str().unwrap_or("")),
    }
}

pub fn security_schemes(doc: &Value) -> Vec<SchemeView> {
    let schemes = doc["components"]["securitySchemes"].as_object().into_iter().flatten();
    schemes
        .map(|(name, scheme)| {
            let flow = &scheme["flows"]["clientCredentials"];
            let kind = match scheme["type"].as_str() {
                Some("oauth2") => SchemeKind::OAuth2 { token_url: text(&flow["tokenUrl"]) },
                Some("apiKey") => SchemeKind::ApiKey { location: text(&scheme["in"]), name: text(&scheme["name"]) },
                other => SchemeKind::Other(other.unwrap_or("").to_string()),
            };
            let scopes = flow["scopes"].as_object().into_iter().flatten();
            SchemeView {
                name: name.clone(),
                kind,
                description: markdown::block(scheme["description"].as_str().unwrap_or("")),
                scopes: scopes.map(|(scope, meaning)| (scope.clone(), text(meaning))).collect(),
            }
        })
        .collect()
}

/// The document's tags in its order (a tag no operation uses is left out, an operation's tag
/// the document does not list comes after), each with its operations in `order`.
pub fn tags(doc: &Value, order: &[String]) -> Vec<TagView> {
    let tag = |name: String, description: &str| TagView {
        anchor: format!("tag-{}", slug(&name)),
        name,
        description: markdown::block(description),
        operations: vec![],
    };
    let listed = doc["tags"].as_array().into_iter().flatten();
    let mut tags: Vec<TagView> =
        listed.map(|t| tag(text(&t["name"]), t["description"].as_str().unwrap_or(""))).collect();
    // Every operation with its rank in `order` and its tag's index.
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = item.get(*method) else { continue };
            let name = op["tags"][0].as_str().unwrap_or("Other");
            let index = tags.iter().position(|t| t.name == name).unwrap_or_else(|| {
                tags.push(tag(name.to_string(), ""));
                tags.len() - 1
            });
            let id = op["operationId"].as_str().unwrap_or("");
            let rank = order.iter().position(|o| o == id).unwrap_or(usize::MAX);
            operations.push((rank, index, operation(doc, path, method, op, item.get("servers"))));
        }
    }
    operations.sort_by_key(|(rank, _, _)| *rank);
    for (_, index, operation) in operations {
        tags[index].operations.push(operation);
    }
    tags.retain(|t| !t.operations.is_empty());
    tags
}

fn operation(doc: &Value, path: &str, method: &'static str, op: &Value, servers: Option<&Value>) -> OperationView {
    let served_at = servers
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s["url"].as_str())
        .map(|base| format!("{}{path}", base.trim_end_matches('/')))
        .collect();
    let parameters = op["parameters"].as_array().into_iter().flatten();
    let parameters = parameters
        .map(|p| ParameterView {
            name: text(&p["name"]),
            location: text(&p["in"]),
            ty: type_of(&p["schema"]),
            required: p["required"].as_bool() == Some(true),
            description: markdown::inline(p["description"].as_str().unwrap_or("")),
        })
        .collect();
    let body = op.get("requestBody").map(|body| {
        let content = body["content"].as_object();
        let first = content.and_then(|c| c.values().next());
        BodyView {
            content_types: content.into_iter().flatten().map(|(ct, _)| ct.clone()).collect(),
            description: markdown::block(body["description"].as_str().unwrap_or("")),
            schema: first.and_then(|media| schema(doc, &media["schema"])),
            example: first.and_then(|media| media.get("example")).map(|e| example("Example".into(), e)),
        }
    });
    let responses = op["responses"].as_object().into_iter().flatten();
    OperationView {
        anchor: format!("op-{}", slug(op["operationId"].as_str().unwrap_or(path))),
        method,
        method_label: method.to_ascii_uppercase(),
        path: path.to_string(),
        summary: text(&op["summary"]),
        served_at,
        auth: auth(op),
        description: markdown::block(op["description"].as_str().unwrap_or("")),
        parameters,
        body,
        responses: responses.map(|(status, response)| self::response(doc, status, response)).collect(),
    }
}

fn auth(op: &Value) -> Option<Vec<AuthOption>> {
    let requirements = op["security"].as_array()?;
    let options = requirements.iter().filter_map(Value::as_object).flat_map(|r| r.iter());
    let options = options.map(|(scheme, scopes)| {
        let scopes: Vec<&str> = scopes.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        AuthOption { scheme: scheme.clone(), scopes: (!scopes.is_empty()).then(|| scopes.join(" ")) }
    });
    Some(options.collect())
}

fn response(doc: &Value, status: &str, response: &Value) -> ResponseView {
    let class = match status.chars().next() {
        Some('2') => "ok",
        Some('4') => "client",
        _ => "server",
    };
    let headers = response["headers"].as_object().into_iter().flatten();
    let contents = response["content"].as_object().into_iter().flatten();
    let contents = contents.map(|(content_type, media)| {
        let mut examples: Vec<ExampleView> =
            media.get("example").map(|e| example("Example".into(), e)).into_iter().collect();
        for (name, e) in media["examples"].as_object().into_iter().flatten() {
            examples.push(example(format!("Example: {name}"), &e["value"]));
        }
        ContentView {
            content_type: content_type.clone(),
            schema: if content_type.contains("json") { schema(doc, &media["schema"]) } else { None },
            examples,
        }
    });
    ResponseView {
        status: status.to_string(),
        class,
        description: markdown::inline(response["description"].as_str().unwrap_or("")),
        headers: headers
            .map(|(name, h)| (name.clone(), markdown::inline(h["description"].as_str().unwrap_or(""))))
            .collect(),
        contents: contents.collect(),
    }
}

/// A schema: its type and, for objects (or arrays of them), the fields.
fn schema(doc: &Value, schema: &Value) -> Option<SchemaView> {
    if schema.is_null() {
        return None;
    }
    let target = match schema.get("items") {
        Some(items) if schema["type"] == "array" => items,
        _ => schema,
    };
    let resolved = resolve(target, doc);
    let (fields, variants) = match resolved.get("oneOf").and_then(Value::as_array) {
        Some(variants) => (
            vec![],
            variants
                .iter()
                .map(|v| (ref_name(v).unwrap_or("variant").to_string(), fields(doc, resolve(v, doc))))
                .collect(),
        ),
        None => (fields(doc, resolved), vec![]),
    };
    Some(SchemaView { ty: type_of(schema), fields, variants })
}

/// The fields of an object schema (`allOf` parts merged), in order.
fn fields(doc: &Value, schema: &Value) -> Vec<FieldView> {
    let mut rows = Vec::new();
    collect_fields(doc, schema, &mut rows, 0);
    rows
}

fn collect_fields(doc: &Value, schema: &Value, rows: &mut Vec<FieldView>, depth: usize) {
    if depth > 8 {
        return;
    }
    let schema = resolve(schema, doc);
    for part in schema["allOf"].as_array().into_iter().flatten() {
        collect_fields(doc, part, rows, depth + 1);
    }
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, field) in schema["properties"].as_object().into_iter().flatten() {
        rows.push(FieldView {
            name: name.clone(),
            ty: type_of(field),
            required: required.contains(&name.as_str()),
            description: markdown::inline(field_description(field)),
        });
    }
}

/// A field's own description (a `$ref` next to `null` carries it on its variant).
fn field_description(field: &Value) -> &str {
    if let Some(d) = field["description"].as_str() {
        return d;
    }
    let variants = field["oneOf"].as_array().into_iter().flatten();
    variants.into_iter().find_map(|part| part["description"].as_str()).unwrap_or("")
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

/// `string`, `Amount` (linked), `array of X`, `X | null`, `string | one of "A", "B"`.
pub fn type_of(schema: &Value) -> TypeView {
    let mut parts = Vec::new();
    push_type(schema, &mut parts);
    parts
}

fn push_type(schema: &Value, parts: &mut TypeView) {
    if let Some(name) = ref_name(schema) {
        parts.push(TypePart::Schema { name: name.to_string(), anchor: schema_anchor(name) });
        return;
    }
    if let Some(variants) = schema["oneOf"].as_array().or_else(|| schema["anyOf"].as_array()) {
        for (i, variant) in variants.iter().enumerate() {
            if i > 0 {
                parts.push(TypePart::Text(" | ".into()));
            }
            push_type(variant, parts);
        }
        return;
    }
    if schema.get("allOf").is_some() {
        parts.push(TypePart::Text("object".into()));
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let start = parts.len();
    for t in types {
        if parts.len() > start {
            parts.push(TypePart::Text(" | ".into()));
        }
        if t == "array" {
            parts.push(TypePart::Text("array of ".into()));
            push_type(&schema["items"], parts);
        } else {
            parts.push(TypePart::Text(t.to_string()));
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        if parts.len() > start {
            parts.push(TypePart::Text(" | ".into()));
        }
        parts.push(TypePart::Text("one of ".into()));
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                parts.push(TypePart::Text(", ".into()));
            }
            parts.push(TypePart::Code(value.to_string().replace('"', "")));
        }
    }
    if parts.len() == start {
        parts.push(TypePart::Text("any".into()));
    }
}

fn example(title: String, example: &Value) -> ExampleView {
    let text = match example {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    ExampleView { title, text }
}

pub fn schema_defs(doc: &Value) -> Vec<SchemaDefView> {
    let empty = Map::new();
    let schemas = doc["components"]["schemas"].as_object().unwrap_or(&empty);
    schemas
        .iter()
        .map(|(name, schema)| SchemaDefView {
            name: name.clone(),
            anchor: schema_anchor(name),
            description: markdown::block(schema["description"].as_str().unwrap_or("")),
            body: if schema.get("properties").is_some() || schema.get("allOf").is_some() {
                SchemaDefBody::Fields(fields(doc, schema))
            } else {
                SchemaDefBody::Type(type_of(schema))
            },
        })
        .collect()
}

fn schema_anchor(name: &str) -> String {
    format!("schema-{}", slug(name))
}

/// An id from a name: ASCII letters, digits, `-` and `_` kept, anything else `-`.
pub fn slug(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect()
}
