//! The OpenAPI 3.1 description of everything the gateway serves, at `/openapi.json`, and the
//! human-readable reference rendered from it, at `/docs`.
//!
//! Response schemas are derived (`utoipa::ToSchema`) from the types the handlers serialize
//! (`wire.rs`, `services/`); request schemas from the types the handlers read their bodies into
//! (through `wire::lenient`), except those still read by hand, which [`requests`] describes; the
//! few answers built with `json!` in [`responses`]. The operations are listed
//! in `paths.rs`. `tests/openapi.rs` holds the description to the running gateway: every route
//! of the real router is described (method by method), every described path is served, and the
//! documented fields are those of real answers.

mod builder;
pub mod page;
mod paths;
pub mod requests;
pub mod responses;

use std::sync::OnceLock;

use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use epay_domain::Scope;
use serde_json::{json, Value};

use crate::app::AppState;

/// The OAuth2 security scheme (bearer tokens from `/oauth2/token`).
pub const OAUTH2: &str = "oauth2";
/// The `Access` query token of `/payments/cards/confirmPayment`.
pub const ACCESS_QUERY: &str = "accessQuery";
/// The merchant cabinet's session cookie.
pub const CABINET_SESSION: &str = "cabinetSession";

/// Tags, in the order the reference shows them, with their descriptions.
pub const TAGS: &[(&str, &str)] = &[
    ("OAuth2", "Client-credentials tokens (facts §2). Every other API call carries one as `Authorization: Bearer …`."),
    ("Payments", "Card payments by RSA cryptogram and by saved card (facts §5, §6, seed 003)."),
    (
        "3-D Secure",
        "A payment or transfer on a 3-D Secure terminal with an enrolled card answers `status: \"3D\"` with \
         `secure3D`; the merchant's page posts it to the (simulated) ACS, the ACS posts `PaRes` and `MD` to the \
         merchant's TermUrl, and the merchant confirms (facts §7, seed 003).",
    ),
    ("Status", "The transaction of an invoice (facts §8)."),
    ("Operations", "Charge, cancel and refund of a card payment (facts §9). Need a service token, or a token issued for the payment's invoice after it was paid."),
    ("Saved cards", "The customer's saved cards and deactivation (facts §10). Need a service token."),
    ("Transfers", "P2P, AFT and OCT card transfers (facts §12, seeds 000, 001)."),
    ("Callback log", "The postLink callbacks of a transaction, and re-sending one. Need a service token."),
    (
        "Invoice links",
        "Bill a customer by a link to the payment page (facts §14): create, list, read, cancel, and the link \
         itself. The password grant's token or a service token.",
    ),
    (
        "Payment page",
        "ePay's hosted payment page: the merchant's page loads `payment-api.js` and calls `halyk.pay(paymentObject)`, \
         which opens `/payform/?params=…` (facts §4).",
    ),
    ("Demo shop", "A sandbox shop that pays through the payment page (sandbox mode only)."),
    (
        "Cabinet",
        "The merchant cabinet: server-rendered HTML pages for people (docs/cabinet.md), not an API. Every page \
         but sign-in needs the session cookie; without it the answer is `303` to `/cabinet/login`. Every form \
         that changes something carries the session's `csrf` token, and operations ask for confirmation first \
         (`confirmed=yes`).",
    ),
    ("Sandbox", "Moves the gateway clock (sandbox mode only)."),
    (
        "Subscriptions",
        "Recurrent payments: subscribe a payment whose saved card has a recurrent agreement (facts §10.4); \
         list, read, pause, resume and cancel subscriptions. Need the merchant's service token.",
    ),
    ("Operability", "Liveness, readiness and Prometheus metrics."),
    ("Reference", "This description and the page rendered from it."),
];

const DESCRIPTION: &str = r#"
A self-hosted gateway that speaks Halyk Bank's **ePay** API on the wire, with a card network
simulator. Field names are ePay's, including its inconsistent casing (`invoiceId` in requests,
`invoiceID` in answers).

**`/api` prefix.** Every ePay API path (token, key, payments, confirm, status, operations, saved
cards, transfers, callback log) also answers under `/api` (`/api/payment/cryptopay`), as ePay's
older test host does: those paths list two servers, `/` and `/api`. The pages, health, metrics,
the sandbox clock and this description are served at the root only.

**Requests.** Bodies are JSON unless stated (the token endpoint also takes forms, the confirm
endpoints forms or JSON, the pages forms). Field names are case-insensitive (`invoiceID`,
`invoiceId` and `InvoiceID` are one field), unknown fields are ignored, and a string field may be
sent as a JSON number. Amounts are major units (tenge), a number or a numeric string with at most
2 decimals, at most 1 000 000 000. Currencies: `KZT`, `USD`, `EUR`, `RUB`. Invoice ids: 6 to 15
digits; transfer order ids 6 to 16. Dates are `YYYY-MM-DDTHH:MM:SS.ffffff+05:00`.

**Tokens.** A **payment token** is requested with scope `payment` and `invoiceID`, `amount`,
`terminal`: it pays that invoice once. A **transfer token** has scope `transfer`. A **service
token** is requested without `invoiceID` (scope with `webapi` or `payment`, e.g.
`webapi usermanagement email_send verification statement statistics payment`): it reads status,
runs operations, lists saved cards and callbacks, and is reusable until it expires.

**Errors.** Each surface answers in ePay's shape for it: the token endpoint RFC 6749
(`OAuthErrorBody`); payments, confirm, saved cards, callback log and the sandbox
`{"code":-1,"message":…}` (`ErrorBody`; a decline carries its reason code and the transaction
`id`); operations `{"code":100,"message":…}`; status `{"resultCode":"103",…}`; transfers seed
001's `TransferErrorBody`. An unknown path is `404 {"code":-1,"message":"no such endpoint"}`, a
known path with another method `405`, and a panic `500 {"code":-1,"message":"internal error"}`.
A body over the configured cap is `413` and a request not completed in time `408`, both
`{"code":-1,…}`; too many failed attempts (secret guessing, card testing) are `429` with
`Retry-After`.

**Idempotency.** Every API `POST` except the token endpoint takes an optional `Idempotency-Key`
header. Every answer carries an `X-Request-Id` header (the caller's, when it sends a sane one).
"#;

/// The whole document, built once.
pub fn document() -> &'static Value {
    &built().0
}

/// operationIds in the order `paths.rs` describes them.
pub fn operation_order() -> &'static [String] {
    &built().1
}

fn built() -> &'static (Value, Vec<String>) {
    static BUILT: OnceLock<(Value, Vec<String>)> = OnceLock::new();
    BUILT.get_or_init(build)
}

/// What each scope word grants, as the OAuth flow's `scopes` lists it.
fn scope_description(scope: Scope) -> &'static str {
    match scope {
        Scope::Payment => "payments (with invoiceID: a payment token; without: a service token)",
        Scope::Transfer => "transfers",
        Scope::Webapi => "service calls (status, operations, saved cards, callback log)",
        Scope::UserManagement | Scope::EmailSend | Scope::Verification | Scope::Statement | Scope::Statistics => {
            "accepted (part of ePay's service scope)"
        }
        Scope::Api => "accepted",
    }
}

fn build() -> (Value, Vec<String>) {
    let mut b = builder::Builder::default();
    paths::describe(&mut b);
    let api_servers = json!([
        {"url": "/", "description": "the gateway (newer ePay hosts)"},
        {"url": "/api", "description": "the same API under /api (ePay's older test host)"},
    ]);
    for path in &b.api_paths {
        b.paths[path.as_str()]["servers"] = api_servers.clone();
    }
    let tags: Vec<Value> = TAGS.iter().map(|(name, text)| json!({"name": name, "description": text})).collect();
    let scopes: serde_json::Map<String, Value> =
        Scope::ALL.iter().map(|scope| (scope.to_string(), json!(scope_description(*scope)))).collect();
    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "epay — Halyk ePay-compatible payment gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION.trim(),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "this gateway"}],
        "tags": tags,
        "paths": b.paths,
        "components": {
            "schemas": b.schemas,
            "securitySchemes": {
                OAUTH2: {
                    "type": "oauth2",
                    "description": "OAuth2 client credentials. `POST /oauth2/token` with `grant_type=client_credentials`, \
                        `client_id`, `client_secret`, `scope` (space-separated words) and, for a payment or transfer \
                        token, `invoiceID`, `amount`, `currency`, `terminal`; send the `access_token` as \
                        `Authorization: Bearer <token>` (the scheme is case-insensitive). The scopes an operation \
                        lists are alternatives.",
                    "flows": {"clientCredentials": {"tokenUrl": "/oauth2/token", "scopes": scopes}},
                },
                CABINET_SESSION: {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "epay_cabinet",
                    "description": "The cabinet's session cookie, set by `POST /cabinet/login` (HttpOnly, SameSite=Strict).",
                },
                ACCESS_QUERY: {
                    "type": "apiKey",
                    "in": "query",
                    "name": "Access",
                    "description": "The token the payment was started with, in the query (`access` works too): \
                        the TermUrl of Halyk's SDK.",
                },
            },
        },
    });
    (document, b.order)
}

/// The document as served, pretty-printed.
pub fn json_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| serde_json::to_string_pretty(document()).expect("the document serializes"))
}

/// `/openapi.json`, `/docs` and the page's stylesheet.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
        .route(page::CSS_PATH, get(docs_css))
}

async fn openapi_json() -> Response {
    let mut response = json_text().into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Tools (editors, code generators) on other origins may fetch it.
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// No scripts at all; only our stylesheet.
const DOCS_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

async fn docs() -> Response {
    // The document never changes while the gateway runs, so neither does the page.
    static HTML: OnceLock<Result<String, String>> = OnceLock::new();
    match HTML.get_or_init(|| page::render(document(), operation_order()).map_err(|e| e.to_string())) {
        Ok(html) => crate::edge::page::html_with(StatusCode::OK, html.clone(), DOCS_CSP),
        Err(error) => {
            tracing::error!(%error, "the reference page does not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

async fn docs_css() -> Response {
    let mut response = page::CSS.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operations, security schemes and info have the shapes of OpenAPI objects: utoipa's own
    /// model reads them. (The schemas are utoipa's own output; its model cannot read back the
    /// "any value" schema `{}` it writes, so they are checked by the next test instead.)
    #[test]
    fn document_is_an_openapi_object() {
        use utoipa::openapi::{path::PathItem, security::SecurityScheme, Info, Tag};
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        serde_json::from_value::<Info>(doc["info"].clone()).expect("info");
        serde_json::from_value::<Vec<Tag>>(doc["tags"].clone()).expect("tags");
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with('/'), "{path}");
            serde_json::from_value::<PathItem>(item.clone()).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
        for (name, scheme) in doc["components"]["securitySchemes"].as_object().unwrap() {
            serde_json::from_value::<SecurityScheme>(scheme.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// The callback log's description names every kind and delivery status an event can have.
    #[test]
    fn the_callback_log_names_every_kind_and_status() {
        let about = document()["paths"]["/callbacks/{transactionId}"]["get"]["description"].as_str().unwrap();
        for kind in epay_domain::CallbackKind::ALL {
            assert!(about.contains(&format!("`{kind}`")), "{kind} is not described: {about}");
        }
        for status in epay_domain::DeliveryStatus::ALL {
            assert!(about.contains(&format!("`{status}`")), "{status} is not described: {about}");
        }
    }

    /// Every `$ref` points at a schema that is in the document, and every operation id is unique.
    #[test]
    fn references_resolve_and_ids_are_unique() {
        fn walk(v: &Value, refs: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        refs.push(r.clone());
                    }
                    map.values().for_each(|v| walk(v, refs));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
                _ => {}
            }
        }
        let doc = document();
        let mut refs = Vec::new();
        walk(doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
            assert!(doc["components"]["schemas"].get(name).is_some(), "{r} does not resolve");
        }
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "servers" {
                    continue;
                }
                let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: no responses");
                let tag = op["tags"][0].as_str().unwrap();
                assert!(TAGS.iter().any(|(t, _)| *t == tag), "{method} {path}: unknown tag {tag}");
            }
        }
    }
}
