//! Paying with a cryptogram (`/payment/cryptopay`, facts §5): the card is opened under the abuse
//! limits, then paid like any card the payer typed.

use epay_store::{TokenRecord, TokenSpend};

use super::command::{read, EnteredCard, PayWithCryptogram};
use super::error::{bad, internal, PaymentError, TOKEN_USED};
use super::execute::{execute, CardSource};
use super::order::Order;
use super::payer::Payer;
use crate::app::App;
use crate::platform::cryptogram::{Cryptogram, CryptogramCard};
use crate::wire::PaymentAnswer;

/// The one answer to every cryptogram that does not give a card for the token's terminal:
/// badly padded, not JSON, a field missing or invalid, another terminal. One answer, reached
/// by one path (implicit rejection), so it cannot serve as a padding oracle (docs/security.md).
pub const CRYPTOGRAM_REFUSED: &str =
    "cryptogram is not valid: encrypt {\"hpan\",\"expDate\",\"cvc\",\"terminalId\"} with the key from /public.rsa";

/// Pays with the card in a cryptogram: the order first, then the cryptogram.
pub async fn pay_with_cryptogram(
    app: &App,
    payer: Payer,
    command: PayWithCryptogram,
) -> Result<PaymentAnswer, PaymentError> {
    let Payer { token, terminal } = payer;
    let order = Order::check(&command.order, &token, &terminal, app.config.mode)?;
    let cryptogram = read(&command.cryptogram)?.ok_or_else(|| bad("field cryptogram is required"))?;
    let card = open(app, &token, &terminal.id, &cryptogram, command.from).await?;
    execute(app, token, terminal, order, CardSource::Entered(card), &command.acs_url, TokenSpend::Always).await
}

/// Decrypts a cryptogram under the abuse limits: the address must not have failed too often,
/// and each token allows only a few cryptograms (reserved before decrypting, so parallel
/// probes cannot pass together). A token that used them up is spent: it pays nothing more.
async fn open(
    app: &App,
    token: &TokenRecord,
    terminal_id: &str,
    cryptogram: &Cryptogram,
    from: Option<std::net::IpAddr>,
) -> Result<EnteredCard, PaymentError> {
    use crate::services::guard::{cryptogram_address_key, Limit, Limits, SharedGuard};
    let limits = Limits::from_config(&app.config);
    let guard = SharedGuard { store: app.store.as_ref() };
    let now = app.clock.now_ms();
    let too_many =
        |t: crate::services::guard::TooMany| PaymentError::TooManyAttempts { retry_after_secs: t.retry_after_secs };
    let address: Vec<(String, Limit)> = cryptogram_address_key(from, &limits).into_iter().collect();
    guard.check_all(&address, now).await.map_err(internal)?.map_err(too_many)?;
    let per_token = Limit { failures: limits.cryptogram_per_token, window_secs: (token.expires_at - now) / 1000 + 1 };
    let token_key = format!("cryptogram-token:{}", token.token_digest);
    let attempts = match guard.reserve(&token_key, per_token, now).await.map_err(internal)? {
        Ok(window) => window.failures,
        Err(_) => {
            app.store.spend_token(&token.token_digest, token.expires_at, now).await.map_err(internal)?;
            return Err(PaymentError::Unauthorized(TOKEN_USED.into()));
        }
    };
    let refused = match card_for(app.keys.open_cryptogram(cryptogram), terminal_id) {
        Ok(card) => return Ok(card),
        Err(refused) => refused,
    };
    guard.fail_all(&address, now).await.map_err(internal)?;
    if per_token.failures > 0 && attempts >= i64::from(per_token.failures) {
        app.store.spend_token(&token.token_digest, token.expires_at, now).await.map_err(internal)?;
    }
    Err(refused)
}

/// The card of an opened cryptogram, if it is one for `terminal_id` (a `terminalId`, when
/// given, must be the token's). Every refusal is the same [`CRYPTOGRAM_REFUSED`].
pub(crate) fn card_for(opened: Option<CryptogramCard>, terminal_id: &str) -> Result<EnteredCard, PaymentError> {
    opened
        .filter(|card| card.terminal_id.as_deref().is_none_or(|t| t.trim() == terminal_id))
        .map(|CryptogramCard { pan, expiry, cvc, .. }| EnteredCard { pan, expiry, cvc })
        .ok_or_else(|| bad(CRYPTOGRAM_REFUSED))
}
