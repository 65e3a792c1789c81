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
