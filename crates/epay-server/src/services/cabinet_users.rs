//! Cabinet users: creating one for a merchant (the sandbox seed, `epay cabinet-user`, tests)
//! and how their passwords are kept (argon2id). Signing in is the cabinet's (`cabinet::session`),
//! which uses the same hashing.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use epay_store::{CabinetUser, Store, StoreError};

/// argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's minimum) and a random
/// salt, as a PHC string.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        // Only fails for parameters out of range, and the defaults are in range.
        .unwrap_or_default()
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("a cabinet user with this e-mail already exists")]
    Exists,
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Creates a cabinet user for a merchant (seed, operators, tests).
pub async fn create_user(
    store: &dyn Store,
    merchant_id: &str,
    email: &str,
    password: &str,
    now_ms: i64,
) -> Result<CabinetUser, UserError> {
    let email = normalize_email(email);
    if email.len() > 254 || !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(UserError::Invalid(format!("{email:?} is not an e-mail address")));
    }
    if password.chars().count() < 8 || password.len() > 256 {
        return Err(UserError::Invalid("a cabinet password needs 8 to 256 characters".into()));
    }
    let user = CabinetUser {
        id: epay_domain::ids::uuid(),
        merchant_id: merchant_id.to_string(),
        email,
        password_hash: hash_password(password).into(),
        failed_attempts: 0,
        locked_until: 0,
        created_at: now_ms,
    };
    if store.insert_cabinet_user(&user).await? {
        Ok(user)
    } else {
        Err(UserError::Exists)
    }
}

/// Failures in a row that lock a user, and for how long: the cabinet's sign-in and the password
/// grant (`grant_type=password`) count against the same lock.
pub const MAX_FAILURES: i32 = 5;
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;

/// Why a user's e-mail and password were not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInRefusal {
    /// Unknown e-mail or wrong password: the same answer for both.
    BadCredentials,
    /// Too many failures: refused without looking at the password until then.
    Locked { until_ms: i64 },
}

/// A hash to verify against when the e-mail is unknown, so "no such user" takes as long as
/// "wrong password" and the answer does not tell which e-mails exist.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&crate::services::tokens::new_token_id()))
}

/// Checks a user's e-mail and password (the cabinet's sign-in, the password grant). Each attempt
/// is reserved in the store *before* the password is verified (one statement that counts it only
/// while the e-mail has fewer than [`MAX_FAILURES`] in its window), so parallel attempts cannot
/// all get their password checked; a success gives the reservation back. Unknown e-mails are
/// counted the same way (by the e-mail's digest) and verified against a decoy hash, so the
/// answers and their timing do not tell which exist.
pub async fn authenticate(
    app: &crate::app::App,
    email: &str,
    password: &str,
) -> Result<Result<CabinetUser, SignInRefusal>, StoreError> {
    use crate::platform::keys::digest;
    use crate::services::guard::{Limit, SharedGuard};
    let now = app.clock.now_ms();
    let email = normalize_email(email);
    let guard = SharedGuard { store: app.store.as_ref() };
    let key = format!("cabinet-sign-in:{}", digest(&email));
    let limit = Limit { failures: MAX_FAILURES as u32, window_secs: LOCKOUT_MS / 1000 };
    let attempt = match guard.reserve(&key, limit, now).await? {
        Ok(window) => window,
        Err(t) => return Ok(Err(SignInRefusal::Locked { until_ms: now + t.retry_after_secs as i64 * 1000 })),
    };
    let user = app.store.cabinet_user_by_email(&email).await?;
    // Exactly one argon2 verification, whether the e-mail exists or not.
    let verified = verify_password(user.as_ref().map_or(decoy_hash(), |u| u.password_hash.expose()), password);
    let Some(user) = user.filter(|_| verified) else {
        tracing::warn!(failures = attempt.failures, "cabinet sign-in failed");
        if attempt.failures >= i64::from(MAX_FAILURES) {
            return Ok(Err(SignInRefusal::Locked { until_ms: attempt.expires_ms }));
        }
        return Ok(Err(SignInRefusal::BadCredentials));
    };
    guard.clear(&key).await?;
    Ok(Ok(user))
}

/// What a refresh token remembers of its user's password: a digest of the password's argon2
/// hash (salted, so a new password, even the same one again, gives a new stamp). It tells that
/// the password changed, nothing about the password.
pub fn password_stamp(user: &CabinetUser) -> String {
    crate::platform::keys::digest(user.password_hash.expose())
}
