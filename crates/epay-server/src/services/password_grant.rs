//! The password grant of the invoice-link API (facts §2.4): a cabinet user's e-mail and password
//! with the merchant's `client_id` and `client_secret`, and its refresh tokens.
//!
//! - The access token is a service token of the user's merchant (no terminal, no invoice), sealed
//!   like every token and living [`ACCESS_TTL_SECS`] (ePay's `"900"`). It allows nothing the
//!   client credentials alone would not: the grant needs the client secret too.
//! - Wrong passwords count against the cabinet's lockout of that e-mail
//!   (`cabinet_users::authenticate`), and wrong client secrets against the token endpoint's.
//! - A refresh token is a capability bound to one user of one merchant: 256 random bits of which
//!   the store keeps only the SHA-256 digest. It is single use: a refresh spends it in one
//!   statement and issues a new one (rotation), so a copied token works at most once, for
//!   whichever of its holders is first. It is refused once the user's password changes (its
//!   `password_stamp`) or the merchant's secret rotates (its `generation`).

use epay_domain::Secret;
use epay_store::{RefreshToken, TokenRecord};

use crate::app::App;
use crate::platform::keys::digest;
use crate::services::cabinet_users::{self, password_stamp, SignInRefusal};
use crate::services::tokens::{self, Client, TokenError};

/// The access token's lifetime: ePay's password grant answers `expires_in: "900"`.
pub const ACCESS_TTL_SECS: i64 = 900;
/// A refresh token's lifetime: a working week without a new password sign-in.
pub const REFRESH_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// What the password grant answers (facts §2.2, §2.4): `expires_in` is a string here, as ePay's
/// example shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PasswordTokenResponse {
    #[serde(serialize_with = "epay_domain::secret::serialize_exposed")]
    #[schema(value_type = String)]
    pub access_token: Secret,
    /// `"900"`.
    pub expires_in: String,
    /// Single use: a refresh answers a new one.
    #[serde(serialize_with = "epay_domain::secret::serialize_exposed")]
    #[schema(value_type = String)]
    pub refresh_token: Secret,
    pub scope: String,
    pub token_type: String,
}

fn internal(e: epay_store::StoreError) -> TokenError {
    tracing::error!(error = %e, "password grant storage failed");
    TokenError::Internal
}

const BAD_USER: &str = "the username or password is wrong";
const BAD_REFRESH: &str = "the refresh token is unknown, expired, already used or revoked";

/// `grant_type=password`: the client (already authenticated) and its cabinet user's e-mail and
/// password.
pub async fn password(
    app: &App,
    client: &Client,
    username: &str,
    password: &str,
) -> Result<PasswordTokenResponse, TokenError> {
    let user = match cabinet_users::authenticate(app, username, password).await.map_err(internal)? {
        Ok(user) => user,
        Err(SignInRefusal::BadCredentials) => return Err(TokenError::InvalidGrant(BAD_USER.into())),
        Err(SignInRefusal::Locked { until_ms }) => {
            let secs = ((until_ms - app.clock.now_ms()).max(1000) + 999) / 1000;
            return Err(TokenError::TooManyAttempts(secs as u64));
        }
    };
    // The user must be the client's merchant's: another merchant's user is a wrong user.
    if user.merchant_id != client.merchant_id() {
        return Err(TokenError::InvalidGrant(BAD_USER.into()));
    }
    issue(app, client, &user.id, &password_stamp(&user), client.scope()).await
}

/// `grant_type=refresh_token`: spends the refresh token and issues a new pair.
pub async fn refresh(app: &App, client: &Client, refresh_token: &str) -> Result<PasswordTokenResponse, TokenError> {
    let refused = || TokenError::InvalidGrant(BAD_REFRESH.into());
    let now = app.clock.now_ms();
    // Spent before anything else is checked: a refused token stays spent, so a thief who
    // raced the owner gains nothing by retrying.
    let row = app.store.take_refresh_token(&digest(refresh_token.trim()), now).await.map_err(internal)?;
    let row = row.ok_or_else(refused)?;
    if row.merchant_id != client.merchant_id() || row.generation != client.token_generation() {
        return Err(refused());
    }
    let user = app.store.cabinet_user_by_id(&row.user_id).await.map_err(internal)?.ok_or_else(refused)?;
    if user.merchant_id != row.merchant_id || password_stamp(&user) != row.password_stamp {
        return Err(refused());
    }
    issue(app, client, &user.id, &row.password_stamp, &row.scope).await
}

/// A new access token and a new refresh token for one user of the client's merchant.
async fn issue(
    app: &App,
    client: &Client,
    user_id: &str,
    stamp: &str,
    scope: &str,
) -> Result<PasswordTokenResponse, TokenError> {
    let now = app.clock.now_ms();
    let access = TokenRecord {
        token_digest: tokens::new_token_id(),
        merchant_id: client.merchant_id().to_string(),
        terminal_id: None,
        scope: scope.to_string(),
        invoice_id: None,
        amount_minor: None,
        currency: None,
        post_link: String::new(),
        failure_post_link: String::new(),
        secret_hash: None,
        transfer_kind: None,
        account_id: None,
        generation: client.token_generation(),
        expires_at: now + ACCESS_TTL_SECS * 1000,
        used_at: None,
        created_at: now,
    };
    let refresh = format!("{}{}", tokens::new_token_id(), tokens::new_token_id()).to_ascii_uppercase();
    app.store
        .insert_refresh_token(&RefreshToken {
            id_digest: digest(&refresh),
            user_id: user_id.to_string(),
            merchant_id: client.merchant_id().to_string(),
            scope: scope.to_string(),
            password_stamp: stamp.to_string(),
            generation: client.token_generation(),
            expires_at: now + REFRESH_TTL_MS,
            used_at: None,
            created_at: now,
        })
        .await
        .map_err(internal)?;
    Ok(PasswordTokenResponse {
        access_token: Secret::new(tokens::seal(&app.keys, &access)),
        expires_in: ACCESS_TTL_SECS.to_string(),
        refresh_token: Secret::new(refresh),
        scope: scope.to_string(),
        token_type: "Bearer".into(),
    })
}
