//! The hosted payment page (`/payform/`, `/redesign-payform/`), its `payment-api.js`, and the
//! demo shop at `/`. The page pays through the same service as the API.

pub mod acs;
pub(crate) mod assets;
pub mod forms;
pub mod holder;
pub mod i18n;
mod invoice_link;
pub mod money;
pub mod params;
pub mod reasons;
mod receipt;
mod switch;
mod views;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use epay_domain::{Cvc, Expiry, Pan, Scope, TransferKind};

use crate::app::{App, AppState};
use crate::edge::http::three_ds::ConfirmRequest;
use crate::platform::config::Mode;
use crate::platform::keys::digests_equal;
use crate::services::auth;
use crate::services::payments::{self, EnteredCard, PageCard, PagePayment, PaymentError, PaymentOrderRequest};
use crate::services::transfers::{self, Refusal, TransferError};
use crate::wire::lenient::{self, Checked};
use crate::wire::PaymentAnswer;
use epay_store::TokenRecord;
use forms::{PayForm, TransferForm};
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
            .route(&format!("{base}/transfer"), post(transfer))
            .route(&format!("{base}/payment-api.js"), get(payment_api_js));
    }
    router = router
        .route("/payform/assets/form.js", get(|| async { asset(&assets::assets().form_js) }))
        .route("/payform/assets/form.css", get(|| async { asset(&assets::assets().form_css) }))
        .route("/demo/demo.js", get(|| async { asset(&assets::assets().demo_js) }));
    for (path, icon) in &assets::assets().brands {
        router = router.route(path, get(move || async move { asset(icon) }));
    }
    router
        .route("/payform/3ds-return", post(three_ds_return).get(three_ds_return))
        .route("/payform/receipt", post(receipt::send))
        .merge(acs::routes())
        .route("/invoice-link/{link_id}", get(invoice_link::open))
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

fn html(status: StatusCode, page: views::Rendered) -> Response {
    rendered(status, page, PAGE_CSP)
}

/// A rendered page with its CSP, or a 500 if its template failed.
fn rendered(status: StatusCode, page: views::Rendered, csp: &'static str) -> Response {
    match page {
        Ok(body) => html_with(status, body, csp),
        Err(error) => {
            tracing::error!(%error, "a page does not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

pub(crate) fn html_with(status: StatusCode, body: String, csp: &'static str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page's language: the shopper's pick on the language switch (`lang`: the form's GET
/// query, the forms' hidden field, the TermUrl), else the payment's own `language`. A `lang`
/// that names no language is ignored; it changes nothing but the words (page/switch.rs).
fn language_of(fields: &params::PageFields, picked: Option<&str>) -> Lang {
    picked.and_then(Lang::chosen).unwrap_or_else(|| Lang::parse(&fields.language))
}

fn flag(map: &HashMap<String, String>, name: &str) -> bool {
    map.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The page that says the page's `params` cannot be read (in Russian: the language the shopper
/// chose is inside what could not be read).
fn bad_link_page(short: bool, why: &params::ParamsError) -> Response {
    html(StatusCode::BAD_REQUEST, views::message(Lang::Ru, short, words(Lang::Ru).bad_link, &why.to_string()))
}

async fn form_page(State(app): State<AppState>, Query(query): Query<HashMap<String, String>>) -> Response {
    let short = flag(&query, "isShortForm");
    let raw = query.get("params").map(String::as_str).unwrap_or("");
    let decoded = match params::decode(raw) {
        Ok(decoded) => decoded,
        Err(e) => return bad_link_page(short, &e),
    };
    let lang = language_of(&decoded.fields, query.get("lang").map(String::as_str));
    let w = words(lang);
    // halyk.p2p / aft / oct name the transfer form; halyk.pay opens it too when its token is a
    // transfer token (seed 002), in the kind the token allows.
    let kind = match transfer_kind(&query) {
        Some(kind) => Some(kind),
        None => {
            auth::caller(&app, decoded.access_token.expose()).await.ok().and_then(|c| transfers::kind_for_pay_call(&c))
        }
    };
    if let Some(kind) = kind {
        return transfer_page(&app, lang, short, raw, &decoded, kind, TransferShown::default()).await;
    }
    let checked = match order_request(&decoded) {
        Ok(request) => page_order(&app, decoded.access_token.expose(), &request).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok((_, order)) => html(
            StatusCode::OK,
            card_form(
                &app,
                lang,
                short,
                raw,
                &order,
                Shown {
                    holder: &order.payer_name,
                    alert: None,
                    attempts_left: attempts_left(&order),
                    posted_card: None,
                },
            ),
        ),
        Err(PaymentError::AttemptsExhausted(_)) => exhausted(lang, short),
        Err(e) => html(StatusCode::BAD_REQUEST, views::message(lang, short, w.bad_link, &e.to_string())),
    }
}

/// The order the page's `params` name. Each field keeps its own fault (the service reports it in
/// its turn), so reading never fails on a field.
fn order_request(decoded: &params::PageParams) -> Result<PaymentOrderRequest, PaymentError> {
    decoded.body.read().map_err(|e| PaymentError::BadRequest(e.0))
}

/// The page's payer (its `params` carry the token) and its order, checked as the API checks them.
async fn page_order(
    app: &App,
    access_token: &str,
    request: &PaymentOrderRequest,
) -> Result<(payments::Payer, payments::PageOrder), PaymentError> {
    let caller = auth::caller(app, access_token).await?;
    let payer = payments::payer(app, &caller).await?;
    let order = payments::check_page_order(app, &payer, request).await?;
    Ok((payer, order))
}

/// What the card form shows beyond its order: the holder's name as typed, a decline's reason,
/// the attempts left, and the saved card the shopper chose.
struct Shown<'a> {
    holder: &'a str,
    alert: Option<&'a str>,
    attempts_left: Option<i32>,
    /// The form's `card_id` as posted (empty: a new card); `None` when the form is first shown.
    posted_card: Option<&'a str>,
}

/// The card form for one order: first shown, or again after a refused or declined attempt.
fn card_form(
    app: &App,
    lang: Lang,
    short: bool,
    raw: &str,
    order: &payments::PageOrder,
    shown: Shown<'_>,
) -> views::Rendered {
    // First shown, the newest saved card is chosen (a returning customer pays in one click);
    // shown again, the shopper's own choice (an id the form does not list chooses a new card).
    let chosen_card = match shown.posted_card {
        None => order.saved_cards.last().map(|card| card.id.as_str()),
        Some(posted) => Some(posted),
    };
    views::form(&views::FormView {
        lang,
        short,
        raw_params: raw,
        merchant: &order.merchant_name,
        description: &order.description,
        amount: order.amount,
        currency: order.currency,
        card_save: order.card_save,
        verification: order.amount.is_zero(),
        save_offered: order.save_offered,
        saved_cards: &order.saved_cards,
        chosen_card,
        holder: shown.holder,
        alert: shown.alert,
        action: "/payform/pay",
        check_expiry_date: app.config.mode == Mode::Production,
        attempts_left: shown.attempts_left,
        give_up: if short { "" } else { &order.failure_back_link },
    })
}

/// "Attempts left", once the invoice had a declined attempt and may have more.
fn attempts_left(order: &payments::PageOrder) -> Option<i32> {
    (order.attempts.used > 0 && order.attempts.holding.is_none()).then(|| order.attempts.left())
}

/// The invoice's attempts are all used and declined: ePay's reason 2740, in the page's language.
fn exhausted(lang: Lang, short: bool) -> Response {
    let w = words(lang);
    let detail = format!("{} ({})", w.too_many_attempts_detail, epay_domain::ReasonCode::TOO_MANY_ATTEMPTS.code);
    html(StatusCode::BAD_REQUEST, views::message(lang, short, w.too_many_attempts, &detail))
}

/// A declined attempt: its reason, and the form's `card_id` it was made with (`None` when not
/// known, as after 3-D Secure: the form chooses as when first shown).
struct Decline<'a> {
    reason: epay_domain::ReasonCode,
    posted_card: Option<&'a str>,
}

/// After a declined attempt: the form again, with the reason and the attempts left, while the
/// invoice allows more (the page's token stays good for them: docs/compatibility.md §48);
/// after the last one, the declined result and the way back to the shop.
async fn after_decline(
    app: &App,
    lang: Lang,
    short: bool,
    raw: &str,
    access_token: &str,
    request: &PaymentOrderRequest,
    decline: Decline<'_>,
) -> Response {
    let w = words(lang);
    let mut reason_text = reasons::decline(lang, decline.reason);
    match page_order(app, access_token, request).await {
        Ok((_, order)) if order.attempts.left() > 0 => {
            let alert = format!("{}: {reason_text}", w.declined);
            let form = card_form(
                app,
                lang,
                short,
                raw,
                &order,
                Shown {
                    holder: &order.payer_name,
                    alert: Some(&alert),
                    attempts_left: Some(order.attempts.left()),
                    posted_card: decline.posted_card,
                },
            );
            return html(StatusCode::OK, form);
        }
        Ok(_) | Err(PaymentError::AttemptsExhausted(_)) => {
            reason_text = format!("{reason_text}. {}", w.no_attempts_left)
        }
        Err(_) => {}
    }
    let link = |field: &payments::Field<String>| field.clone().and_then(Checked::ok).unwrap_or_default();
    let (back, failure_back) = (link(&request.back_link), link(&request.failure_back_link));
    html(
        StatusCode::OK,
        views::result(&views::ResultView {
            lang,
            short,
            success: false,
            reason: Some(&reason_text),
            redirect: if short { "" } else { &failure_back },
            shop_link: &back,
            heading: None,
            receipt: None,
        }),
    )
}

async fn pay(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form: PayForm = forms::read(&body);
    let short = form.is_short_form.unwrap_or(false);
    let raw = form.params.as_str();
    let decoded = match params::decode(raw) {
        Ok(decoded) => decoded,
        Err(e) => return bad_link_page(short, &e),
    };
    let lang = language_of(&decoded.fields, form.lang.as_deref());
    let w = words(lang);
    let checked = match order_request(&decoded) {
        Ok(request) => page_order(&app, decoded.access_token.expose(), &request).await.map(|c| (request, c)),
        Err(e) => Err(e),
    };
    let (request, (payer, order)) = match checked {
        Ok(checked) => checked,
        Err(PaymentError::AttemptsExhausted(_)) => return exhausted(lang, short),
        Err(e) => return html(StatusCode::BAD_REQUEST, views::message(lang, short, w.bad_link, &e.to_string())),
    };
    let holder = form.name.trim().to_string();
    // Shown again only when it is a name: whatever else was typed there (a card number pasted
    // into the wrong box) never comes back in the page (docs/security.md).
    let holder_shown = if holder::check(&holder).is_ok() { holder.as_str() } else { "" };
    // The server decides by the posted field (the form works without JS): a saved card's id,
    // else the typed card.
    let posted_card = forms::typed(&form.card_id);
    let form_again = |alert: &str| {
        let shown = Shown {
            holder: holder_shown,
            alert: Some(alert),
            attempts_left: attempts_left(&order),
            posted_card: Some(posted_card),
        };
        card_form(&app, lang, short, raw, &order, shown)
    };
    let (card, request) = if posted_card.is_empty() {
        let (card, refused) = entered_card(&form, w);
        let Some(card) = card.filter(|_| refused.is_empty()) else {
            // Refused before anything is written; the shopper corrects the fields and tries again.
            return html(StatusCode::BAD_REQUEST, form_again(&refused.join(". ")));
        };
        // The cardholder's name is the one typed on the form.
        let request = PaymentOrderRequest { payer_name: Some(Checked(Ok(holder.clone()))), ..request };
        (PageCard::Entered { card, save: form.save_card.unwrap_or(false) }, request)
    } else {
        (PageCard::Saved { card_id: posted_card.to_string() }, request)
    };
    let base = crate::edge::http::public_base(&app, &headers);
    let command = PagePayment { order: request.clone(), card, acs_url: format!("{base}/acs/challenge") };
    let merchant_id = payer.token.merchant_id.clone();
    match payments::pay_from_page(&app, payer, command).await {
        Ok(PaymentAnswer::ThreeD(three_d)) => {
            challenge_page(lang, &decoded.fields, &base, short, raw, &three_d.secure3d)
        }
        Ok(PaymentAnswer::Final(paid)) => {
            receipt::success_page(&app, lang, short, None, &order.back_link, Some((&merchant_id, &paid.id))).await
        }
        Err(PaymentError::Declined { reason, .. }) => {
            let decline = Decline { reason, posted_card: Some(posted_card) };
            after_decline(&app, lang, short, raw, decoded.access_token.expose(), &request, decline).await
        }
        Err(PaymentError::AttemptsExhausted(_)) => exhausted(lang, short),
        // Another customer's card, a deactivated or made-up one, or a token that names no
        // customer: one message whatever the reason, so the page tells nothing about an id;
        // nothing was written and the token stays usable.
        Err(PaymentError::BadRequest(_)) if !posted_card.is_empty() => {
            tracing::info!("the page refused a saved card");
            html(StatusCode::BAD_REQUEST, form_again(w.saved_card_refused))
        }
        Err(e) => html(StatusCode::BAD_REQUEST, form_again(&e.to_string())),
    }
}

/// The card form's fields as the page reads them, and what it refuses, field by field in the
/// page's language: an empty field asks for its value, a wrong one says it is wrong (issue 19).
fn entered_card(form: &PayForm, w: &i18n::Words) -> (Option<EnteredCard>, Vec<&'static str>) {
    let mut refused = Vec::new();
    let mut field = |typed: &str, empty: &'static str, bad: &'static str| {
        refused.push(if typed.trim().is_empty() { empty } else { bad })
    };
    let pan = Pan::parse(&form.pan).map_err(|_| field(&form.pan, w.empty_number, w.bad_number)).ok();
    let expiry = Expiry::parse(&form.expiry).map_err(|_| field(&form.expiry, w.empty_expiry, w.bad_expiry)).ok();
    let cvc = Cvc::parse(&form.cvc).map_err(|_| field(&form.cvc, w.empty_cvc, w.bad_cvc)).ok();
    match holder::check(&form.name) {
        Ok(_) => {}
        Err(holder::HolderProblem::Empty) => refused.push(w.empty_holder),
        Err(holder::HolderProblem::NotLetters) => refused.push(w.bad_holder),
    }
    let card = pan.zip(expiry).zip(cvc).map(|((pan, expiry), cvc)| EnteredCard { pan, expiry, cvc });
    (card, refused)
}

/// The page runs the 3-D Secure challenge itself: to the ACS, which comes back to our TermUrl.
fn challenge_page(
    lang: Lang,
    fields: &params::PageFields,
    base: &str,
    short: bool,
    raw_params: &str,
    s: &crate::wire::Secure3D,
) -> Response {
    // isShortForm only when true (false is the default): the full page's TermUrl has one query
    // parameter, so no `&` for the hop's HTML to escape.
    let encoded: String = url::form_urlencoded::byte_serialize(raw_params.as_bytes()).collect();
    let mut term_url = format!("{base}/payform/3ds-return?params={encoded}");
    if short {
        term_url.push_str("&isShortForm=true");
    }
    // A language the shopper switched to stays for the result (only then: the usual TermUrl
    // keeps its one parameter).
    if lang != Lang::parse(&fields.language) {
        term_url.push_str("&lang=");
        term_url.push_str(lang.html_code());
    }
    html(
        StatusCode::OK,
        views::auto_post(
            lang,
            &s.action,
            &[("PaReq", &s.pa_req), ("MD", &s.md), ("TermUrl", &term_url)],
            words(lang).processing,
        ),
    )
}

/// The hosted page's TermUrl: confirms the 3-D Secure payment and shows its result.
async fn three_ds_return(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let sent = lenient::from_pairs(url::form_urlencoded::parse(&body).into_owned());
    let (pa_res, md) = ConfirmRequest::read(sent, &query).texts();
    let short = flag(&query, "isShortForm");
    let raw = query.get("params").map(String::as_str).unwrap_or("");
    let decoded = match params::decode(raw) {
        Ok(decoded) => decoded,
        Err(e) => return bad_link_page(short, &e),
    };
    let lang = language_of(&decoded.fields, query.get("lang").map(String::as_str));
    let w = words(lang);
    let back = decoded.fields.back_link.clone();
    match crate::edge::http::three_ds::confirm(&app, decoded.access_token.expose(), &md, &pa_res).await {
        Ok(confirmed) => {
            use crate::services::three_ds_confirm::Confirmed;
            let (heading, payment_id) = match &confirmed {
                Confirmed::Payment(p) => (None, p.id.as_str()),
                Confirmed::Transfer(t) => (Some(w.transfer_done), t.id.as_str()),
            };
            // The token that started the challenge names the merchant (spent by now: read as
            // the confirm read it).
            let merchant = auth::known_token(&app, decoded.access_token.expose()).await.map(|t| t.merchant_id).ok();
            let paid = merchant.as_deref().map(|m| (m, payment_id));
            receipt::success_page(&app, lang, short, heading, &back, paid).await
        }
        Err(PaymentError::Declined { reason, .. }) => match order_request(&decoded) {
            Ok(request) => {
                let decline = Decline { reason, posted_card: None };
                after_decline(&app, lang, short, raw, decoded.access_token.expose(), &request, decline).await
            }
            Err(e) => html(StatusCode::BAD_REQUEST, views::message(lang, short, w.bad_link, &e.to_string())),
        },
        Err(e) => html(StatusCode::BAD_REQUEST, views::message(lang, short, w.bad_link, &e.to_string())),
    }
}

fn transfer_kind(query: &HashMap<String, String>) -> Option<TransferKind> {
    if flag(query, "isTransfer") {
        Some(TransferKind::P2p)
    } else if flag(query, "isAFT") {
        Some(TransferKind::Aft)
    } else if flag(query, "isOCT") {
        Some(TransferKind::Oct)
    } else {
        None
    }
}

/// What the transfer form shows beyond its order: after a refusal or a decline, why, and the
/// fields as the shopper typed them (never the CVC).
#[derive(Default)]
struct TransferShown<'a> {
    alert: Option<&'a str>,
    entered: views::Entered<'a>,
    errors: views::FieldErrors,
}

/// The transfer form (halyk.p2p / aft / oct), or why it cannot be shown.
async fn transfer_page(
    app: &AppState,
    lang: Lang,
    short: bool,
    raw: &str,
    decoded: &params::PageParams,
    kind: TransferKind,
    shown: TransferShown<'_>,
) -> Response {
    let w = words(lang);
    let refused = shown.alert.is_some() || shown.errors.any();
    match check_transfer_form(app, decoded, kind).await {
        Ok((_, info)) => {
            let total = info.amount.checked_add(info.fee).unwrap_or(info.amount);
            // OCT: the merchant pays the fee, the customer sees only the amount.
            let (fee, total) =
                if kind == TransferKind::Oct { (epay_domain::Amount::ZERO, info.amount) } else { (info.fee, total) };
            html(
                if refused { StatusCode::BAD_REQUEST } else { StatusCode::OK },
                views::transfer_form(&views::TransferFormView {
                    lang,
                    short,
                    raw_params: raw,
                    kind,
                    merchant: &info.merchant_name,
                    description: &info.description,
                    amount: info.amount,
                    fee,
                    total,
                    currency: info.currency,
                    saved_cards: &info.saved_cards,
                    paying_cards: &info.paying_cards,
                    preselected: &info.preselected,
                    alert: shown.alert,
                    check_expiry_date: app.config.mode == Mode::Production,
                    entered: shown.entered,
                    errors: shown.errors,
                }),
            )
        }
        Err(e) if e.refusal == Refusal::NotPermitted => {
            html(StatusCode::BAD_REQUEST, views::message(lang, short, w.no_transfers, w.no_transfers))
        }
        Err(e) => html(StatusCode::BAD_REQUEST, views::message(lang, short, w.bad_link, &e.to_string())),
    }
}

/// The page's token and transfer order, checked by the transfer service as the API would check
/// them (nothing written): the token's own faults first, then the order's.
async fn check_transfer_form(
    app: &App,
    decoded: &params::PageParams,
    kind: TransferKind,
) -> Result<(TokenRecord, transfers::PageTransfer), TransferError> {
    // Every refused token reads as a 401 here (storage too): the page shows its message.
    let caller = auth::caller(app, decoded.access_token.expose())
        .await
        .map_err(|e| TransferError::from(Refusal::Unauthorized(e.to_string())))?;
    if let Some(token) = caller.token() {
        transfers::check_token(token, kind)?;
    }
    let order = transfer_order(&decoded.fields);
    let preselect = transfers::PreselectRequest {
        sender: decoded.cards.sender_card_id.clone(),
        receiver: decoded.cards.receiver_card_id.clone(),
    };
    transfers::check_page_transfer(app, caller, kind, &order, &preselect).await
}

/// The order of a transfer made from the page's parameters: the merchant's page names it with
/// the payment's parameter names (`invoiceId`, `terminal`, `email`, ...).
pub fn transfer_order(params: &params::PageFields) -> transfers::OrderRequest {
    let refused = |field: &str, e: epay_domain::MoneyError| crate::wire::FieldError(format!("field {field}: {e}"));
    transfers::OrderRequest {
        id: Some(params.invoice_id.clone()),
        amount: epay_domain::Amount::parse_major(&params.amount).map_err(|e| refused("amount", e)).into(),
        // The page's currency is required: an empty one is refused as unknown.
        currency: Some(params.currency.parse().map_err(|e| refused("currency", e)).into()),
        description: params.description.clone(),
        account_id: params.account_id.clone(),
        email: params.email.clone(),
        terminal_id: Some(params.terminal.clone()),
        back_link: params.back_link.clone(),
        failure_back_link: params.failure_back_link.clone(),
        post_link: params.post_link.clone(),
        failure_post_link: params.failure_post_link.clone(),
    }
}

/// One side of a transfer from the form: a saved card by id, or a typed card.
fn side(
    form: &TransferForm,
    saved: &Option<String>,
    pan: &Option<String>,
    with_card_details: bool,
    save: bool,
) -> transfers::CardRequest {
    let saved = forms::typed(saved);
    if !saved.is_empty() {
        return transfers::CardRequest {
            transfer_type: transfers::CardGiven::SavedCard.as_str().into(),
            card_cred: Some(saved.to_string()),
            ..Default::default()
        };
    }
    let pan: String = forms::typed(pan).chars().filter(|c| !c.is_whitespace()).collect();
    if !with_card_details {
        return transfers::CardRequest {
            transfer_type: transfers::CardGiven::Pan.as_str().into(),
            card_cred: Some(pan),
            ..Default::default()
        };
    }
    let expiry: String = forms::typed(&form.expiry).chars().filter(char::is_ascii_digit).collect();
    let (month, year) =
        if expiry.len() == 4 { (expiry[..2].to_string(), expiry[2..].to_string()) } else { (expiry, String::new()) };
    transfers::CardRequest {
        transfer_type: transfers::CardGiven::Pan.as_str().into(),
        card_cred: Some(pan),
        cvc: Some(forms::typed(&form.cvc).to_string()),
        name: forms::typed(&form.name).to_string(),
        expire: Some(transfers::Expire { month, year }),
        save,
        ..Default::default()
    }
}

/// The typed card fields the page refuses before the transfer service sees them, each with its
/// message in the page's language by the field (the service refuses them too, one at a time,
/// in the API's English). A side paid or received by a saved card has no typed fields.
fn field_errors(form: &TransferForm, kind: TransferKind, w: &i18n::Words) -> views::FieldErrors {
    let mut errors = views::FieldErrors::default();
    let typed = |field: &Option<String>| forms::typed(field).to_string();
    // An empty field asks for its value; a wrong one says it is wrong.
    let said = |field: &Option<String>, empty, bad| if forms::typed(field).is_empty() { empty } else { bad };
    if kind != TransferKind::Oct && typed(&form.sender_card_id).is_empty() {
        errors.pan = Pan::parse(&typed(&form.pan)).err().map(|_| said(&form.pan, w.empty_number, w.bad_number));
        errors.expiry =
            Expiry::parse(&typed(&form.expiry)).err().map(|_| said(&form.expiry, w.empty_expiry, w.bad_expiry));
        errors.cvc = Cvc::parse(&typed(&form.cvc)).err().map(|_| said(&form.cvc, w.empty_cvc, w.bad_cvc));
    }
    // The holder is optional on the transfer form; typed, it must be a name (the card form's
    // rule), so nothing else is stored as the payer's name.
    if !typed(&form.name).is_empty() && holder::check(&typed(&form.name)).is_err() {
        errors.holder = Some(w.bad_holder);
    }
    if kind != TransferKind::Aft && typed(&form.receiver_card_id).is_empty() {
        let receiver = Pan::parse(&typed(&form.receiver_pan));
        errors.receiver_pan = match &receiver {
            Err(_) => Some(said(&form.receiver_pan, w.empty_receiver_number, w.bad_number)),
            // The service refuses it too ("sender and receiver must be different cards"): here
            // it is said by the field, in the page's language.
            Ok(receiver) if kind == TransferKind::P2p && typed(&form.sender_card_id).is_empty() => {
                Pan::parse(&typed(&form.pan)).is_ok_and(|sender| sender == *receiver).then_some(w.same_card)
            }
            Ok(_) => None,
        };
    }
    errors
}

async fn transfer(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form: TransferForm = forms::read(&body);
    let short = form.is_short_form.unwrap_or(false);
    let raw = form.params.as_str();
    let decoded = match params::decode(raw) {
        Ok(decoded) => decoded,
        Err(e) => return bad_link_page(short, &e),
    };
    let lang = language_of(&decoded.fields, form.lang.as_deref());
    let w = words(lang);
    let kind = form.kind.parse().unwrap_or(TransferKind::P2p);
    let (token, info) = match check_transfer_form(&app, &decoded, kind).await {
        Ok(ok) => ok,
        Err(e) => return html(StatusCode::BAD_REQUEST, views::message(lang, short, w.bad_link, &e.to_string())),
    };
    // Saved cards are used on the page only for the customer the token names (DESIGN §5a).
    let uses_saved_card = [&form.sender_card_id, &form.receiver_card_id].iter().any(|id| !forms::typed(id).is_empty());
    // Shown again after a refusal or a decline (Cache-Control: no-store). No card number and no
    // CVC ever come back (docs/security.md): form.js keeps the typed numbers in the browser.
    // The holder is shown again only when it is a name (a card number typed there never is).
    let holder_typed = forms::typed(&form.name);
    let entered = views::Entered {
        expiry: forms::typed(&form.expiry),
        holder: if holder::check(holder_typed).is_ok() { holder_typed } else { "" },
    };
    let again = |alert, errors| TransferShown { alert, entered, errors };
    if uses_saved_card && token.account_id.is_none() {
        let message = "saved cards need a token requested with the customer's accountId";
        return transfer_page(&app, lang, short, raw, &decoded, kind, again(Some(message), Default::default())).await;
    }
    let errors = field_errors(&form, kind, w);
    if errors.any() {
        return transfer_page(&app, lang, short, raw, &decoded, kind, again(Some(w.check_entered), errors)).await;
    }
    let save = decoded.fields.card_save.unwrap_or(false);
    let order = transfer_order(&decoded.fields);
    let base = crate::edge::http::public_base(&app, &headers);
    // A token bound to its order id stays usable after a decline (`Transfer::token_spend`).
    let (merchant_id, may_retry) = (token.merchant_id.clone(), token.invoice_id.is_some());
    let command = transfers::Transfer {
        kind,
        order,
        sender: (kind != TransferKind::Oct).then(|| side(&form, &form.sender_card_id, &form.pan, true, save)),
        receiver: (kind != TransferKind::Aft)
            .then(|| side(&form, &form.receiver_card_id, &form.receiver_pan, false, false)),
        token_spend: epay_store::TokenSpend::UnlessDeclined,
        acs_url: format!("{base}/acs/challenge"),
    };
    match transfers::transfer(&app, auth::Caller::Token(token), command).await {
        Ok(answer) if answer.secure3d.is_some() => {
            let s = answer.secure3d.as_ref().expect("checked");
            challenge_page(lang, &decoded.fields, &base, short, raw, s)
        }
        Ok(done) => {
            let paid = Some((merchant_id.as_str(), done.id.as_str()));
            receipt::success_page(&app, lang, short, Some(w.transfer_done), &info.back_link, paid).await
        }
        // A decline is recorded; while the order id allows more attempts the form comes again
        // (the token stays good for them: docs/compatibility.md §48), else failureBackLink.
        Err(TransferError { refusal: Refusal::Declined { code, message, transaction_id }, .. }) => {
            let attempts = match may_retry {
                true => crate::services::attempts::after(&app, &merchant_id, &transaction_id).await.ok().flatten(),
                false => None,
            };
            let reason = reasons::decline_code(lang, code, &message);
            if let Some(left) = attempts.map(|a| a.left()).filter(|left| *left > 0) {
                let alert = format!("{}: {reason}. {}: {left}", w.declined, w.attempts_left);
                return transfer_page(&app, lang, short, raw, &decoded, kind, again(Some(&alert), Default::default()))
                    .await;
            }
            html(
                StatusCode::OK,
                views::result(&views::ResultView {
                    lang,
                    heading: None,
                    short,
                    success: false,
                    reason: Some(&reason),
                    redirect: if short { "" } else { &info.failure_back_link },
                    shop_link: &info.back_link,
                    receipt: None,
                }),
            )
        }
        Err(TransferError { refusal: Refusal::AttemptsExhausted(_), .. }) => exhausted(lang, short),
        // Bad input wrote nothing: the form again, with what to fix (the typed fields were
        // checked above: what is left is the order's or a card's, worded for the shopper).
        Err(TransferError { refusal: Refusal::BadRequest(_), .. }) => {
            transfer_page(&app, lang, short, raw, &decoded, kind, again(Some(w.check_entered), Default::default()))
                .await
        }
        Err(e) => {
            transfer_page(&app, lang, short, raw, &decoded, kind, again(Some(&e.to_string()), Default::default())).await
        }
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
    let form = crate::wire::lenient::Body::pairs(
        [
            ("grant_type", "client_credentials"),
            ("scope", Scope::Payment.as_str()),
            ("client_id", crate::platform::test_merchant::TEST_CLIENT_ID),
            ("client_secret", crate::platform::test_merchant::TEST_CLIENT_SECRET),
            ("invoiceID", &invoice),
            ("amount", "2500"),
            ("currency", "KZT"),
            ("terminal", crate::platform::test_merchant::PAYMENT_TERMINAL),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let token = match form.read().map_err(|e| crate::services::tokens::TokenError::InvalidRequest(e.0)) {
        Ok(form) => crate::edge::http::oauth::issue(&app, &form, None).await,
        Err(e) => Err(e),
    };
    let token = match token {
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
        "backLink": format!("{origin}/demo/success?invoiceId={invoice}&order={}", demo_order_mac(&app, &invoice)),
        "failureBackLink": format!("{origin}/demo/failure?invoiceId={invoice}&order={}", demo_order_mac(&app, &invoice)),
        "postLink": "",
        "failurePostLink": "",
        "language": "eng",
        "description": "ePay mug",
        "accountId": "demo-customer",
        "terminal": crate::platform::test_merchant::PAYMENT_TERMINAL,
        "amount": 2500,
        "currency": "KZT",
        "name": "",
        "auth": token,
    });
    rendered(StatusCode::OK, views::checkout(&object, flag(&query, "widget")), SHOP_CSP)
}

async fn demo_result(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    success: bool,
) -> Response {
    let invoice = query.get("invoiceId").cloned().unwrap_or_default();
    let signed = query.get("order").is_some_and(|mac| digests_equal(mac, &demo_order_mac(&app, &invoice)));
    // Only the demo shop's own orders: every sandbox user shares the test merchant's terminal,
    // so an invoice id alone would show anyone's payment.
    let payment = if signed {
        app.store.payment_by_invoice(crate::platform::test_merchant::PAYMENT_TERMINAL, &invoice).await.ok().flatten()
    } else {
        None
    };
    let (status, reason) = payment
        .map(|p| (Some(p.status), if p.reason_code == 0 { String::new() } else { p.reason }))
        .unwrap_or_default();
    html(StatusCode::OK, views::shop_result(success, &invoice, status, &reason))
}

/// The demo shop's signature on one of its own order ids, carried in its back links: the
/// success and failure pages show an order only with it.
fn demo_order_mac(app: &App, invoice: &str) -> String {
    hex::encode(app.keys.purpose_mac("demo-shop-order", invoice))
}
