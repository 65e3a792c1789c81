//! A small builder for the OpenAPI document: operations are written as compact calls
//! (`paths.rs`), schemas come from the types' `utoipa::ToSchema` implementations and are
//! collected, with everything they refer to, into `components.schemas`.

use std::collections::BTreeMap;

use epay_domain::Scope;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// Who may call an operation, as OpenAPI security requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A payment token: scope `payment`, issued with `invoiceID`, `amount`, `terminal`.
    Payment,
    /// A payment or a transfer token (the confirm endpoints; `/payments/cards/auth`).
    PaymentOrTransfer,
    /// A transfer token: scope `transfer`.
    Transfer,
    /// A service token: issued without `invoiceID`, scope with `webapi` or `payment`.
    Service,
    /// Any unexpired token of the merchant that names a terminal.
    AnyToken,
    /// The payment's token in the `Access` query parameter.
    AccessQuery,
    /// A signed-in cabinet user: the session cookie (and the session's CSRF token in forms).
    CabinetSession,
}

impl Auth {
    fn requirements(self) -> Value {
        let oauth = |scopes: &[Scope]| json!({ super::OAUTH2: scopes });
        match self {
            Auth::Payment => json!([oauth(&[Scope::Payment])]),
            Auth::PaymentOrTransfer => json!([oauth(&[Scope::Payment]), oauth(&[Scope::Transfer])]),
            Auth::Transfer => json!([oauth(&[Scope::Transfer])]),
            Auth::Service => json!([oauth(&[Scope::Webapi]), oauth(&[Scope::Payment])]),
            Auth::AnyToken => json!([oauth(&[])]),
            Auth::AccessQuery => json!([{ super::ACCESS_QUERY: [] }]),
            Auth::CabinetSession => json!([{ super::CABINET_SESSION: [] }]),
        }
    }
}

/// The document under construction.
#[derive(Default)]
pub struct Builder {
    pub paths: Map<String, Value>,
    pub schemas: BTreeMap<String, Value>,
    /// Paths that also answer under `/api`.
    pub api_paths: Vec<String>,
    /// operationIds in the order they were described (the reference page shows them so).
    pub order: Vec<String>,
}

impl Builder {
    /// A `$ref` to `T`'s schema, registering it and every schema it refers to.
    pub fn schema<T: ToSchema>(&mut self) -> Value {
        let mut found = Vec::new();
        T::schemas(&mut found);
        found.push((T::name().into_owned(), T::schema()));
        for (name, schema) in found {
            let value = serde_json::to_value(schema).expect("a schema serializes");
            self.schemas.entry(name).or_insert(value);
        }
        json!({ "$ref": format!("#/components/schemas/{}", T::name()) })
    }

    /// A `$ref` to a schema composed of others (`allOf` the real types a handler reads one body
    /// into, `oneOf` the bodies a path takes), registered under `name`.
    pub fn composed(&mut self, name: &str, description: &str, schema: Value) -> Value {
        let mut schema = schema;
        schema["description"] = json!(description);
        self.schemas.insert(name.to_string(), schema);
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// An ePay API operation: served at `path` and under `/api`, with the optional
    /// `Idempotency-Key` on a POST (except the token endpoint).
    pub fn api(&mut self, methods: &[&'static str], path: &'static str, tag: &str, id: &str, summary: &str) -> Op<'_> {
        if !self.api_paths.iter().any(|p| p == path) {
            self.api_paths.push(path.to_string());
        }
        let mut op = self.page(methods, path, tag, id, summary);
        if methods.contains(&"post") && !path.ends_with("/oauth2/token") {
            op.parameters.push(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": "1–255 visible ASCII characters. The same key with the same request (method, path and \
                                query, body) replays the stored answer with `Idempotent-Replayed: true`; with \
                                another request it is `422`, while the first one runs `409`. Scoped to the \
                                merchant and the token's binding; only answers of requests that wrote a payment, \
                                transfer or operation are stored (with it, in one transaction), for 24 hours.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }));
        }
        op
    }

    /// Any other operation (pages, health, sandbox): not under `/api`.
    pub fn page(&mut self, methods: &[&'static str], path: &'static str, tag: &str, id: &str, summary: &str) -> Op<'_> {
        Op {
            builder: self,
            methods: methods.to_vec(),
            path,
            id: id.to_string(),
            operation: {
                let mut o = Map::new();
                o.insert("tags".into(), json!([tag]));
                o.insert("summary".into(), json!(summary));
                o
            },
            parameters: Vec::new(),
            responses: Map::new(),
        }
    }

    /// `alias` is served by the same handler as `of`: the same operations under new ids.
    pub fn alias(&mut self, alias: &'static str, of: &str, id_suffix: &str) {
        let mut item = self.paths.get(of).cloned().unwrap_or_else(|| panic!("alias of an undocumented path {of}"));
        for (_, operation) in item.as_object_mut().expect("a path item").iter_mut() {
            let Some(operation) = operation.as_object_mut() else { continue };
            if let Some(Value::String(id)) = operation.get_mut("operationId") {
                id.push_str(id_suffix);
                self.order.push(id.clone());
            }
            let description = operation.get("description").and_then(Value::as_str).unwrap_or("");
            let text = format!("Same as `{of}` (the same handler).\n\n{description}");
            operation.insert("description".into(), json!(text.trim_end()));
        }
        self.paths.insert(alias.to_string(), item);
        if self.api_paths.iter().any(|p| p == of) {
            self.api_paths.push(alias.to_string());
        }
    }
}

/// One operation (or the same operation under several methods) being described.
pub struct Op<'b> {
    builder: &'b mut Builder,
    methods: Vec<&'static str>,
    path: &'static str,
    id: String,
    operation: Map<String, Value>,
    parameters: Vec<Value>,
    responses: Map<String, Value>,
}

impl Op<'_> {
    /// The operation's description (CommonMark).
    pub fn about(mut self, text: &str) -> Self {
        self.operation.insert("description".into(), json!(text.trim()));
        self
    }

    pub fn auth(mut self, auth: Auth) -> Self {
        self.operation.insert("security".into(), auth.requirements());
        self
    }

    pub fn path_param(mut self, name: &str, description: &str, example: &str) -> Self {
        let mut parameter = json!({
            "name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"},
        });
        if !example.is_empty() {
            parameter["example"] = json!(example);
        }
        self.parameters.push(parameter);
        self
    }

    pub fn query(mut self, name: &str, required: bool, description: &str, schema: Value) -> Self {
        self.parameters.push(json!({
            "name": name, "in": "query", "required": required, "description": description, "schema": schema,
        }));
        self
    }

    /// A request body of type `T` in each of `content_types`, with one example.
    pub fn body<T: ToSchema>(self, content_types: &[&str], description: &str, example: Value) -> Self {
        let schema = self.builder.schema::<T>();
        self.body_schema(schema, content_types, description, example)
    }

    /// A request body of the given schema in each of `content_types`, with one example.
    pub fn body_schema(mut self, schema: Value, content_types: &[&str], description: &str, example: Value) -> Self {
        let content: Map<String, Value> = content_types
            .iter()
            .map(|ct| {
                let mut media = json!({ "schema": schema });
                // Examples are JSON; a form carries the same fields.
                if !example.is_null() {
                    media["example"] = example.clone();
                }
                (ct.to_string(), media)
            })
            .collect();
        self.operation
            .insert("requestBody".into(), json!({ "required": true, "description": description, "content": content }));
        self
    }

    /// A JSON answer of type `T`, with named examples.
    pub fn json<T: ToSchema>(self, status: u16, description: &str, examples: &[(&str, Value)]) -> Self {
        let schema = self.builder.schema::<T>();
        self.json_schema(status, description, schema, examples)
    }

    /// A JSON array of `T`.
    pub fn json_array<T: ToSchema>(self, status: u16, description: &str, examples: &[(&str, Value)]) -> Self {
        let item = self.builder.schema::<T>();
        self.json_schema(status, description, json!({"type": "array", "items": item}), examples)
    }

    fn json_schema(mut self, status: u16, description: &str, schema: Value, examples: &[(&str, Value)]) -> Self {
        let mut media = json!({ "schema": schema });
        if !examples.is_empty() {
            let named: Map<String, Value> =
                examples.iter().map(|(name, value)| (name.to_string(), json!({ "value": value }))).collect();
            media["examples"] = Value::Object(named);
        }
        self.responses.insert(
            status.to_string(),
            json!({ "description": description, "content": { "application/json": media } }),
        );
        self
    }

    /// A text answer (HTML, PEM, JavaScript, Prometheus text…).
    pub fn text(mut self, status: u16, content_type: &str, description: &str, example: Option<&str>) -> Self {
        // A JSON document (this description itself) is an object, not a string.
        let kind = if content_type == "application/json" { "object" } else { "string" };
        let mut media = json!({ "schema": {"type": kind} });
        if let Some(example) = example {
            media["example"] = json!(example);
        }
        self.responses
            .insert(status.to_string(), json!({ "description": description, "content": { content_type: media } }));
        self
    }

    /// A redirect (`Location`), no body.
    pub fn redirect(mut self, status: u16, description: &str) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({ "description": description, "headers": {
                "Location": { "description": "Where to go.", "schema": {"type": "string"} } } }),
        );
        self
    }

    /// Adds a response header to an already described status.
    pub fn header(mut self, status: u16, name: &str, description: &str) -> Self {
        if let Some(response) = self.responses.get_mut(&status.to_string()) {
            response["headers"][name] = json!({ "description": description, "schema": {"type": "string"} });
        }
        self
    }

    /// A cabinet page: HTML, or the redirect to sign in. Fills path parameters from the path.
    pub fn done_html(mut self) {
        let names: Vec<String> = self
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect();
        for name in names {
            let description = if name == "action" { "`charge`, `cancel`, `refund` or `resend`." } else { "An id." };
            self = self.path_param(&name, description, "");
        }
        self.text(200, "text/html; charset=utf-8", "The page.", None)
            .redirect(303, "After a change, or to sign in when there is no session.")
            .text(400, "text/html; charset=utf-8", "Bad input or a missing CSRF token: a page saying why.", None)
            .done()
    }

    pub fn done(mut self) {
        self.operation.insert("responses".into(), Value::Object(self.responses));
        let item = self.builder.paths.entry(self.path.to_string()).or_insert_with(|| json!({}));
        let several = self.methods.len() > 1;
        for method in &self.methods {
            let mut operation = self.operation.clone();
            // The Idempotency-Key layer looks at POSTs only.
            let parameters: Vec<&Value> =
                self.parameters.iter().filter(|p| *method == "post" || p["name"] != "Idempotency-Key").collect();
            if !parameters.is_empty() {
                operation.insert("parameters".into(), json!(parameters));
            }
            // operationIds are unique in a document: one operation per method.
            let id = if several { format!("{}{}", self.id, capitalized(method)) } else { self.id.clone() };
            operation.insert("operationId".into(), json!(id));
            self.builder.order.push(id);
            assert!(item.get(*method).is_none(), "{} {} is described twice", method, self.path);
            item[*method] = Value::Object(operation);
        }
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}
