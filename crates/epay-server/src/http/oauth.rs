//! `POST /oauth2/token` and `/epay2/oauth2/token`: form-urlencoded, multipart or JSON bodies.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::services::tokens::{self, TokenError};
use crate::wire::Fields;

/// Largest token request we read (a few short fields).
const MAX_FORM_BYTES: usize = 64 * 1024;

pub async fn token(State(app): State<AppState>, request: Request) -> Response {
    // The peer address, when the server was started with connection info (`epay serve` is).
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().copied();
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(e) => return e.into_response(),
    };
    match tokens::issue(&app, &form, peer.map(|p| p.0.ip())).await {
        Ok(token) => Json(token).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn read_form(request: Request) -> Result<Fields, TokenError> {
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
        return Ok(Fields::from_pairs(pairs));
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
        .await
        .map_err(|_| invalid("request body too large or unreadable"))?;
    if content_type.starts_with("application/json") {
        return Fields::from_json(&body).map_err(|e| TokenError::InvalidRequest(e.0));
    }
    // ePay's docs say form-data; clients send x-www-form-urlencoded too (facts §2). Without a
    // content type we read the body as urlencoded.
    if std::str::from_utf8(&body).is_err() {
        return Err(invalid("form body is not UTF-8"));
    }
    Ok(Fields::from_pairs(url::form_urlencoded::parse(&body).into_owned()))
}
