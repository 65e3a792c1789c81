//! The hosted payment page (`/payform/`, `/redesign-payform/`), its `payment-api.js`, and the
//! demo shop at `/`. The page pays through the same service as the API.

mod assets;
pub mod i18n;
pub mod params;
mod views;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use epay_domain::{Cvc, Expiry, Pan};

use crate::app::AppState;
use crate::config::Mode;
use crate::services::payments::{self, PaymentError};
use crate::wire::Fields;
use i18n::{words, Lang};

/// Only our own scripts and styles; the page may be framed (the widget) but posts only to us.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; base-uri 'none'; connect-src 'self'";

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for base in ["/payform", "/redesign-payform"] {
        router = router
            .route(&format!("{base}/"), get(form_page))
            .route(base, get(form_page))
            .route(&format!("{base}/pay"), post(pay))
            .route(&format!("{base}/payment-api.js"), get(payment_api_js));
    }
    router
        .route("/payform/assets/form.js", get(|| async { asset(&assets::assets().form_js) }))
        .route("/payform/assets/form.css", get(|| async { asset(&assets::assets().form_css) }))
        .route("/demo/demo.js", get(|| async { asset(&assets::assets().demo_js) }))
        .route("/", get(shop))
        .route("/demo/checkout", post(demo_checkout))
        .route("/demo/success", get(|s, q| demo_result(s, q, true)))
        .route("/demo/failure", get(|s, q| demo_result(s, q, false)))
}

fn asset(a: &assets::Asset) -> Response {
    let mut response = a.body.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

async fn payment_api_js() -> Response {
    let mut response = asset(&assets::assets().payment_api_js);
    // Merchants' pages load it from their own origin.
    response.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
    response
}

/// The demo shop's checkout is a merchant page: it also frames the payment widget.
const SHOP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; base-uri 'none'; connect-src 'self'; frame-src 'self'";

fn html(status: StatusCode, body: String) -> Response {
    html_with(status, body, PAGE_CSP)
}

fn html_with(status: StatusCode, body: String, csp: &'static str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn language_of(fields: &Fields) -> Lang {
    Lang::parse(&fields.str_or_empty(&["language"]).unwrap_or_default())
}

fn flag(map: &HashMap<String, String>, name: &str) -> bool {
    map.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

async fn form_page(State(app): State<AppState>, Query(query): Query<HashMap<String, String>>) -> Response {
    let short = flag(&query, "isShortForm");
    let raw = query.get("params").map(String::as_str).unwrap_or("");
    let decoded = match params::decode(raw) {
        Ok(p) => p,
        Err(e) => {
            return html(
                StatusCode::BAD_REQUEST,
                views::message(Lang::Ru, short, words(Lang::Ru).bad_link, &e.to_string()),
            )
        }
    };
    let lang = language_of(&decoded.fields);
    let w = words(lang);
    if flag(&query, "isTransfer") || flag(&query, "isAFT") || flag(&query, "isOCT") {
        return html(StatusCode::OK, views::message(lang, short, w.no_transfers, w.no_transfers));
    }
    match payments::check_page_order(&app, &decoded.access_token, &decoded.fields).await {
        Ok(order) => {
            let amount = order.amount.to_string();
            html(
                StatusCode::OK,
                views::form(&views::FormView {
                    lang,
                    short,
                    raw_params: raw,
                    merchant: &order.merchant_name,
                    description: &order.description,
                    amount: &amount,
                    currency: order.currency.code(),
                    card_save: order.card_save,
                    verification: order.amount.is_zero(),
                    holder: &order.payer_name,
                    alert: None,
                    action: "/payform/pay",
                }),
            )
        }
        Err(e) => html(StatusCode::BAD_REQUEST, views::message(lang, short, w.bad_link, &e.to_string())),
    }
}

async fn pay(State(app): State<AppState>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let short = flag(&form, "isShortForm");
    let raw = form.get("params").map(String::as_str).unwrap_or("");
    let decoded = match params::decode(raw) {
        Ok(p) => p,
        Err(e) => {
            return html(
                StatusCode::BAD_REQUEST,
                views::message(Lang::Ru, short, words(Lang::Ru).bad_link, &e.to_string()),
            )
        }
    };
    let lang = language_of(&decoded.fields);
    let w = words(lang);
    let order = match payments::check_page_order(&app, &decoded.access_token, &decoded.fields).await {
        Ok(order) => order,
        Err(e) => return html(StatusCode::BAD_REQUEST, views::message(lang, short, w.bad_link, &e.to_string())),
    };
    let holder = form.get("name").map(|s| s.trim().to_string()).unwrap_or_default();
    let card = (|| {
        let pan = Pan::parse(form.get("pan")?).ok()?;
        let expiry = Expiry::parse(form.get("expiry")?).ok()?;
        let cvc = Cvc::parse(form.get("cvc")?).ok()?;
        Some((pan, expiry, cvc))
    })();
    let amount = order.amount.to_string();
    let form_again = |alert: &str| {
        views::form(&views::FormView {
            lang,
            short,
            raw_params: raw,
            merchant: &order.merchant_name,
            description: &order.description,
            amount: &amount,
            currency: order.currency.code(),
            card_save: order.card_save,
            verification: order.amount.is_zero(),
            holder: &holder,
            alert: Some(alert),
            action: "/payform/pay",
        })
    };
    let Some((pan, expiry, cvc)) = card.filter(|_| !holder.is_empty()) else {
        // Refused before anything is written; the shopper corrects the card and tries again.
        return html(
            StatusCode::BAD_REQUEST,
            form_again(&format!("{} / {} / {}", w.bad_number, w.bad_expiry, w.bad_cvc)),
        );
    };
    let fields = decoded.fields.with("name", &holder);
    match payments::pay_from_page(&app, &decoded.access_token, &fields, pan, expiry, cvc).await {
        Ok(_) => html(
            StatusCode::OK,
            views::result(&views::ResultView {
                lang,
                short,
                success: true,
                reason: None,
                redirect: if short { "" } else { &order.back_link },
                shop_link: "",
            }),
        ),
        Err(PaymentError::Declined { reason, .. }) => html(
            StatusCode::OK,
            views::result(&views::ResultView {
                lang,
                short,
                success: false,
                reason: Some(&format!("{} ({})", reason.message, reason.code)),
                redirect: if short { "" } else { &order.failure_back_link },
                shop_link: &order.back_link,
            }),
        ),
        Err(e) => html(StatusCode::BAD_REQUEST, form_again(&e.to_string())),
    }
}

async fn shop(State(app): State<AppState>) -> Response {
    html(StatusCode::OK, views::shop(app.config.mode == Mode::Production))
}

/// The demo shop's server side: gets a token for a new invoice (as a merchant's backend does)
/// and hands the payment object to its page.
async fn demo_checkout(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if app.config.mode == Mode::Production {
        return html(StatusCode::NOT_FOUND, views::shop(true));
    }
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    let origin = format!("http://{host}");
    let invoice = format!("{:012}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000);
    let form = Fields::from_pairs(
        [
            ("grant_type", "client_credentials"),
            ("scope", "payment"),
            ("client_id", crate::seed::TEST_CLIENT_ID),
            ("client_secret", crate::seed::TEST_CLIENT_SECRET),
            ("invoiceID", &invoice),
            ("amount", "2500"),
            ("currency", "KZT"),
            ("terminal", crate::seed::PAYMENT_TERMINAL),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let token = match crate::services::tokens::issue(&app, &form).await {
        Ok(t) => t,
        Err(e) => {
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                views::message(Lang::En, false, "Demo shop", &e.to_string()),
            )
        }
    };
    let object = serde_json::json!({
        "invoiceId": invoice,
        "backLink": format!("{origin}/demo/success?invoiceId={invoice}"),
        "failureBackLink": format!("{origin}/demo/failure?invoiceId={invoice}"),
        "postLink": "",
        "failurePostLink": "",
        "language": "eng",
        "description": "ePay mug",
        "accountId": "demo-customer",
        "terminal": crate::seed::PAYMENT_TERMINAL,
        "amount": 2500,
        "currency": "KZT",
        "name": "",
        "auth": token,
    });
    html_with(StatusCode::OK, views::checkout(&object.to_string(), flag(&query, "widget")), SHOP_CSP)
}

async fn demo_result(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    success: bool,
) -> Response {
    let invoice = query.get("invoiceId").cloned().unwrap_or_default();
    let payment = app.store.payment_by_invoice(crate::seed::PAYMENT_TERMINAL, &invoice).await.ok().flatten();
    let (status, reason) =
        payment.map(|p| (p.status, if p.reason_code == 0 { String::new() } else { p.reason })).unwrap_or_default();
    html(StatusCode::OK, views::shop_result(success, &invoice, &status, &reason))
}
