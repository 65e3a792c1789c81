//! The merchant cabinet (`/cabinet`): sign-in, transactions with their operations, overview
//! charts, terminal settings, credentials and saved cards, in Russian, Kazakh and English.
//!
//! Server-rendered pages with a strict CSP (our own stylesheet, no script, no framing). Every
//! page reads one merchant's data — the signed-in one — through merchant-scoped queries, and
//! every change goes through the same service functions as the API.

mod assets;
mod charts;
mod csv;
pub mod error;
mod filter;
mod i18n;
mod invoices;
mod messages;
mod overview;
pub mod session;
mod settings;
mod subscriptions;
mod transactions;
mod views;

#[cfg(test)]
mod no_markup_in_rust;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE, X_CONTENT_TYPE_OPTIONS};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use epay_domain::Secret;
use epay_store::CabinetSession;

use crate::app::AppState;
use crate::services::auth::Caller;
use error::CabinetError;
use i18n::{words, Lang};
use session::{LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE};

/// Our stylesheet only; no script at all; posts only to us; never inside another site's frame.
const CABINET_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cabinet", get(home))
        .route("/cabinet/", get(home))
        .route("/cabinet/login", get(login_page).post(login))
        .route("/cabinet/logout", post(logout))
        .route("/cabinet/lang/{code}", get(set_language))
        .route("/cabinet/assets/cabinet.css", get(stylesheet))
        .route("/cabinet/overview", get(overview::show))
        .route("/cabinet/transactions", get(transactions::list))
        .route("/cabinet/transactions.csv", get(transactions::export))
        .route("/cabinet/transactions/{id}", get(transactions::detail))
        .route("/cabinet/transactions/{id}/{action}", post(transactions::act))
        .route("/cabinet/terminals", get(settings::terminals))
        .route("/cabinet/terminals/{id}", post(settings::update_terminal))
        .route("/cabinet/credentials", get(settings::credentials))
        .route("/cabinet/credentials/rotate", post(settings::rotate))
        .route("/cabinet/cards", get(settings::cards))
        .route("/cabinet/cards/{id}", get(settings::card))
        .route("/cabinet/cards/{id}/deactivate", post(settings::deactivate_card))
        .route("/cabinet/invoices", get(invoices::list).post(invoices::create))
        .route("/cabinet/invoices/{id}/cancel", post(invoices::cancel))
        .route("/cabinet/messages", get(messages::list))
        .route("/cabinet/messages/{id}", get(messages::show))
        .route("/cabinet/subscriptions", get(subscriptions::list))
        .route("/cabinet/subscriptions/{id}", get(subscriptions::detail))
        .route("/cabinet/subscriptions/{id}/{action}", post(subscriptions::act))
}

/// A page (one of `views`' templates) rendered, with the cabinet's security headers.
pub(crate) fn html(status: StatusCode, page: impl askama::Template) -> Response {
    let (status, body) = match page.render() {
        Ok(body) => (status, body),
        Err(e) => {
            // Only a value's Display can fail while rendering; ours do not, but a page is never
            // half-sent: the user gets a plain error instead.
            tracing::error!(error = %e, "cabinet page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_string())
        }
    };
    let mut response = crate::edge::page::html_with(status, body, CABINET_CSP);
    let headers = response.headers_mut();
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

/// 303 See Other: after a POST the browser GETs the result, so a reload repeats nothing.
pub(crate) fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

pub(crate) fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn language(headers: &HeaderMap) -> Lang {
    Lang::parse(session::cookie(headers, LANG_COOKIE).unwrap_or(""))
}

/// A request from a signed-in user: the session, the language and the page's path. Without a
/// valid session the request goes to the sign-in page instead.
pub(crate) struct Signed {
    pub app: AppState,
    pub session: CabinetSession,
    pub lang: Lang,
    pub path: String,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let lang = language(&parts.headers);
        match session::current(app, &parts.headers).await {
            Ok(Some(session)) => Ok(Signed { app: app.clone(), session, lang, path: parts.uri.path().to_string() }),
            Ok(None) => Err(redirect("/cabinet/login")),
            Err(e) => Err(error::respond(lang, &CabinetError::from(e))),
        }
    }
}

impl Signed {
    pub fn merchant_id(&self) -> &str {
        &self.session.merchant_id
    }

    /// The signed-in merchant as the services' caller: it acts on everything of its own.
    pub fn caller(&self) -> Caller {
        Caller::Cabinet { merchant_id: self.session.merchant_id.clone() }
    }

    pub fn chrome(&self, section: views::Section) -> views::Chrome<'_> {
        views::Chrome {
            lang: self.lang,
            email: &self.session.email,
            csrf: self.session.csrf_token.expose(),
            section,
            path: &self.path,
        }
    }

    /// Every form that changes something must carry this session's CSRF token.
    pub fn check_csrf(&self, form: &HashMap<String, String>) -> Result<(), CabinetError> {
        if session::csrf_matches(&self.session.csrf_token, form.get("csrf").map(String::as_str)) {
            Ok(())
        } else {
            tracing::warn!(user_id = %self.session.user_id, path = %self.path, "cabinet form without a valid CSRF token");
            Err(CabinetError::Csrf)
        }
    }

    /// The page for a handler's result: its page, or the error page in the user's language.
    pub fn reply(&self, result: Result<Response, CabinetError>) -> Response {
        result.unwrap_or_else(|e| error::respond_signed(&self.chrome(self.section()), &e))
    }

    /// The menu entry this page belongs to, from its path (an error page keeps it open).
    fn section(&self) -> views::Section {
        use views::Section as S;
        let rest = self.path.trim_start_matches("/cabinet/");
        match rest.split(['/', '.']).next().unwrap_or("") {
            "transactions" => S::Transactions,
            "terminals" => S::Terminals,
            "credentials" => S::Credentials,
            "cards" => S::Cards,
            "subscriptions" => S::Subscriptions,
            _ => S::Overview,
        }
    }
}

async fn home(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match session::current(&app, &headers).await {
        Ok(Some(_)) => redirect("/cabinet/overview"),
        Ok(None) => redirect("/cabinet/login"),
        Err(e) => error::respond(language(&headers), &e.into()),
    }
}

/// The sign-in form, with a fresh double-submit CSRF token.
fn login_form(app: &AppState, headers: &HeaderMap, status: StatusCode, email: &str, problem: Option<&str>) -> Response {
    let token = session::random_token();
    let secure = session::secure_cookies(app, headers);
    let page = html(status, views::login(language(headers), &token, email, problem));
    with_cookie(page, &session::set_cookie(LOGIN_COOKIE, &token, 3600, secure))
}

async fn login_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = session::current(&app, &headers).await {
        return redirect("/cabinet/overview");
    }
    login_form(&app, &headers, StatusCode::OK, "", None)
}

async fn login(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = language(&headers);
    let w = words(lang);
    let form = form(&body);
    let expected = Secret::from(session::cookie(&headers, LOGIN_COOKIE).unwrap_or(""));
    if !session::csrf_matches(&expected, form.get("csrf").map(String::as_str)) {
        return error::respond(lang, &CabinetError::Csrf);
    }
    let email = form.get("email").map(|e| e.trim().to_string()).unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    if email.len() > 254 || password.len() > 256 {
        return login_form(&app, &headers, StatusCode::UNAUTHORIZED, "", Some(w.bad_credentials));
    }
    match session::sign_in(&app, &email, &password).await {
        Ok(Ok(new)) => {
            let secure = session::secure_cookies(&app, &headers);
            let ttl_secs = session::SESSION_TTL_MS / 1000;
            let response = with_cookie(
                redirect("/cabinet/overview"),
                &session::set_cookie(SESSION_COOKIE, new.id.expose(), ttl_secs, secure),
            );
            with_cookie(response, &session::set_cookie(LOGIN_COOKIE, "", 0, secure))
        }
        Ok(Err(session::SignInRefusal::BadCredentials)) => {
            login_form(&app, &headers, StatusCode::UNAUTHORIZED, &email, Some(w.bad_credentials))
        }
        Ok(Err(session::SignInRefusal::Locked { until_ms })) => {
            let message = format!("{} {}", w.locked, views::date(lang, until_ms));
            login_form(&app, &headers, StatusCode::TOO_MANY_REQUESTS, &email, Some(&message))
        }
        Err(e) => error::respond(lang, &e.into()),
    }
}

async fn logout(signed: Signed, body: Bytes) -> Response {
    let form = form(&body);
    if let Err(e) = signed.check_csrf(&form) {
        return signed.reply(Err(e));
    }
    if let Err(e) = signed.app.store.delete_cabinet_session(&signed.session.id_digest).await {
        return error::respond(signed.lang, &e.into());
    }
    tracing::info!(user_id = %signed.session.user_id, "cabinet sign-out");
    with_cookie(redirect("/cabinet/login"), &session::set_cookie(SESSION_COOKIE, "", 0, false))
}

/// Sets the language cookie and goes back to the cabinet page the link was on.
async fn set_language(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let lang = Lang::parse(&code);
    let back = query
        .get("back")
        .map(String::as_str)
        // Only our own pages: an open redirect would let a link send users anywhere.
        .filter(|b| b.starts_with("/cabinet") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or("/cabinet");
    let secure = session::secure_cookies(&app, &headers);
    with_cookie(redirect(back), &session::set_cookie(LANG_COOKIE, lang.html_code(), 365 * 86_400, secure))
}

async fn stylesheet() -> Response {
    let mut response = assets::css().body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
