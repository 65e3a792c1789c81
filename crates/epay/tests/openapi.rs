//! The OpenAPI description (`/openapi.json`) and the reference page (`/docs`) against the real
//! gateway: every route of the real router is described, method by method (and `/api` paths as
//! the `/api` server of the root path); every described operation is served; the documented
//! answers are those the gateway really gives (keys, types, nested objects); the documented
//! request examples are accepted.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use serde_json::{json, Value};

const P2P: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";
const SECURE_TERMINAL: &str = "3d5ecc3d-0000-4000-8000-0000000000a1";
const ENROLLED: (&str, &str, &str) = ("4000000000003220", "1230", "123");
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn spec(gw: &Gateway) -> Value {
    let response = gw.http.get(format!("{}/openapi.json", gw.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let doc: Value = serde_json::from_str(&response.text().await.unwrap()).expect("/openapi.json is JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
    doc
}

/// The routes of the router the binary serves, read from its `Debug` output (axum has no other
/// way to list them). The built router is the one `epay serve` builds, in sandbox mode.
async fn router_paths() -> BTreeSet<String> {
    let dir = std::env::temp_dir().join(format!("epay-openapi-{}", uuid::Uuid::new_v4()));
    let config = epay_server::Config { data_dir: dir.clone(), ..Default::default() };
    assert_eq!(config.mode, epay_server::Mode::Sandbox);
    let app = epay_server::App::start(config).await.expect("the app starts");
    let router = epay_server::build_router(std::sync::Arc::new(app));
    let debug = format!("{router:?}");
    let _ = std::fs::remove_dir_all(&dir);
    // `Node { paths: {RouteId(3): "/payment/cryptopay", …} }`
    let mut paths = BTreeSet::new();
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at + "RouteId(".len()..];
        let Some(close) = rest.find("): \"") else { continue };
        if !rest[..close].chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let text = &rest[close + 4..];
        let end = text.find('"').expect("a closing quote");
        let path = &text[..end];
        if !path.contains("__private__axum") {
            paths.insert(path.to_string());
        }
    }
    // If axum's Debug output ever changes shape, say so instead of comparing nothing.
    assert!(
        paths.contains("/payment/cryptopay") && paths.contains("/api/payment/cryptopay") && paths.len() > 40,
        "could not read the routes from the router's Debug output: {paths:?}"
    );
    paths
}

/// `/cards/{account_id}` and `/cards/{accountId}` are the same route.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// A path with its parameters filled in.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("000000001");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

fn methods_of(item: &Value) -> BTreeSet<String> {
    METHODS.iter().filter(|m| item.get(**m).is_some()).map(|m| m.to_string()).collect()
}

fn has_api_server(item: &Value) -> bool {
    item["servers"].as_array().is_some_and(|s| s.iter().any(|s| s["url"] == "/api"))
}

/// The methods the running gateway routes for `path`: a method no route uses answers 405 with
/// the `Allow` header (HEAD, which axum adds to every GET, left out).
async fn allowed(gw: &Gateway, path: &str) -> BTreeSet<String> {
    let url = format!("{}{}", gw.url, concrete(path));
    let response = gw.http.request(reqwest::Method::PATCH, &url).send().await.unwrap();
    assert_eq!(response.status(), 405, "PATCH {path} should be 405");
    let allow = response.headers().get("allow").expect("a 405 has Allow").to_str().unwrap().to_ascii_lowercase();
    allow.split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty() && m != "head").collect()
}

#[tokio::test]
async fn every_route_is_described_and_every_description_is_served() {
    let gw = Gateway::start(Backend::Sqlite).await;
    let doc = spec(&gw).await;
    let paths = doc["paths"].as_object().unwrap();
    let by_shape: std::collections::BTreeMap<String, (&String, &Value)> =
        paths.iter().map(|(p, item)| (shape(p), (p, item))).collect();
    assert_eq!(by_shape.len(), paths.len(), "two described paths differ only in parameter names");

    let routes = router_paths().await;
    let mut missing = Vec::new();
    for route in &routes {
        let (described, api) = match route.strip_prefix("/api") {
            Some(rest) if rest.starts_with('/') => (shape(rest), true),
            _ => (shape(route), false),
        };
        let Some((path, item)) = by_shape.get(&described) else {
            missing.push(format!("{route}: not described"));
            continue;
        };
        if api && !has_api_server(item) {
            missing.push(format!("{route}: {path} does not list the /api server"));
        }
        let served = allowed(&gw, route).await;
        let documented = methods_of(item);
        if served != documented {
            missing.push(format!("{route}: serves {served:?}, described {documented:?}"));
        }
    }
    assert!(missing.is_empty(), "the router and /openapi.json disagree:\n{}", missing.join("\n"));

    // The other way: every described path (and its /api twin) is a route, and every operation
    // reaches a handler (not the 404 fallback, not 405).
    let shapes: BTreeSet<String> = routes.iter().map(|r| shape(r)).collect();
    for (path, item) in paths {
        assert!(shapes.contains(&shape(path)), "{path} is described but not routed");
        let mut urls = vec![concrete(path)];
        if has_api_server(item) {
            assert!(shapes.contains(&shape(&format!("/api{path}"))), "/api{path} is described but not routed");
            urls.push(format!("/api{}", concrete(path)));
        }
        for method in methods_of(item) {
            for url in &urls {
                let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
                let response = gw.http.request(m, format!("{}{url}", gw.url)).send().await.unwrap();
                let status = response.status().as_u16();
                let body = response.text().await.unwrap();
                assert_ne!(status, 405, "{method} {url}");
                assert!(!(status == 404 && body.contains("no such endpoint")), "{method} {url} is the 404 fallback");
            }
        }
    }
}

#[tokio::test]
async fn the_reference_page_is_served_without_scripts_and_names_every_path() {
    let gw = Gateway::start(Backend::Sqlite).await;
    let doc = spec(&gw).await;
    let response = gw.http.get(format!("{}/docs", gw.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe") && !csp.contains("script-src"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(!html.contains("<script"), "the reference runs no script");
    // Nothing is loaded from anywhere but our stylesheet.
    assert!(!html.contains(" src=") && !html.contains("@import") && !html.contains("<iframe"));
    assert_eq!(html.matches("<link").count(), 1);
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/docs/docs.css\">"));
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(html.contains(&format!("<code class=\"path\">{path}</code>")), "/docs does not show {path}");
        for method in methods_of(item) {
            let id = item[method.as_str()]["operationId"].as_str().unwrap();
            assert!(html.contains(&format!("id=\"op-{id}\"")), "/docs has no section for {method} {path}");
        }
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(html.contains(&format!("id=\"schema-{name}\"")), "/docs does not show schema {name}");
    }
    let css = gw.http.get(format!("{}/docs/docs.css", gw.url)).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    // The demo shop links here.
    let shop = gw.http.get(format!("{}/", gw.url)).send().await.unwrap().text().await.unwrap();
    assert!(shop.contains("href=\"/docs\""));
}

// ---------------------------------------------------------------------------------------------
// Documented answers against real ones.

/// The documented JSON schema of `method path` at `status`.
fn documented<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]["schema"];
    assert!(!schema.is_null(), "{method} {path} documents no JSON answer for {status}");
    schema
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").expect("a local schema");
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "{r} does not resolve");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// Properties and required names of an object schema, `allOf` parts merged.
fn object_parts<'a>(doc: &'a Value, schema: &'a Value) -> (Vec<(&'a String, &'a Value)>, BTreeSet<String>) {
    let schema = resolve(doc, schema);
    let mut properties = Vec::new();
    let mut required = BTreeSet::new();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let (p, r) = object_parts(doc, part);
        properties.extend(p);
        required.extend(r);
    }
    properties.extend(schema["properties"].as_object().into_iter().flatten());
    required.extend(schema["required"].as_array().into_iter().flatten().filter_map(|r| r.as_str().map(String::from)));
    (properties, required)
}

/// Checks `value` against `schema` (the part of JSON Schema the description uses): the type,
/// every key documented, every required key present, nested values likewise.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(variants) = schema.get("oneOf").and_then(Value::as_array) {
        let errors: Vec<String> = variants.iter().filter_map(|v| check(doc, v, value, at).err()).collect();
        return if errors.len() < variants.len() {
            Ok(())
        } else {
            Err(format!("{at} matches no documented variant: [{}]", errors.join("] or [")))
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ if schema.get("allOf").is_some() => vec!["object"],
        _ => return Ok(()), // any value
    };
    let fits = |t: &str| match t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    };
    if !types.iter().any(|t| fits(t)) {
        return Err(format!("{at} is {value}, documented as {types:?}"));
    }
    match value {
        Value::Object(map) => {
            let (properties, required) = object_parts(doc, schema);
            for key in map.keys() {
                if !properties.iter().any(|(name, _)| *name == key) {
                    return Err(format!("{at}.{key} is answered but not documented"));
                }
            }
            for name in &required {
                if !map.contains_key(name) {
                    return Err(format!("{at}.{name} is documented as required but not answered"));
                }
            }
            for (name, property) in properties {
                if let Some(v) = map.get(name) {
                    check(doc, property, v, &format!("{at}.{name}"))?;
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check(doc, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Asserts that a real answer is what `method path` documents for its status.
fn assert_documented(doc: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let schema = documented(doc, path, method, status);
    if let Err(e) = check(doc, schema, body, "answer") {
        panic!("{method} {path} → {status}: {e}\nanswer: {body}");
    }
}

/// Every property of the schema appears in `body` (for answers that always carry all fields).
fn assert_all_fields(doc: &Value, schema: &Value, body: &Value) {
    let (properties, _) = object_parts(doc, schema);
    let documented: BTreeSet<&str> = properties.iter().map(|(n, _)| n.as_str()).collect();
    let answered: BTreeSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(answered, documented, "documented fields differ from a real answer");
}

async fn raw(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn get(gw: &Gateway, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = gw.http.get(format!("{}{path}", gw.url));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    raw(request.send().await.unwrap()).await
}

/// The documented request example of `method path`.
fn request_example(doc: &Value, path: &str, method: &str, content_type: &str) -> Value {
    let example = &doc["paths"][path][method]["requestBody"]["content"][content_type]["example"];
    assert!(example.is_object(), "{method} {path} has no {content_type} example");
    example.clone()
}

fn form_of(example: &Value) -> Vec<(String, String)> {
    example
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
        .collect()
}

#[tokio::test]
async fn documented_answers_are_the_real_answers() {
    let gw = Gateway::start(Backend::Sqlite).await;
    let doc = spec(&gw).await;
    let receiver = Receiver::start().await;

    // The token endpoint: the documented example (a fresh invoice) as a form, and an error.
    let invoice = invoice();
    let mut example = request_example(&doc, "/oauth2/token", "post", "application/x-www-form-urlencoded");
    example["invoiceID"] = json!(invoice);
    example["postLink"] = json!(format!("{}/post", receiver.url));
    let (status, token_answer) =
        raw(gw.http.post(format!("{}/oauth2/token", gw.url)).form(&form_of(&example)).send().await.unwrap()).await;
    assert_eq!(status, 200, "{token_answer}");
    assert_documented(&doc, "/oauth2/token", "post", 200, &token_answer);
    assert_all_fields(&doc, documented(&doc, "/oauth2/token", "post", 200), &token_answer);
    let token = token_answer["access_token"].as_str().unwrap().to_string();
    let bad_scope =
        [("grant_type", "client_credentials"), ("scope", "nope"), ("client_id", CLIENT), ("client_secret", SECRET)];
    let (status, body) =
        raw(gw.http.post(format!("{}/epay2/oauth2/token", gw.url)).form(&bad_scope).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert_documented(&doc, "/epay2/oauth2/token", "post", 400, &body);

    // A cryptogram payment from the documented example, saving the card.
    let mut example = request_example(&doc, "/payment/cryptopay", "post", "application/json");
    example["invoiceId"] = json!(invoice);
    example["cryptogram"] = json!(gw.cryptogram(VISA, TERMINAL).await);
    let (status, paid) = gw.post_json("/payment/cryptopay", Some(&token), &example.to_string()).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["status"], "AUTH");
    assert_documented(&doc, "/payment/cryptopay", "post", 200, &paid);
    assert_all_fields(&doc, &json!({"$ref": "#/components/schemas/PaymentResponse"}), &paid);
    let payment_id = paid["id"].as_str().unwrap().to_string();
    let card_id = paid["cardID"].as_str().unwrap().to_string();
    assert!(!card_id.is_empty());

    // Errors of the payment surface: bad input (no id) and a decline (with id).
    let (status, body) = gw.post_json("/payment/cryptopay", Some(&token), &example.to_string()).await;
    assert_eq!(status, 401, "{body}");
    assert_documented(&doc, "/payment/cryptopay", "post", 401, &body);
    let declined = common::invoice();
    let decline_token = gw.payment_token(&declined, major("100")).await;
    let request = gw.payment_request(&declined, major("100"), ("4000000000000002", "1230", "123")).await;
    let (status, body) =
        gw.post_json("/payment/cryptopay", Some(&decline_token), &serde_json::to_string(&request).unwrap()).await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(466)), "{body}");
    assert_documented(&doc, "/payment/cryptopay", "post", 400, &body);
    assert_all_fields(&doc, documented(&doc, "/payment/cryptopay", "post", 400), &body);

    // Saved-card payment from the documented example.
    let saved_invoice = common::invoice();
    let saved_token = gw.payment_token(&saved_invoice, major("100")).await;
    let mut example = request_example(&doc, "/payments/cards/auth", "post", "application/json");
    example["invoiceId"] = json!(saved_invoice);
    example["cardId"] = json!({"id": card_id});
    for link in ["postLink", "failurePostLink", "backLink", "failureBackLink"] {
        example[link] = json!(format!("{}/post", receiver.url));
    }
    let (status, body) = gw.post_json("/payments/cards/auth", Some(&saved_token), &example.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&doc, "/payments/cards/auth", "post", 200, &body);

    // Status, with a service token and with no token.
    let service = gw.service_token(TERMINAL).await;
    let (status, body) = get(&gw, &format!("/check-status/payment/transaction/{invoice}"), Some(&service)).await;
    assert_eq!((status, body["resultCode"].as_str()), (200, Some("100")), "{body}");
    assert_documented(&doc, "/check-status/payment/transaction/{invoiceId}", "get", 200, &body);
    let transaction_schema = json!({"$ref": "#/components/schemas/StatusTransaction"});
    assert_all_fields(&doc, &transaction_schema, &body["transaction"]);
    let (status, body) = get(&gw, &format!("/api/check-status/payment/transaction/{invoice}"), None).await;
    assert_eq!(status, 401);
    assert_documented(&doc, "/check-status/payment/transaction/{invoiceId}", "get", 401, &body);

    // The callback log, once the success callback is delivered; resend.
    receiver.wait_for("post", 1, Duration::from_secs(20)).await;
    let mut log = Value::Null;
    for _ in 0..100 {
        let (status, body) = get(&gw, &format!("/callbacks/{payment_id}"), Some(&service)).await;
        assert_eq!(status, 200, "{body}");
        if body["callbacks"][0]["status"] == "delivered" {
            log = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!log.is_null(), "the callback was not delivered");
    assert_documented(&doc, "/callbacks/{transactionId}", "get", 200, &log);
    assert_all_fields(&doc, &json!({"$ref": "#/components/schemas/CallbackView"}), &log["callbacks"][0]);
    let callback_id = log["callbacks"][0]["id"].as_str().unwrap();
    let (status, body) = gw.post_json(&format!("/callbacks/{callback_id}/resend"), Some(&service), "").await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&doc, "/callbacks/{callbackId}/resend", "post", 200, &body);
    let (status, body) = gw.post_json("/callbacks/nope/resend", Some(&service), "").await;
    assert_eq!(status, 400);
    assert_documented(&doc, "/callbacks/{callbackId}/resend", "post", 400, &body);
    let (status, body) = get(&gw, &format!("/callbacks/{payment_id}"), Some(&token)).await;
    assert_eq!(status, 403, "{body}");
    assert_documented(&doc, "/callbacks/{transactionId}", "get", 403, &body);

    // Operations: charge, then the same again (refused).
    let (status, body) = gw.operation(&service, &payment_id, "charge", "?amount=60", None).await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&doc, "/operation/{id}/charge", "post", 200, &body);
    let (status, body) = gw.operation(&service, &payment_id, "charge", "", None).await;
    assert_eq!(status, 400);
    assert_documented(&doc, "/operation/{id}/charge", "post", 400, &body);
    let mut example = request_example(&doc, "/operation/{id}/refund", "post", "application/json");
    example["amount"] = json!(30);
    let (status, body) = gw.operation(&service, &payment_id, "refund", "", Some(&example.to_string())).await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&doc, "/operation/{id}/refund", "post", 200, &body);
    let (status, body) = gw.operation(&token, &payment_id, "cancel", "", None).await;
    assert_eq!(status, 401);
    assert_documented(&doc, "/operation/{id}/cancel", "post", 401, &body);

    // Saved cards: the list, deactivation, and deactivating again.
    let (status, body) = get(&gw, "/cards/testUser1", Some(&service)).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.as_array().unwrap().is_empty());
    assert_documented(&doc, "/cards/{accountId}", "get", 200, &body);
    assert_all_fields(&doc, &json!({"$ref": "#/components/schemas/CardListEntry"}), &body[0]);
    let (status, body) = gw.post_json(&format!("/card/deactivate/{card_id}"), Some(&service), "").await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&doc, "/card/deactivate/{cardID}", "post", 200, &body);
    let (status, body) = gw.post_json(&format!("/api/card/deactivate/{card_id}"), Some(&service), "").await;
    assert_eq!(status, 400);
    assert_documented(&doc, "/card/deactivate/{cardID}", "post", 400, &body);

    // A P2P transfer from the documented example (seed 001), then the same order again.
    let order = format!("{}1", common::invoice());
    let transfer_token = gw
        .client
        .token(&epay_client::TokenRequest {
            scope: "transfer".into(),
            ..epay_client::TokenRequest::payment(CLIENT, SECRET, &order, major("100"), "KZT", P2P)
        })
        .await
        .unwrap()
        .access_token;
    let mut example = request_example(&doc, "/p2p/transfer", "post", "application/json");
    example["order"]["id"] = json!(order);
    example["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD.0});
    example["order"]["postLink"] = json!(format!("{}/transfer", receiver.url));
    example["order"]["failurePostLink"] = json!(format!("{}/transfer", receiver.url));
    let (status, body) = gw.post_json("/p2p/transfer", Some(&transfer_token), &example.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&doc, "/p2p/transfer", "post", 200, &body);
    let (status, body) = gw.post_json("/api/p2p/transfer", Some(&transfer_token), &example.to_string()).await;
    assert_eq!(status, 401, "{body}");
    assert_documented(&doc, "/p2p/transfer", "post", 401, &body);
    assert_all_fields(&doc, documented(&doc, "/p2p/transfer", "post", 401), &body);
    // Seed 001 posts the same body to /payments/cards/auth.
    let order = format!("{}2", common::invoice());
    let transfer_token = gw
        .client
        .token(&epay_client::TokenRequest {
            scope: "transfer".into(),
            ..epay_client::TokenRequest::payment(CLIENT, SECRET, &order, major("100"), "KZT", P2P)
        })
        .await
        .unwrap()
        .access_token;
    example["order"]["id"] = json!(order);
    let (status, body) = gw.post_json("/payments/cards/auth", Some(&transfer_token), &example.to_string()).await;
    assert_eq!((status, body["orderID"].as_str()), (200, Some(order.as_str())), "{body}");
    assert_documented(&doc, "/payments/cards/auth", "post", 200, &body);
    let (status, body) = gw.post_json("/payments/cards/auth", Some(&transfer_token), &example.to_string()).await;
    assert_eq!(status, 401, "{body}");
    assert_documented(&doc, "/payments/cards/auth", "post", 401, &body);
    assert!(body.get("invoiceId").is_some(), "a transfer body is answered in the transfer shape: {body}");
    let (status, body) = gw.post_json("/chdebit/transfer", Some(&service), &example.to_string()).await;
    assert_eq!(status, 403, "{body}");
    assert_documented(&doc, "/chdebit/transfer", "post", 403, &body);

    // The sandbox clock, readiness, and the 404 fallback's shape.
    let (status, body) = get(&gw, "/sandbox/clock", Some(&service)).await;
    assert_eq!(status, 200);
    assert_documented(&doc, "/sandbox/clock", "get", 200, &body);
    let (status, body) = get(&gw, "/sandbox/clock", None).await;
    assert_eq!(status, 401, "{body}");
    assert_documented(&doc, "/sandbox/clock", "get", 401, &body);
    let clock_body = json!({"seconds": 60}).to_string();
    let payment_token = gw.payment_token(&common::invoice(), major("100")).await;
    let (status, body) = gw.post_json("/sandbox/clock/advance", Some(&payment_token), &clock_body).await;
    assert_eq!(status, 403, "{body}");
    assert_documented(&doc, "/sandbox/clock/advance", "post", 403, &body);
    let (status, body) = gw.post_json("/sandbox/clock/advance", Some(&service), &clock_body).await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&doc, "/sandbox/clock/advance", "post", 200, &body);
    assert_all_fields(&doc, documented(&doc, "/sandbox/clock/advance", "post", 200), &body);
    let (status, body) = gw.post_json("/sandbox/clock/advance?seconds=0", Some(&service), "").await;
    assert_eq!(status, 400);
    assert_documented(&doc, "/sandbox/clock/advance", "post", 400, &body);
    let (status, body) = get(&gw, "/readyz", None).await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&doc, "/readyz", "get", 200, &body);
    assert_all_fields(&doc, documented(&doc, "/readyz", "get", 200), &body);
    let (status, body) = get(&gw, "/no/such/path", None).await;
    assert_eq!(status, 404);
    check(&doc, &json!({"$ref": "#/components/schemas/ErrorBody"}), &body, "404").unwrap();
}

// ---------------------------------------------------------------------------------------------
// 3-D Secure: the `3D` answer and the confirm answers.

fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'")
}

#[tokio::test]
async fn documented_three_ds_answers_are_the_real_answers() {
    let gw = Gateway::start(Backend::Sqlite).await;
    let doc = spec(&gw).await;
    let (merchant, _) = epay_server::runtime::seed::test_merchant();
    let terminal = epay_store::Terminal {
        id: SECURE_TERMINAL.into(),
        merchant_id: merchant.id.clone(),
        pos_id: "98120555".into(),
        name: "3-D Secure".into(),
        three_ds: true,
        hold_period_secs: 3600,
        ..Default::default()
    };
    gw.store().await.upsert_merchant(&merchant, &[terminal]).await.unwrap();

    let invoice = invoice();
    let token = gw.token_on(&invoice, major("100"), SECURE_TERMINAL).await;
    let request =
        epay_client::PaymentRequest::new(&invoice, major("100"), gw.cryptogram(ENROLLED, SECURE_TERMINAL).await);
    let (status, three_d) =
        gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
    assert_eq!((status, three_d["status"].as_str()), (200, Some("3D")), "{three_d}");
    assert_documented(&doc, "/payment/cryptopay", "post", 200, &three_d);
    assert_all_fields(&doc, &json!({"$ref": "#/components/schemas/ThreeDResponse"}), &three_d);

    // Confirm before the challenge is answered, then play the shopper at the ACS.
    let s = &three_d["secure3D"];
    let md = s["md"].as_str().unwrap();
    let confirm = |pa_res: &str| json!({"PaRes": pa_res, "MD": md}).to_string();
    let (status, body) = gw.post_json("/payment/cryptopay/confirm", Some(&token), &confirm("x")).await;
    assert_eq!(status, 400, "{body}");
    assert_documented(&doc, "/payment/cryptopay/confirm", "post", 400, &body);
    let form = [("PaReq", s["paReq"].as_str().unwrap()), ("MD", md), ("TermUrl", "https://merchant.example/3ds")];
    let page = gw.http.post(s["action"].as_str().unwrap()).form(&form).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let answer = [
        ("acs_id", hidden(&html, "acs_id")),
        ("MD", hidden(&html, "MD")),
        ("TermUrl", hidden(&html, "TermUrl")),
        ("code", "123456".to_string()),
        ("action", "submit".to_string()),
    ];
    let back = gw
        .http
        .post(format!("{}/acs/challenge/answer", gw.url))
        .form(&answer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pa_res = hidden(&back, "PaRes");

    // Halyk SDK's TermUrl, then the same confirm again (409).
    let url = format!("{}/payments/cards/confirmPayment?Access={token}", gw.url);
    let (status, body) = raw(gw.http.post(url).form(&[("MD", md), ("PaRes", &pa_res)]).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_documented(&doc, "/payments/cards/confirmPayment", "post", 200, &body);
    assert_all_fields(&doc, &json!({"$ref": "#/components/schemas/PaymentResponse"}), &body);
    let (status, body) = gw.post_json("/payment/cryptopay/confirm", Some(&token), &confirm(&pa_res)).await;
    assert_eq!(status, 409, "{body}");
    assert_documented(&doc, "/payment/cryptopay/confirm", "post", 409, &body);
}
