//! Signing in to the cabinet: argon2id password hashes, a lockout after repeated failures,
//! sessions kept as digests of random ids, and the per-session CSRF token.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use epay_domain::Secret;
use epay_store::{CabinetSession, StoreError};
use rand::Rng;

use crate::app::App;
use crate::platform::keys::digest;

pub use crate::services::cabinet_users::{LOCKOUT_MS, MAX_FAILURES};
/// A session ends 8 hours after sign-in (a working day), whatever happens in between.
pub const SESSION_TTL_MS: i64 = 8 * 3600 * 1000;

pub const SESSION_COOKIE: &str = "epay_cabinet";
/// Before sign-in there is no session: the sign-in form's CSRF token is a double-submit
/// cookie (same random value in this cookie and in the form).
pub const LOGIN_COOKIE: &str = "epay_cabinet_login";
pub const LANG_COOKIE: &str = "epay_cabinet_lang";

/// 32 random bytes as hex: session ids and CSRF tokens.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::thread_rng().gen();
    hex::encode(bytes)
}

pub use crate::services::cabinet_users::SignInRefusal;

/// A new session: the id goes into the cookie and is never stored.
pub struct NewSession {
    pub id: Secret,
    pub session: CabinetSession,
}

/// Signs in. Each attempt is reserved in the store *before* the password is verified (one
/// statement that counts it only while the e-mail has fewer than [`MAX_FAILURES`] in its
/// window), so parallel attempts cannot all get their password checked; a success gives the
/// reservation back. Unknown e-mails are counted the same way (by the e-mail's digest) and
/// verified against a decoy hash, so the answers and their timing do not tell which exist.
pub async fn sign_in(app: &App, email: &str, password: &str) -> Result<Result<NewSession, SignInRefusal>, StoreError> {
    let now = app.clock.now_ms();
    let user = match crate::services::cabinet_users::authenticate(app, email, password).await? {
        Ok(user) => user,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let id = random_token();
    let session = CabinetSession {
        id_digest: digest(&id),
        user_id: user.id.clone(),
        merchant_id: user.merchant_id.clone(),
        csrf_token: random_token().into(),
        expires_at: now + SESSION_TTL_MS,
        created_at: now,
        email: user.email.clone(),
    };
    app.store.insert_cabinet_session(&session, now).await?;
    tracing::info!(user_id = %user.id, merchant_id = %user.merchant_id, "cabinet sign-in");
    Ok(Ok(NewSession { id: id.into(), session }))
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The session the request's cookie names, if it is still valid.
pub async fn current(app: &App, headers: &HeaderMap) -> Result<Option<CabinetSession>, StoreError> {
    let Some(id) = cookie(headers, SESSION_COOKIE).filter(|id| id.len() == 64) else {
        return Ok(None);
    };
    app.store.cabinet_session(&digest(id), app.clock.now_ms()).await
}

/// Compares a submitted CSRF token with the expected one in constant time.
pub fn csrf_matches(expected: &Secret, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| !expected.expose().is_empty() && *expected == Secret::from(s))
}

/// `Secure` cookies when the browser reaches us over HTTPS: the gateway serves TLS itself, its
/// public URL is https, or a proxy says so. A plain-http localhost (the sandbox, the browser
/// tests) gets none, because a browser would not send a Secure cookie back over http.
pub fn secure_cookies(app: &App, headers: &HeaderMap) -> bool {
    app.config.tls_cert_path.is_some()
        || app.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
        || headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, limited to the cabinet's paths.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/cabinet; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::cabinet_users::{hash_password, verify_password};

    #[test]
    fn argon2id_hashes_verify_and_differ() {
        let a = hash_password("XZG1E@Mm");
        let b = hash_password("XZG1E@Mm");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "random salt");
        assert!(verify_password(&a, "XZG1E@Mm"));
        assert!(!verify_password(&a, "xzg1e@mm"));
        assert!(!verify_password("not a hash", "XZG1E@Mm"));
    }

    #[test]
    fn reads_cookies() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "a=1; epay_cabinet=abc ; b=2".parse().unwrap());
        assert_eq!(cookie(&h, "epay_cabinet"), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn csrf_needs_the_same_token() {
        assert!(csrf_matches(&"abc".into(), Some("abc")));
        assert!(!csrf_matches(&"abc".into(), Some("abd")));
        assert!(!csrf_matches(&"abc".into(), None));
        assert!(!csrf_matches(&"".into(), Some("")));
    }

    #[test]
    fn cookies_are_strict() {
        let c = set_cookie("epay_cabinet", "x", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("; Secure"));
        assert!(!set_cookie("epay_cabinet", "x", 60, false).contains("Secure"));
    }
}
