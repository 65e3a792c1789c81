//! `POST /oauth2/token` and `/epay2/oauth2/token`: form-urlencoded, multipart or JSON bodies.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;

use epay_domain::{Amount, Currency, InvoiceId, Scope, Secret, TransferKind};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::{App, AppState};
use crate::platform::config::Mode;
use crate::services::password_grant;
use crate::services::tokens::{self, Binding, Credentials, TokenError};
use crate::wire::lenient::{self, Body, Checked};
use crate::wire::{FieldError, JsonAmount, TokenResponse};

/// `POST /oauth2/token` (facts §2): `multipart/form-data`, `application/x-www-form-urlencoded`
/// or a JSON object; a body without a `Content-Type` is read as urlencoded. At most 64 KiB.
///
/// A token **with** `invoiceID` is a payment (or transfer) token bound to that invoice, amount,
/// currency and terminal, spent by one payment. A token **without** it is a service token (or,
/// with scope `transfer`, a transfer token for any order).
//
// Every field keeps its own fault: the client is authenticated before what the token is bound to
// is read, and each fault is reported in that order (`issue`).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `client_credentials`; `password` and `refresh_token` for the invoice-link API (facts §2.4).
    #[schema(value_type = String, example = "client_credentials")]
    grant_type: Option<Checked<String>>,
    /// Space-separated words from `payment`, `transfer`, `webapi`, `usermanagement`,
    /// `email_send`, `verification`, `statement`, `statistics`, `api`.
    #[schema(value_type = String, example = "payment")]
    scope: Option<Checked<String>>,
    #[schema(value_type = String, example = "test")]
    client_id: Option<Checked<String>>,
    #[schema(value_type = String, example = "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG")]
    client_secret: Option<Checked<String>>,
    /// The terminal (also `terminalId`, `terminal_id`); required with `invoiceID`.
    #[serde(rename(deserialize = "terminal|terminalId|terminal_id"))]
    #[schema(value_type = Option<String>, example = "67e34d63-102f-4bd1-898e-370781d0074d")]
    terminal: Option<Checked<String>>,
    /// 6–15 digits (16 if the scope has `transfer`); also `invoiceId`, `invoice_id`.
    #[serde(rename(deserialize = "invoiceID|invoiceId|invoice_id"))]
    #[schema(rename = "invoiceID", value_type = Option<String>, example = "000000001")]
    invoice_id: Option<Checked<String>>,
    /// Required with `invoiceID`; `0` for a card verification.
    #[schema(value_type = Option<JsonAmount>)]
    amount: Option<Checked<Amount>>,
    /// Default `KZT` with `invoiceID`; `KZT`, `USD`, `EUR` or `RUB`.
    #[serde(rename(deserialize = "currency|curency"))]
    #[schema(value_type = Option<String>, example = "KZT")]
    currency: Option<Checked<Currency>>,
    /// http(s) URL for the success callback, used when the payment request has none.
    #[serde(rename(deserialize = "postLink|post_link"))]
    #[schema(rename = "postLink", value_type = Option<String>)]
    post_link: Option<Checked<String>>,
    /// http(s) URL for the failure callback.
    #[serde(rename(deserialize = "failurePostLink|failure_post_link"))]
    #[schema(rename = "failurePostLink", value_type = Option<String>)]
    failure_post_link: Option<Checked<String>>,
    /// Echoed in callbacks.
    #[serde(rename(deserialize = "secret_hash|secretHash"))]
    #[schema(value_type = Option<String>)]
    secret_hash: Option<Checked<String>>,
    /// A transfer token for one kind of transfer only: `P2P`, `AFT` or `OCT` (scope `transfer`;
    /// `AFT` and `OCT` need `invoiceID` and `amount`).
    #[serde(rename(deserialize = "transferKind|transfer_kind"))]
    #[schema(rename = "transferKind", value_type = Option<String>)]
    transfer_kind: Option<Checked<String>>,
    /// The customer the token is for (also `accountID`, `account_id`): the payment page shows and
    /// saves only this customer's cards.
    #[serde(rename(deserialize = "accountId|accountID|account_id"))]
    #[schema(rename = "accountId", value_type = Option<String>)]
    account_id: Option<Checked<String>>,
    /// `grant_type=password`: the cabinet user's e-mail.
    #[schema(value_type = Option<String>, example = "epay@halykbank.kz")]
    username: Option<Checked<String>>,
    /// `grant_type=password`: the cabinet user's password.
    #[schema(value_type = Option<String>)]
    password: Option<Checked<String>>,
    /// `grant_type=refresh_token`: the refresh token a password grant (or a refresh) answered.
    #[schema(value_type = Option<String>)]
    refresh_token: Option<Checked<String>>,
}

/// A text field of a token request: absent, its text, or `invalid_request`.
fn text(field: &Option<Checked<String>>) -> Result<Option<String>, TokenError> {
    lenient::given(field.clone()).map_err(invalid_field)
}

fn invalid_field(e: FieldError) -> TokenError {
    TokenError::InvalidRequest(e.0)
}

/// Largest token request we read (a few short fields).
const MAX_FORM_BYTES: usize = 64 * 1024;

pub async fn token(State(app): State<AppState>, request: Request) -> Response {
    // The peer address, when the server was started with connection info (`epay serve` is).
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().copied();
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(e) => return e.into_response(),
    };
    let grant = text(&form.grant_type).ok().flatten().unwrap_or_default();
    if grant == "password" || grant == "refresh_token" {
        return match user_grant(&app, &form, &grant, peer.map(|p| p.0.ip())).await {
            Ok(token) => Json(token).into_response(),
            Err(e) => e.into_response(),
        };
    }
    match issue(&app, &form, peer.map(|p| p.0.ip())).await {
        Ok(token) => Json(token).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The invoice-link API's grants (facts §2.4): `password` (a cabinet user's e-mail and password)
/// and `refresh_token`, both with the merchant's client id and secret, authenticated first and
/// limited like every token request.
async fn user_grant(
    app: &App,
    form: &TokenRequest,
    grant: &str,
    from: Option<std::net::IpAddr>,
) -> Result<password_grant::PasswordTokenResponse, TokenError> {
    let required = |field: &Option<Checked<String>>, name: &str| {
        text(field)?.filter(|v| !v.is_empty()).ok_or_else(|| TokenError::InvalidRequest(format!("{name} is required")))
    };
    let mut credentials = client_credentials(form)?;
    if grant == "password" {
        if credentials.scope.trim().is_empty() {
            return Err(TokenError::InvalidScope("scope is required".into()));
        }
        let username = required(&form.username, "username")?;
        let password = required(&form.password, "password")?;
        let client = tokens::client(app, credentials, from).await?;
        password_grant::password(app, &client, &username, &password).await
    } else {
        let refresh = required(&form.refresh_token, "refresh_token")?;
        // The refresh keeps the scope it was issued with; the request's is not read.
        credentials.scope = String::new();
        let client = tokens::client(app, credentials, from).await?;
        password_grant::refresh(app, &client, &refresh).await
    }
}

/// A token for a request's form: its client is authenticated before what the token is bound to
/// is read, so a wrong secret is answered as such whatever else the form holds. The demo shop
/// asks for its tokens here too.
pub(crate) async fn issue(
    app: &App,
    form: &TokenRequest,
    from: Option<std::net::IpAddr>,
) -> Result<TokenResponse, TokenError> {
    let client = tokens::client(app, read_credentials(form)?, from).await?;
    let binding = read_binding(form, client.scope(), app.config.mode)?;
    tokens::issue(app, &client, binding).await
}

pub(crate) async fn read_form(request: Request) -> Result<TokenRequest, TokenError> {
    read_body(request).await?.read().map_err(invalid_field)
}

/// The token request's fields, from whichever kind of body it has.
async fn read_body(request: Request) -> Result<Body, TokenError> {
    let content_type =
        request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let invalid = |m: &str| TokenError::InvalidRequest(m.to_string());
    if content_type.starts_with("multipart/form-data") {
        let mut multipart =
            Multipart::from_request(request, &()).await.map_err(|_| invalid("malformed multipart body"))?;
        let mut pairs = Vec::new();
        let mut total = 0usize;
        while let Some(field) = multipart.next_field().await.map_err(|_| invalid("malformed multipart body"))? {
            let name = field.name().unwrap_or_default().to_string();
            let value = field.text().await.map_err(|_| invalid("malformed multipart field"))?;
            total += name.len() + value.len();
            if total > MAX_FORM_BYTES {
                return Err(invalid("request body too large"));
            }
            pairs.push((name, value));
        }
        return Ok(Body::pairs(pairs));
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
        .await
        .map_err(|_| invalid("request body too large or unreadable"))?;
    if content_type.starts_with("application/json") {
        return Body::json(&body).map_err(invalid_field);
    }
    // ePay's docs say form-data; clients send x-www-form-urlencoded too (facts §2). Without a
    // content type we read the body as urlencoded.
    if std::str::from_utf8(&body).is_err() {
        return Err(invalid("form body is not UTF-8"));
    }
    Ok(Body::pairs(url::form_urlencoded::parse(&body).into_owned()))
}

/// The client and scope of a token request (ePay's field names, facts §2).
pub(crate) fn read_credentials(form: &TokenRequest) -> Result<Credentials, TokenError> {
    let grant = text(&form.grant_type)?.ok_or_else(|| TokenError::InvalidRequest("grant_type is required".into()))?;
    if grant != "client_credentials" {
        return Err(TokenError::UnsupportedGrantType(format!(
            "grant_type {grant:?} is not supported; use client_credentials, password or refresh_token"
        )));
    }
    let credentials = client_credentials(form)?;
    if credentials.scope.split_whitespace().next().is_none() {
        return Err(TokenError::InvalidScope("scope is required (payment, transfer or the service scope)".into()));
    }
    Ok(credentials)
}

/// The client id, secret and scope of any grant; every scope word must be known (an empty scope
/// is the caller's to refuse).
fn client_credentials(form: &TokenRequest) -> Result<Credentials, TokenError> {
    let client_id = text(&form.client_id)?.ok_or_else(|| TokenError::InvalidRequest("client_id is required".into()))?;
    let secret =
        text(&form.client_secret)?.ok_or_else(|| TokenError::InvalidRequest("client_secret is required".into()))?;
    let scope = text(&form.scope)?.unwrap_or_default();
    let words: Vec<&str> = scope.split_whitespace().collect();
    // A scope is any space-separated set of ePay's scope words (facts §2.3); the token keeps the
    // text as asked.
    if let Some(bad) = words.iter().find(|w| w.parse::<Scope>().is_err()) {
        return Err(TokenError::InvalidScope(format!("unknown scope {bad:?}")));
    }
    Ok(Credentials { client_id, secret: Secret::new(secret), scope })
}

/// What the token request binds the new token to: terminal, invoice, amount, links and the
/// extensions (docs/compatibility.md), with ePay's aliases.
pub(crate) fn read_binding(form: &TokenRequest, scope: &str, mode: Mode) -> Result<Binding, TokenError> {
    let invalid = |msg: String| TokenError::InvalidRequest(msg);
    let terminal_id = text(&form.terminal)?.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let invoice = text(&form.invoice_id)?.filter(|s| !s.trim().is_empty());
    // Transfer order ids may have 16 digits (seed 001's example does).
    let transfer = Scope::Transfer.is_in(scope);
    let invoice = invoice
        .map(|s| {
            let parsed = if transfer { InvoiceId::parse_transfer_order(&s) } else { InvoiceId::parse(&s) };
            parsed.map_err(|e| invalid(format!("invoiceID: {e}")))
        })
        .transpose()?;
    let amount = lenient::given(form.amount.clone()).map_err(invalid_field)?;
    let currency = lenient::given(form.currency.clone()).map_err(invalid_field)?;
    if invoice.is_some() && amount.is_none() {
        return Err(invalid("amount is required with invoiceID".into()));
    }
    if invoice.is_some() && terminal_id.is_none() {
        return Err(invalid("terminal is required with invoiceID".into()));
    }
    let post_link = text(&form.post_link)?.unwrap_or_default();
    let failure_post_link = text(&form.failure_post_link)?.unwrap_or_default();
    let secret_hash = text(&form.secret_hash)?.filter(|s| !s.is_empty()).map(Secret::new);
    for (name, url) in [("postLink", &post_link), ("failurePostLink", &failure_post_link)] {
        crate::services::links::check_link(name, url, mode).map_err(|e| invalid(format!("{name}: {e}")))?;
    }
    let transfer_kind = text(&form.transfer_kind)?
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            crate::services::transfers::kind_named(&s).ok_or_else(|| {
                let kinds: Vec<&str> = TransferKind::ALL.iter().map(|k| k.as_str()).collect();
                invalid(format!("transferKind {s:?} is not one of {}", kinds.join(", ")))
            })
        })
        .transpose()?;
    if transfer_kind.is_some() && !transfer {
        return Err(invalid("transferKind needs the transfer scope".into()));
    }
    // A payout moves the merchant's money, and an AFT credits the shopper with what they paid:
    // the order and its amount are the merchant's to fix, never the page's.
    if let Some(kind @ (TransferKind::Oct | TransferKind::Aft)) = transfer_kind {
        if invoice.is_none() || amount.is_none() {
            return Err(invalid(format!(
                "transferKind {} needs invoiceID, amount and terminal: the merchant fixes its order and amount",
                kind.as_str()
            )));
        }
    }
    let account_id = text(&form.account_id)?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(Binding {
        terminal_id,
        invoice,
        amount,
        currency,
        post_link,
        failure_post_link,
        secret_hash,
        transfer_kind,
        account_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(json: &str) -> TokenRequest {
        lenient::from_json(json.as_bytes()).unwrap()
    }

    fn invalid(result: Result<impl std::fmt::Debug, TokenError>) -> String {
        match result {
            Err(TokenError::InvalidRequest(message)) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_credentials_are_read_before_what_the_token_is_bound_to() {
        let request = form(r#"{"client_id":"c","client_secret":"s","scope":"payment","terminal":[],"amount":"x"}"#);
        assert_eq!(invalid(read_credentials(&request)), "grant_type is required");
        let request = form(
            r#"{"grant_type":"client_credentials","Client_Id":7,"client_secret":"s","scope":"payment","terminal":[]}"#,
        );
        assert_eq!(read_credentials(&request).unwrap().client_id, "7");
        assert_eq!(invalid(read_binding(&request, "payment", Mode::Sandbox)), "field terminal must be a string");
        assert_eq!(invalid(read_credentials(&form(r#"{"grant_type":true}"#))), "field grant_type must be a string");
    }

    #[test]
    fn the_binding_takes_epay_spellings_in_their_order() {
        let request = form(
            r#"{"terminal_id":"t3","terminalId":" t2 ","invoice_id":"000000002","INVOICEID":"000000001",
                "amount":100.5,"curency":"usd","secretHash":"h","transfer_kind":"","account_id":"a"}"#,
        );
        let b = read_binding(&request, "payment", Mode::Sandbox).unwrap();
        assert_eq!(b.terminal_id.as_deref(), Some("t2"));
        assert_eq!(b.invoice.map(|i| i.as_str().to_string()).as_deref(), Some("000000002"));
        assert_eq!((b.amount.map(|a| a.minor()), b.currency), (Some(10_050), Some(Currency::Usd)));
        assert_eq!((b.secret_hash.is_some(), b.transfer_kind, b.account_id.as_deref()), (true, None, Some("a")));
        let refused = invalid(read_binding(&form(r#"{"amount":"1.001"}"#), "payment", Mode::Sandbox));
        assert_eq!(refused, "field amount: amount must have at most 2 decimal places");
    }
}
