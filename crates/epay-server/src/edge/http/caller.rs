//! The API's caller: the request's `Authorization: Bearer …` token, authenticated at the edge.
//!
//! A handler names the surface whose error shape answers a refused token, and gets the
//! [`Caller`] it hands to the service:
//!
//! ```ignore
//! pub async fn list(Bearer(caller, _): Bearer<PaymentError>, …) -> Response
//! ```
//!
//! A missing, malformed, unknown or expired token is answered by `E::from(BearerError)` (the
//! surface's 401, or its 500 when the store cannot be read), exactly as each service answered it
//! when it read the header itself. A handler that must read its input before refusing the token
//! (operations answer a bad body before a missing token), or that takes the body (a body over the
//! size limit is refused first), takes `Result<Bearer<E>, Response>` and answers the refusal itself.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use epay_store::TokenRecord;

use crate::app::AppState;
use crate::services::auth::{self, BearerError, Caller};

/// The authenticated caller of an API request; `E` is the surface error a refusal is answered in.
pub struct Bearer<E>(pub Caller, pub PhantomData<fn() -> E>);

impl<E> FromRequestParts<AppState> for Bearer<E>
where
    E: From<BearerError> + IntoResponse,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        match authenticate(app, authorization(&parts.headers)).await {
            Ok(token) => Ok(Bearer(Caller::Token(token), PhantomData)),
            Err(e) => Err(E::from(e).into_response()),
        }
    }
}

/// The request's caller, or why its token is refused, for a handler that learns from the body
/// which surface answers a refusal (`/payments/cards/auth` takes saved-card payments and, as
/// seed 001 sends them, P2P transfers). The token is looked up once, here, like [`Bearer`]'s.
pub struct Authenticated(pub Result<Caller, BearerError>);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Authenticated(authenticate(app, authorization(&parts.headers)).await.map(Caller::Token)))
    }
}

/// Pulls the token out of an `Authorization: Bearer …` header value (scheme case-insensitive).
pub fn bearer_token(header: Option<&str>) -> Result<&str, BearerError> {
    let value = header.ok_or(BearerError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(BearerError::Missing);
    }
    Ok(token.trim())
}

/// The token of an `Authorization` header value, known and unexpired (for the few edges that
/// read the header themselves: the Idempotency-Key layer, the sandbox routes).
pub async fn authenticate(app: &AppState, header: Option<&str>) -> Result<TokenRecord, BearerError> {
    auth::token(app, bearer_token(header)?).await
}

/// The token of a request's `Authorization` header.
pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer() {
        assert_eq!(bearer_token(Some("Bearer ABC")), Ok("ABC"));
        assert_eq!(bearer_token(Some("bearer  ABC ")), Ok("ABC"));
        assert_eq!(bearer_token(Some("Basic ABC")), Err(BearerError::Missing));
        assert_eq!(bearer_token(Some("Bearer")), Err(BearerError::Missing));
        assert_eq!(bearer_token(None), Err(BearerError::Missing));
    }
}
