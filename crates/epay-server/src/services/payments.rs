//! Card payments: by RSA cryptogram (`/payment/cryptopay`, facts §5) and by saved card
//! (`/payments/cards/auth`, seed 003). Both end in [`execute`], which asks the card network and
//! records the outcome in one store transaction.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use epay_domain::{
    ids, Amount, CardBrand, Currency, Cvc, Description, Expiry, InvoiceId, Pan, PaymentKind, ReasonCode, Scope,
    TxStatus,
};
use epay_network::{AuthRequest, Authorization};
use epay_store::{
    CardToSave, DebitKind, Payment, PaymentEffect, PaymentWrite, SavedCard, StoreError, Terminal, TokenRecord,
    TokenSpend,
};

use crate::app::App;
use crate::platform::clock::year_month;
use crate::services::auth::{has_scope, BearerError, Caller};
use crate::services::idempotency;
use crate::services::{attempts, capability};
use crate::wire::{echoed, language_code, Fields, JsonAmount, PaymentAnswer, PaymentResponse, ThreeDResponse};

/// Errors of the payment surface; `http::payments` maps each to ePay's `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// The card network (or the ledger) declined; the attempt is recorded with this reason.
    #[error("{}", reason.message)]
    Declined { reason: ReasonCode, transaction_id: String },
    /// Too many declined attempts for this card or terminal (card testing); nothing recorded.
    #[error("too many declined attempts; retry after {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The invoice had every attempt its terminal allows, all declined: reason 2740, final
    /// (docs/compatibility.md §48); nothing recorded.
    #[error("{0}")]
    AttemptsExhausted(String),
    #[error("internal error")]
    Internal,
}

impl From<crate::wire::FieldError> for PaymentError {
    fn from(e: crate::wire::FieldError) -> Self {
        PaymentError::BadRequest(e.0)
    }
}

impl From<BearerError> for PaymentError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Storage => PaymentError::Internal,
            other => PaymentError::Unauthorized(other.to_string()),
        }
    }
}

fn bad(msg: impl Into<String>) -> PaymentError {
    PaymentError::BadRequest(msg.into())
}

fn internal(e: StoreError) -> PaymentError {
    tracing::error!(error = %e, "payment storage failed");
    PaymentError::Internal
}

/// A new attempt at `invoice` the store refused (docs/compatibility.md §48), or a failure.
fn attempt_refused(e: StoreError, invoice: &str) -> PaymentError {
    match attempts::refused(&e, "invoiceId", invoice) {
        Some(attempts::Refused::Held(message)) => PaymentError::Conflict(message),
        Some(attempts::Refused::Exhausted(message)) => PaymentError::AttemptsExhausted(message),
        None => internal(e),
    }
}

/// The order part of a payment request, checked against the token it came with.
#[derive(Debug)]
pub(crate) struct Order {
    invoice_id: InvoiceId,
    invoice_id_alt: String,
    amount: Amount,
    currency: Currency,
    description: Description,
    account_id: String,
    email: String,
    phone: String,
    payer_name: String,
    language: String,
    post_link: String,
    failure_post_link: String,
    back_link: String,
    failure_back_link: String,
    data: String,
    card_save: bool,
}

impl Order {
    pub(crate) fn parse(
        f: &Fields,
        token: &TokenRecord,
        terminal: &Terminal,
        mode: crate::platform::config::Mode,
    ) -> Result<Order, PaymentError> {
        let invoice_id =
            InvoiceId::parse(&f.req_str(&["invoiceId", "invoiceID"])?).map_err(|e| bad(format!("invoiceId: {e}")))?;
        let invoice_id_alt = f.str_or_empty(&["invoiceIdAlt"])?;
        if !invoice_id_alt.is_empty() {
            InvoiceId::parse(&invoice_id_alt).map_err(|e| bad(format!("invoiceIdAlt: {e}")))?;
        }
        let amount = f.req_amount(&["amount"])?;
        let currency = match f.opt_currency(&["currency"])? {
            Some(c) => c,
            None => token.currency.as_deref().unwrap_or("KZT").parse().map_err(|_| bad("currency is required"))?,
        };
        let description =
            Description::parse(&f.str_or_empty(&["description"])?).map_err(|e| bad(format!("description: {e}")))?;
        let data = match f.raw(&["data"]) {
            None => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            // ePay documents `data` as a JSON string; an object is kept as its JSON text.
            Some(v) => v.to_string(),
        };
        // The customer and the callback links are the token's to fix (DESIGN §5a).
        let account_id = capability::account_id(token, &f.str_or_empty(&["accountId", "accountID"])?).map_err(bad)?;
        let links = capability::callback_links(
            token,
            terminal,
            &f.str_or_empty(&["postLink"])?,
            &f.str_or_empty(&["failurePostLink"])?,
            mode,
        )
        .map_err(bad)?;
        let order = Order {
            invoice_id,
            invoice_id_alt,
            amount,
            currency,
            description,
            account_id,
            email: f.str_or_empty(&["email"])?,
            phone: f.str_or_empty(&["phone"])?,
            payer_name: f.str_or_empty(&["name"])?,
            language: language_code(&f.str_or_empty(&["language"])?).to_string(),
            post_link: links.post_link,
            failure_post_link: links.failure_post_link,
            back_link: f.str_or_empty(&["backLink"])?,
            failure_back_link: f.str_or_empty(&["failureBackLink"])?,
            data,
            card_save: f.opt_bool(&["cardSave", "cardsave"])?.unwrap_or(false),
        };
        for (name, url) in [("backLink", &order.back_link), ("failureBackLink", &order.failure_back_link)] {
            crate::services::links::check_link(name, url, mode).map_err(|e| bad(format!("{name}: {e}")))?;
        }
        if order.card_save && order.account_id.trim().is_empty() {
            return Err(bad("accountId is required when cardSave is true"));
        }
        order.check_against(token, f)?;
        Ok(order)
    }

    /// A payment token serves exactly the order it was issued for (DESIGN §4).
    fn check_against(&self, token: &TokenRecord, f: &Fields) -> Result<(), PaymentError> {
        let (Some(invoice), Some(amount)) = (&token.invoice_id, token.amount_minor) else {
            return Err(PaymentError::Forbidden(
                "token was not issued for an invoice: request it with invoiceID, amount, currency and terminal".into(),
            ));
        };
        if invoice != self.invoice_id.as_str() {
            return Err(bad(format!("invoiceId {} does not match the token's invoiceID {invoice}", self.invoice_id)));
        }
        if amount != self.amount.minor() {
            return Err(bad(format!(
                "amount {} does not match the token's amount {}",
                self.amount,
                Amount::from_minor(amount).unwrap_or_default()
            )));
        }
        if token.currency.as_deref() != Some(self.currency.code()) {
            return Err(bad(format!("currency {} does not match the token's currency", self.currency)));
        }
        // Another terminal in the page or body is ignored (and logged): the token's governs.
        capability::terminal_id(token, f.opt_str(&["terminalId", "terminal"])?.as_deref());
        Ok(())
    }
}

/// Card data as the payer entered it (decrypted from a cryptogram).
pub struct EnteredCard {
    pub pan: Pan,
    pub expiry: Expiry,
    pub cvc: Cvc,
}

enum CardSource {
    Entered(EnteredCard),
    Saved { card: Box<SavedCard>, pan: Pan },
}

/// A caller that may pay: a token with the payment scope, not yet spent, and its terminal. The
/// API and the page find it first, before they read the order, so a token that cannot pay is
/// refused as such whatever its request holds.
#[derive(Debug, Clone)]
pub struct Payer {
    token: TokenRecord,
    terminal: Terminal,
}

/// The payer a caller is, or why it may not pay.
pub async fn payer(app: &App, caller: &Caller) -> Result<Payer, PaymentError> {
    let Some(token) = caller.token() else {
        return Err(PaymentError::Unauthorized(BearerError::Missing.to_string()));
    };
    if !has_scope(token, Scope::Payment) {
        return Err(PaymentError::Forbidden(format!("token scope {:?} does not allow payments", token.scope)));
    }
    if token.used_at.is_some() {
        return Err(PaymentError::Unauthorized("token has already been used; request a new token".into()));
    }
    let terminal_id =
        token.terminal_id.clone().ok_or_else(|| PaymentError::Forbidden("token has no terminal".into()))?;
    let terminal = app
        .store
        .terminal(&terminal_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| bad(format!("terminal {} not found", echoed(&terminal_id))))?;
    Ok(Payer { token: token.clone(), terminal })
}

/// Pays with a cryptogram sent from `from` (the peer address, for the abuse limits).
pub async fn pay_with_cryptogram(
    app: &App,
    payer: Payer,
    fields: &Fields,
    acs_url: &str,
    from: Option<std::net::IpAddr>,
) -> Result<PaymentAnswer, PaymentError> {
    let Payer { token, terminal } = payer;
    let order = Order::parse(fields, &token, &terminal, app.config.mode)?;
    // Halyk's iOS SDK spells the key with a Cyrillic "с" (U+0441); accept both (facts §5.1).
    let cryptogram = fields.req_str(&["cryptogram", "\u{0441}ryptogram"])?;
    let card = open_cryptogram(app, &token, &terminal.id, &cryptogram, from).await?;
    execute(app, token, terminal, order, CardSource::Entered(card), acs_url, TokenSpend::Always).await
}

/// The one answer to every cryptogram that does not give a card for the token's terminal:
/// badly padded, not JSON, a field missing or invalid, another terminal. One answer, reached
/// by one path (implicit rejection), so it cannot serve as a padding oracle (docs/security.md).
pub const CRYPTOGRAM_REFUSED: &str =
    "cryptogram is not valid: encrypt {\"hpan\",\"expDate\",\"cvc\",\"terminalId\"} with the key from /public.rsa";

/// Decrypts a cryptogram under the abuse limits: the address must not have failed too often,
/// and each token allows only a few cryptograms (reserved before decrypting, so parallel
/// probes cannot pass together). A token that used them up is spent: it pays nothing more.
async fn open_cryptogram(
    app: &App,
    token: &TokenRecord,
    terminal_id: &str,
    text: &str,
    from: Option<std::net::IpAddr>,
) -> Result<EnteredCard, PaymentError> {
    use crate::services::guard::{cryptogram_address_key, Limit, Limits, SharedGuard};
    let bytes = cryptogram_bytes(text)?;
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
            app.store.spend_token(&token.token_digest, now).await.map_err(internal)?;
            return Err(PaymentError::Unauthorized("token has already been used; request a new token".into()));
        }
    };
    let plain = app.keys.decrypt_cryptogram(&bytes);
    let refused = match cryptogram_card(&plain, terminal_id) {
        Ok(card) => return Ok(card),
        Err(refused) => refused,
    };
    guard.fail_all(&address, now).await.map_err(internal)?;
    if per_token.failures > 0 && attempts >= i64::from(per_token.failures) {
        app.store.spend_token(&token.token_digest, now).await.map_err(internal)?;
    }
    Err(refused)
}

pub async fn pay_with_saved_card(
    app: &App,
    payer: Payer,
    fields: &Fields,
    acs_url: &str,
) -> Result<PaymentAnswer, PaymentError> {
    let Payer { token, terminal } = payer;
    let order = Order::parse(fields, &token, &terminal, app.config.mode)?;
    let payment_type = fields.str_or_empty(&["paymentType"])?;
    if !payment_type.is_empty() && payment_type != "cardId" {
        return Err(bad(format!("paymentType {payment_type:?} is not supported here; use \"cardId\"")));
    }
    if order.amount.is_zero() {
        return Err(bad("amount must be greater than 0"));
    }
    let card_id = saved_card_id(fields)?;
    // A saved card pays only for the customer it was saved for: the request names them (and the
    // token too, when it binds one: Order::parse refuses another), so a card id alone is not
    // enough to spend someone's card.
    if order.account_id.is_empty() {
        return Err(bad("accountId is required to pay with a saved card"));
    }
    let card = app
        .store
        .saved_card(&token.merchant_id, card_id.trim())
        .await
        .map_err(internal)?
        .filter(|c| c.account_id == order.account_id)
        .ok_or_else(|| bad(format!("card {} not found", echoed(&card_id))))?;
    if !card.active {
        return Err(bad(format!("card {} is deactivated", echoed(&card_id))));
    }
    if !card.payable {
        return Err(bad(format!(
            "card {card_id} was saved as a transfer's receiver and can only receive; pay with the card's details once to save it for paying"
        )));
    }
    let pan = app.open_pan(&card.pan_ciphertext).await.ok_or_else(|| {
        tracing::error!(card_id = %card.id, "saved card cannot be decrypted with the vault key");
        PaymentError::Internal
    })?;
    let order = Order { card_save: false, ..order };
    let source = CardSource::Saved { card: Box::new(card), pan };
    execute(app, token, terminal, order, source, acs_url, TokenSpend::Always).await
}

/// The saved card a `/payments/cards/auth` body names: `"cardId": {"id": "<cardID>"}` as seed 003
/// writes it, or `"cardId": "<cardID>"` as some integrations send it (also spelled `cardID`).
pub fn saved_card_id(fields: &Fields) -> Result<String, PaymentError> {
    const REQUIRED: &str = "field cardId is required: {\"cardId\":{\"id\":\"<cardID>\"}} or {\"cardId\":\"<cardID>\"}";
    let id = match fields.raw(&["cardId", "cardID"]) {
        None => return Err(bad(REQUIRED)),
        Some(serde_json::Value::String(id)) => id.clone(),
        Some(object @ serde_json::Value::Object(_)) => Fields::from_value(object.clone(), "field cardId")?
            .req_str(&["id"])
            .map_err(|_| bad("field cardId.id is required"))?,
        Some(_) => return Err(bad("field cardId must be a string or an object {\"id\": \"<cardID>\"}")),
    };
    if id.trim().is_empty() {
        return Err(bad(REQUIRED));
    }
    Ok(id)
}

/// What the payment page shows about an order, once its token and fields check out.
#[derive(Debug, Clone)]
pub struct PageOrder {
    pub merchant_name: String,
    pub description: String,
    pub amount: Amount,
    pub currency: Currency,
    pub card_save: bool,
    pub back_link: String,
    pub failure_back_link: String,
    pub payer_name: String,
    /// The invoice's attempts so far, for "attempts left" (docs/compatibility.md §48).
    pub attempts: epay_domain::InvoiceAttempts,
}

/// Checks a payment page's `auth` token and order fields exactly as the API would, without
/// writing anything. An invoice whose attempts are all used and declined is refused (2740).
pub async fn check_page_order(app: &App, payer: &Payer, fields: &Fields) -> Result<PageOrder, PaymentError> {
    let Payer { token, terminal } = payer;
    let order = Order::parse(fields, token, terminal, app.config.mode)?;
    let merchant = app.store.merchant(&token.merchant_id).await.map_err(internal)?;
    let attempts =
        attempts::of_invoice(app, &token.merchant_id, terminal, order.invoice_id.as_str()).await.map_err(internal)?;
    if attempts.exhausted() {
        let e = StoreError::AttemptsExhausted { attempts: attempts.used };
        return Err(attempt_refused(e, order.invoice_id.as_str()));
    }
    Ok(PageOrder {
        attempts,
        merchant_name: merchant.map(|m| m.name).unwrap_or_default(),
        description: order.description.as_str().to_string(),
        amount: order.amount,
        currency: order.currency,
        card_save: order.card_save,
        back_link: order.back_link,
        failure_back_link: order.failure_back_link,
        payer_name: order.payer_name,
    })
}

/// Pays from the payment page: the same checks and the same transaction as the API, with the
/// card typed by the shopper instead of a cryptogram. A declined attempt leaves the page's
/// token usable, so the shopper can try again on the same page (docs/compatibility.md §48).
pub async fn pay_from_page(
    app: &App,
    payer: Payer,
    fields: &Fields,
    card: EnteredCard,
    acs_url: &str,
) -> Result<PaymentAnswer, PaymentError> {
    let Payer { token, terminal } = payer;
    let order = Order::parse(fields, &token, &terminal, app.config.mode)?;
    let source = CardSource::Entered(card);
    execute(app, token, terminal, order, source, acs_url, TokenSpend::UnlessDeclined).await
}

/// The RSA ciphertext in a cryptogram's text: base64, standard or URL-safe, padded or not,
/// whitespace ignored.
pub fn cryptogram_bytes(text: &str) -> Result<Vec<u8>, PaymentError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(&compact)
        .or_else(|_| STANDARD_NO_PAD.decode(compact.trim_end_matches('=')))
        .or_else(|_| URL_SAFE_NO_PAD.decode(compact.trim_end_matches('=')))
        .map_err(|_| bad("cryptogram is not valid base64"))
}

/// The card in a decrypted cryptogram, `{"hpan","expDate","cvc","terminalId"}`; a `terminalId`,
/// when given, must be the token's. Every refusal is the same [`CRYPTOGRAM_REFUSED`].
pub fn cryptogram_card(plain: &[u8], terminal_id: &str) -> Result<EnteredCard, PaymentError> {
    card_in(plain, terminal_id).ok_or_else(|| bad(CRYPTOGRAM_REFUSED))
}

fn card_in(plain: &[u8], terminal_id: &str) -> Option<EnteredCard> {
    let inner = Fields::from_json(plain).ok()?;
    let field = |name: &str| inner.req_str(&[name]).ok();
    let pan = Pan::parse(&field("hpan")?).ok()?;
    let expiry = Expiry::parse(&field("expDate")?).ok()?;
    let cvc = Cvc::parse(&field("cvc")?).ok()?;
    let terminal = inner.opt_str(&["terminalId"]).ok().flatten().filter(|t| !t.is_empty());
    if terminal.is_some_and(|t| t.trim() != terminal_id) {
        return None;
    }
    Some(EnteredCard { pan, expiry, cvc })
}

/// Records on the payment how the card's issuer converts it (the card's currency, the rate and
/// the full amount in the card's currency); every later operation converts at this rate.
pub(crate) fn with_conversion(mut payment: Payment, authorization: &Authorization) -> Payment {
    if let Authorization::Approved { conversion, .. } = authorization {
        payment.card_currency = conversion.card_currency.code().to_string();
        payment.fx_rate_micros = conversion.rate.micros();
        payment.card_amount_minor = conversion.rate.convert(payment.amount_minor);
    }
    payment
}

async fn execute(
    app: &App,
    token: TokenRecord,
    terminal: Terminal,
    order: Order,
    source: CardSource,
    acs_url: &str,
    token_spend: TokenSpend,
) -> Result<PaymentAnswer, PaymentError> {
    let verification = order.amount.is_zero();
    if verification && !order.card_save {
        return Err(bad("amount must be greater than 0 (amount 0 is a card verification and needs cardSave: true)"));
    }
    let now = app.clock.now_ms();
    let (pan, request) = match &source {
        CardSource::Entered(c) => (
            &c.pan,
            AuthRequest {
                pan: &c.pan,
                expiry: Some(c.expiry),
                cvc: Some(&c.cvc),
                amount: order.amount,
                currency: order.currency,
                today: year_month(now),
            },
        ),
        CardSource::Saved { pan, .. } => (
            pan,
            AuthRequest {
                pan,
                expiry: None,
                cvc: None,
                amount: order.amount,
                currency: order.currency,
                today: year_month(now),
            },
        ),
    };
    // Card testing: a card or terminal with too many recent declines is refused before the
    // network is asked, and nothing is written (the token stays usable).
    let guard_keys = crate::services::guard::card_keys(
        &app.keys.pan_fingerprint(pan),
        &terminal.id,
        &crate::services::guard::Limits::from_config(&app.config),
    );
    let guard_keys = crate::services::guard::as_refs(&guard_keys);
    app.guard
        .check_all(&guard_keys, now)
        .map_err(|t| PaymentError::TooManyAttempts { retry_after_secs: t.retry_after_secs })?;
    let authorization = app.network.authorize(&request);

    let payment_id = ids::uuid();
    let merchant_account = epay_store::merchant_account(&terminal.id, order.currency.code());
    // A 3-D Secure terminal challenges an enrolled card before any money moves (seed 003), and
    // before a verification saves it for paying: a saved card must be proven as the terminal
    // asks.
    let challenge = crate::services::three_ds::challenges(&terminal, &authorization);
    let (status, reason, approval_code, issuer, effect, card_account) = match &authorization {
        Authorization::Approved { card_account, issuer, .. } if challenge => (
            TxStatus::ThreeD,
            ReasonCode::SUCCESS,
            String::new(),
            issuer.clone(),
            PaymentEffect::None,
            Some(card_account.clone()),
        ),
        Authorization::Approved { card_account, approval_code, issuer, .. } if verification => (
            TxStatus::Verified,
            ReasonCode::SUCCESS,
            approval_code.clone(),
            issuer.clone(),
            PaymentEffect::None,
            Some(card_account.clone()),
        ),
        Authorization::Approved { card_account, approval_code, issuer, .. } => {
            let (status, kind) = if terminal.two_step {
                (TxStatus::Auth, DebitKind::Pending)
            } else {
                (TxStatus::Charge, DebitKind::Posted)
            };
            (
                status,
                ReasonCode::SUCCESS,
                approval_code.clone(),
                issuer.clone(),
                PaymentEffect::Debit { card_account: card_account.clone(), merchant_account, kind },
                Some(card_account.clone()),
            )
        }
        Authorization::Declined { reason, issuer } => {
            (TxStatus::Reject, *reason, String::new(), issuer.clone(), PaymentEffect::None, None)
        }
    };

    let (card_id, save_card) = match &source {
        CardSource::Saved { card, .. } => (Some(card.id.clone()), None),
        CardSource::Entered(c) if order.card_save && !challenge => {
            let card = SavedCard {
                id: ids::uuid(),
                merchant_id: token.merchant_id.clone(),
                account_id: order.account_id.clone(),
                pan_fingerprint: app.keys.pan_fingerprint(&c.pan),
                pan_ciphertext: app.keys.seal_pan(&c.pan),
                card_mask: c.pan.masked(),
                card_brand: c.pan.brand().as_str().to_string(),
                expiry_mmyy: c.expiry.mmyy(),
                payer_name: order.payer_name.clone(),
                transaction_id: payment_id.clone(),
                terminal_pos_id: terminal.pos_id.clone(),
                reference: String::new(),
                int_reference: String::new(),
                card_token: hex::encode_upper(uuid::Uuid::new_v4().as_bytes()),
                active: true,
                // Entered with its expiry and CVC, and approved: proven.
                payable: true,
                created_at: now,
            };
            (None, Some(card))
        }
        CardSource::Entered(_) => (None, None),
    };
    let approved = reason.is_success() && !challenge;
    let reference = if approved { ids::reference() } else { String::new() };
    let int_reference = ids::int_reference();
    let save_card = save_card.map(|mut card| {
        card.reference = reference.clone();
        card.int_reference = int_reference.clone();
        CardToSave { card }
    });
    let payment = Payment {
        id: payment_id,
        merchant_id: token.merchant_id.clone(),
        terminal_id: terminal.id.clone(),
        invoice_id: order.invoice_id.as_str().to_string(),
        invoice_id_alt: order.invoice_id_alt.clone(),
        kind: if verification { PaymentKind::Verification } else { PaymentKind::Payment },
        status,
        amount_minor: order.amount.minor(),
        charged_minor: if status == TxStatus::Charge { order.amount.minor() } else { 0 },
        refunded_minor: 0,
        fee_minor: 0,
        currency: order.currency.code().to_string(),
        description: order.description.as_str().to_string(),
        account_id: order.account_id.clone(),
        email: order.email.clone(),
        phone: order.phone.clone(),
        payer_name: order.payer_name.clone(),
        language: order.language.clone(),
        post_link: order.post_link.clone(),
        failure_post_link: order.failure_post_link.clone(),
        back_link: order.back_link.clone(),
        failure_back_link: order.failure_back_link.clone(),
        secret_hash: token.secret_hash.clone(),
        data: order.data.clone(),
        card_id,
        card_mask: pan.masked(),
        card_brand: CardBrand::of(pan.expose()).as_str().to_string(),
        card_account,
        issuer,
        reference,
        int_reference,
        approval_code,
        reason_code: reason.code,
        reason: reason.message.to_string(),
        secure: false,
        created_at: now,
        updated_at: now,
        sender_transfer_type: String::new(),
        receiver_transfer_type: String::new(),
        receiver_card_id: None,
        receiver_card_mask: String::new(),
        receiver_card_brand: String::new(),
        receiver_account: None,
        ..Payment::default()
    };
    let payment = with_conversion(payment, &authorization);
    let three_ds = challenge.then(|| {
        let expiry = source_expiry(&source);
        crate::services::three_ds::new_session(app, &payment, &token, pan, &expiry, order.card_save, token_spend)
    });
    let write = PaymentWrite {
        three_ds: three_ds.clone(),
        token_digest: token.token_digest.clone(),
        token_spend,
        payment,
        effect,
        save_card,
        idempotency: {
            let (three_ds, acs_url) = (three_ds.clone(), acs_url.to_string());
            idempotency::record(move |p| answer(p, three_ds.as_ref(), &acs_url).map(axum::Json))
        },
    };
    let recorded = match app.store.record_payment(write, &crate::services::callbacks::for_payment).await {
        Ok(r) => r,
        Err(StoreError::TokenSpent) => {
            return Err(PaymentError::Unauthorized("token has already been used; request a new token".into()))
        }
        Err(e) => return Err(attempt_refused(e, order.invoice_id.as_str())),
    };
    let p = recorded.payment;
    app.metrics.observe_outcome(&p);
    if p.reason_code != 0 {
        app.guard.fail_all(&guard_keys, now);
    }
    if three_ds.is_some() {
        tracing::info!(payment_id = %p.id, invoice_id = %p.invoice_id, "payment waits for 3-D Secure");
    } else {
        tracing::info!(
            payment_id = %p.id, invoice_id = %p.invoice_id, status = %p.status, reason_code = p.reason_code,
            card = %p.card_mask, "payment recorded"
        );
    }
    answer(&p, three_ds.as_ref(), acs_url)
}

/// The answer to a recorded payment: its 3-D Secure challenge, its decline, or the payment.
fn answer(
    p: &Payment,
    three_ds: Option<&epay_store::ThreeDsSession>,
    acs_url: &str,
) -> Result<PaymentAnswer, PaymentError> {
    if let Some(session) = three_ds {
        return Ok(PaymentAnswer::ThreeD(three_d_response(p, session, acs_url)));
    }
    if p.reason_code != 0 {
        let reason = ReasonCode::from_code(p.reason_code).unwrap_or(ReasonCode::ISSUER_DECLINE);
        return Err(PaymentError::Declined { reason, transaction_id: p.id.clone() });
    }
    Ok(PaymentAnswer::Final(payment_response(p)))
}

fn source_expiry(source: &CardSource) -> String {
    match source {
        CardSource::Entered(c) => c.expiry.mmyy(),
        CardSource::Saved { card, .. } => card.expiry_mmyy.clone(),
    }
}

/// Seed 003's `3D` answer: ids and amount, the challenge, everything else empty.
fn three_d_response(p: &Payment, session: &epay_store::ThreeDsSession, acs_url: &str) -> ThreeDResponse {
    ThreeDResponse {
        id: p.id.clone(),
        account_id: String::new(),
        amount: JsonAmount(p.amount_minor),
        amount_bonus: JsonAmount(0),
        currency: String::new(),
        description: String::new(),
        email: String::new(),
        invoice_id: String::new(),
        language: String::new(),
        phone: String::new(),
        reference: String::new(),
        int_reference: String::new(),
        secure3d: crate::services::three_ds::secure3d(session, acs_url),
        card_id: p.card_id.clone().unwrap_or_default(),
        fee: JsonAmount(0),
        code: 0,
        status: TxStatus::ThreeD.to_string(),
    }
}

pub fn payment_response(p: &Payment) -> PaymentResponse {
    PaymentResponse {
        id: p.id.clone(),
        account_id: p.account_id.clone(),
        amount: JsonAmount(p.amount_minor),
        amount_bonus: JsonAmount(0),
        currency: p.currency.clone(),
        description: p.description.clone(),
        email: p.email.clone(),
        invoice_id: p.invoice_id.clone(),
        invoice_id_alt: p.invoice_id_alt.clone(),
        language: p.language.clone(),
        phone: p.phone.clone(),
        reference: p.reference.clone(),
        int_reference: p.int_reference.clone(),
        secure3d: None,
        card_id: p.card_id.clone().unwrap_or_default(),
        fee: JsonAmount(p.fee_minor),
        code: 0,
        status: p.status.to_string(),
    }
}

#[cfg(test)]
/// The payment service without a server: a sandbox gateway over a real store in memory and a
/// clock that stands still (`App::for_tests`). What a black-box test shows through HTTP, these
/// show at the service's door: the caller and the order go in, a payment or a domain error
/// comes out.
mod tests {
    use epay_domain::{Amount, Cvc, Expiry, Pan, TxStatus};
    use epay_store::TokenRecord;

    use super::{pay_from_page, payer, EnteredCard, PaymentError};
    use crate::app::App;
    use crate::platform::keys::digest;
    use crate::runtime::seed::{PAYMENT_TERMINAL, TEST_MERCHANT_ID};
    use crate::services::auth::{Caller, NOT_A_PAGE_TOKEN};
    use crate::services::operations::{self, Kind, OperationCommand, OperationError};
    use crate::wire::{Fields, PaymentAnswer};

    /// 2026-11-19, before the public test cards' 01/27 expiry.
    const NOW: i64 = 1_795_000_000_000;
    const ACS: &str = "http://127.0.0.1/acs/challenge";

    /// A payment token as the merchant's server requests it: invoice, amount, KZT, the two-step
    /// payments terminal.
    fn page_token(invoice: &str, amount_minor: i64) -> TokenRecord {
        TokenRecord {
            token_digest: digest(&epay_domain::ids::access_token()),
            merchant_id: TEST_MERCHANT_ID.into(),
            terminal_id: Some(PAYMENT_TERMINAL.into()),
            scope: "payment".into(),
            invoice_id: Some(invoice.into()),
            amount_minor: Some(amount_minor),
            currency: Some("KZT".into()),
            post_link: String::new(),
            failure_post_link: String::new(),
            secret_hash: None,
            transfer_kind: None,
            account_id: None,
            expires_at: NOW + 3_600_000,
            used_at: None,
            created_at: NOW,
        }
    }

    async fn issued(app: &App, token: TokenRecord) -> Caller {
        app.store.insert_token(&token).await.expect("token stored");
        Caller::Token(token)
    }

    /// The order as the page's `paymentObject` names it.
    fn order(invoice: &str, amount: &str) -> Fields {
        let json = format!(r#"{{"invoiceId":"{invoice}","amount":{amount},"currency":"KZT","name":"TEST PAYER"}}"#);
        Fields::from_json(json.as_bytes()).expect("order JSON")
    }

    fn card(pan: &str, expiry: &str, cvc: &str) -> EnteredCard {
        EnteredCard {
            pan: Pan::parse(pan).unwrap(),
            expiry: Expiry::parse(expiry).unwrap(),
            cvc: Cvc::parse(cvc).unwrap(),
        }
    }

    /// ePay's public test card, approved.
    fn good_card() -> EnteredCard {
        card("4405639704015096", "01/27", "321")
    }

    async fn pay(
        app: &App,
        caller: &Caller,
        invoice: &str,
        amount: &str,
        card: EnteredCard,
    ) -> Result<PaymentAnswer, PaymentError> {
        let payer = payer(app, caller).await?;
        pay_from_page(app, payer, &order(invoice, amount), card, ACS).await
    }

    async fn stored_status(app: &App, invoice: &str) -> Option<TxStatus> {
        app.store.payment_by_invoice(PAYMENT_TERMINAL, invoice).await.unwrap().map(|p| p.status)
    }

    #[tokio::test]
    async fn an_approved_payment_on_a_two_step_terminal_is_authorized_and_spends_the_token() {
        let app = App::for_tests(NOW).await;
        let caller = issued(&app, page_token("000001", 10_000)).await;
        let answer = pay(&app, &caller, "000001", "100", good_card()).await.expect("approved");
        let PaymentAnswer::Final(payment) = answer else { panic!("no 3-D Secure on this terminal") };
        assert_eq!(payment.status, "AUTH");
        assert_eq!(payment.amount.0, 10_000);
        assert_eq!(stored_status(&app, "000001").await, Some(TxStatus::Auth));
        let token = app.store.token(&caller.token().unwrap().token_digest).await.unwrap().unwrap();
        assert_eq!(token.used_at, Some(NOW), "an approved page payment spends its token");
        let again = pay(&app, &Caller::Token(token), "000001", "100", good_card()).await;
        assert!(matches!(again, Err(PaymentError::Unauthorized(m)) if m.contains("already been used")));
    }

    #[tokio::test]
    async fn a_declined_card_is_recorded_with_its_reason_and_the_page_token_stays_usable() {
        let app = App::for_tests(NOW).await;
        let caller = issued(&app, page_token("000002", 10_000)).await;
        let declined = pay(&app, &caller, "000002", "100", card("4000000000000002", "12/30", "123")).await;
        let Err(PaymentError::Declined { reason, transaction_id }) = declined else { panic!("{declined:?}") };
        assert_eq!(reason.code, 466);
        let payment = app.store.payment(TEST_MERCHANT_ID, &transaction_id).await.unwrap().expect("decline recorded");
        assert_eq!(payment.status, TxStatus::Reject);
        assert_eq!(payment.reason_code, 466);
        assert!(!payment.card_mask.contains("4000000000000002"), "no PAN in clear: {}", payment.card_mask);
        // The shopper tries another card on the same page.
        let token = app.store.token(&caller.token().unwrap().token_digest).await.unwrap().unwrap();
        assert_eq!(token.used_at, None);
        pay(&app, &Caller::Token(token), "000002", "100", good_card()).await.expect("second attempt approved");
        assert_eq!(stored_status(&app, "000002").await, Some(TxStatus::Auth));
    }

    #[tokio::test]
    async fn a_token_pays_only_the_order_it_was_issued_for() {
        let app = App::for_tests(NOW).await;
        let caller = issued(&app, page_token("000003", 10_000)).await;
        let other_amount = pay(&app, &caller, "000003", "200", good_card()).await;
        assert_eq!(
            other_amount.unwrap_err(),
            PaymentError::BadRequest("amount 200 does not match the token's amount 100".into())
        );
        let other_invoice = pay(&app, &caller, "000004", "100", good_card()).await;
        assert_eq!(
            other_invoice.unwrap_err(),
            PaymentError::BadRequest("invoiceId 000004 does not match the token's invoiceID 000003".into())
        );
        let service = issued(&app, TokenRecord { invoice_id: None, amount_minor: None, ..page_token("x", 0) }).await;
        assert!(matches!(
            pay(&app, &service, "000003", "100", good_card()).await,
            Err(PaymentError::Forbidden(m)) if m.starts_with("token was not issued for an invoice")
        ));
        let transfer = issued(&app, TokenRecord { scope: "transfer".into(), ..page_token("000003", 10_000) }).await;
        assert_eq!(
            pay(&app, &transfer, "000003", "100", good_card()).await.unwrap_err(),
            PaymentError::Forbidden("token scope \"transfer\" does not allow payments".into())
        );
        // Nothing was written by any refusal.
        assert_eq!(stored_status(&app, "000003").await, None);
        let cabinet = Caller::Cabinet { merchant_id: TEST_MERCHANT_ID.into() };
        assert!(matches!(pay(&app, &cabinet, "000003", "100", good_card()).await, Err(PaymentError::Unauthorized(_))));
    }

    #[tokio::test]
    async fn charge_and_refund_follow_the_payment_state_machine() {
        let app = App::for_tests(NOW).await;
        let caller = issued(&app, page_token("000005", 10_000)).await;
        let PaymentAnswer::Final(paid) = pay(&app, &caller, "000005", "100", good_card()).await.unwrap() else {
            panic!("no 3-D Secure on this terminal")
        };
        let merchant = Caller::Cabinet { merchant_id: TEST_MERCHANT_ID.into() };
        let command = |kind, amount: Option<i64>| OperationCommand {
            payment_id: paid.id.clone(),
            kind,
            amount: amount.map(|a| Amount::from_minor(a).unwrap()),
            external_id: None,
        };
        // The page's token, even spent, never moves the payment's money.
        let page = Caller::Token(app.store.token(&caller.token().unwrap().token_digest).await.unwrap().unwrap());
        assert_eq!(
            operations::run(&app, &page, command(Kind::Charge, None)).await.unwrap_err(),
            OperationError::Unauthorized(NOT_A_PAGE_TOKEN.into())
        );
        let refund_first = operations::run(&app, &merchant, command(Kind::Refund, None)).await.unwrap_err();
        assert!(matches!(&refund_first, OperationError::Refused(m) if m.contains("CHARGE status")), "{refund_first:?}");
        let over = operations::run(&app, &merchant, command(Kind::Charge, Some(20_000))).await.unwrap_err();
        assert!(matches!(&over, OperationError::Refused(m) if m.starts_with("charge amount exceeds")), "{over:?}");
        assert_eq!(
            operations::run(&app, &merchant, command(Kind::Cancel, Some(100))).await.unwrap_err(),
            OperationError::BadRequest("cancel takes no amount: it releases the whole authorization".into())
        );
        let charged =
            operations::run(&app, &merchant, command(Kind::Charge, Some(6_000))).await.expect("partial charge");
        assert_eq!((charged.status, charged.charged_minor), (TxStatus::Charge, 6_000));
        let over_refund = operations::run(&app, &merchant, command(Kind::Refund, Some(7_000))).await.unwrap_err();
        assert!(matches!(&over_refund, OperationError::Refused(m) if m.starts_with("refund amount exceeds")));
        let refunded =
            operations::run(&app, &merchant, command(Kind::Refund, Some(2_000))).await.expect("partial refund");
        assert_eq!(refunded.refunded_minor, 2_000);
        let missing = OperationCommand { payment_id: "no-such-payment".into(), ..command(Kind::Refund, None) };
        assert_eq!(
            operations::run(&app, &merchant, missing).await.unwrap_err(),
            OperationError::NotFound("no-such-payment".into())
        );
    }
}
