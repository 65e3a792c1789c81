//! Invoice links (issue 20, `POST /invoice`, facts §14): a merchant bills a customer by a link
//! to the hosted payment page instead of a shop page.
//!
//! - `shop_id` names the terminal the invoice is paid on (docs/compatibility.md "Invoice links"):
//!   one of the merchant's terminal ids, or, for the public test merchant, ePay's published test
//!   shop id, which stands for its payments terminal.
//! - The link's URL carries a random `link_id` (128 bits): a capability that only opens the page
//!   for this one invoice. Opening it mints a payment token bound server-side to the invoice's
//!   terminal, invoice_id, amount, currency and callback links, living no longer than the link;
//!   the page and the API refuse anything else as for any payment token (DESIGN §5a).
//! - A link's state is ACTIVE or CANCELLED as stored, PAID once its payment was approved, EXPIRED
//!   after `expire_period` (`epay_store::InvoicesPort`).

use epay_domain::{Amount, Currency, Description, ExpirePeriod, InvoiceId, InvoiceLinkState, Secret};
use epay_store::{InvoiceLink, InvoiceLinkRow, LinkCancel, LinkInsert, StoreError, TokenRecord};
use rand::Rng;

use crate::app::App;
use crate::platform::config::Mode;
use crate::platform::test_merchant::{PAYMENT_TERMINAL, TEST_MERCHANT_ID};
use crate::services::auth::{require_service_token, BearerError, Caller};
use crate::services::outbox;
use crate::services::tokens::{self, MAX_FIELD_CHARS, MAX_LINK_CHARS};

/// ePay's published test shop id for invoice links (facts §14, §16). For the seeded public test
/// merchant it names its payments terminal (`PAYMENT_TERMINAL`).
pub const TEST_SHOP_ID: &str = "04f25a4b-d2bd-4dd8-b3a7-9390be4774c4";

/// The id prefix of the payment tokens an invoice link mints, so a payment knows to check its
/// link (cancelled? expired?) without a read for every other token. Sealed, so never forged.
pub use epay_store::LINK_TOKEN_PREFIX;

/// The refusal of a payment whose link was cancelled (or closed) under it.
pub const LINK_CANCELLED: &str = "this payment link was cancelled by the merchant";

/// The refusal of a payment whose link closed between the early check and the payment's
/// transaction (cancelled, expired or paid meanwhile).
pub const LINK_CLOSED: &str = "this payment link is no longer active (cancelled, expired or paid)";

/// The largest page of a list.
pub const MAX_PAGE: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal,
}

impl From<BearerError> for InvoiceError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Storage => InvoiceError::Internal,
            e => InvoiceError::Unauthorized(e.to_string()),
        }
    }
}

fn internal(e: StoreError) -> InvoiceError {
    tracing::error!(error = %e, "invoice storage failed");
    InvoiceError::Internal
}

fn bad(message: impl Into<String>) -> InvoiceError {
    InvoiceError::BadRequest(message.into())
}

/// A new invoice's fields as they came (JSON body or cabinet form), before checking; the amount
/// is read by each surface (a JSON number or a form's text).
#[derive(Debug, Default, Clone)]
pub struct InvoiceFields {
    pub shop_id: Option<String>,
    pub invoice_id: Option<String>,
    pub account_id: Option<String>,
    pub amount: Option<Amount>,
    pub currency: Option<Currency>,
    pub language: Option<String>,
    pub description: Option<String>,
    pub expire_period: Option<String>,
    pub recipient_contact: Option<String>,
    pub recipient_contact_sms: Option<String>,
    pub notifier_contact_sms: Option<String>,
    pub post_link: Option<String>,
    pub failure_post_link: Option<String>,
    pub back_link: Option<String>,
    pub failure_back_link: Option<String>,
}

/// A checked new invoice.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    pub shop_id: String,
    /// `None`: the gateway picks a 12-digit one.
    pub invoice_id: Option<InvoiceId>,
    pub account_id: String,
    pub amount: Amount,
    pub currency: Currency,
    /// `rus`, `kaz` or `eng`.
    pub language: &'static str,
    pub description: Description,
    pub expire_period: ExpirePeriod,
    pub recipient_contact: String,
    pub recipient_contact_sms: String,
    pub notifier_contact_sms: String,
    pub post_link: String,
    pub failure_post_link: String,
    pub back_link: String,
    pub failure_back_link: String,
}

fn trimmed(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or("").to_string()
}

/// ePay's page languages (`rus`, `kaz`, `eng`; also `ru`, `kk`/`kz`, `en`); default `rus`.
fn language(text: &str) -> Result<&'static str, InvoiceError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "rus" | "ru" => Ok("rus"),
        "kaz" | "kz" | "kk" => Ok("kaz"),
        "eng" | "en" => Ok("eng"),
        _ => Err(bad(format!("language {:?} must be rus, kaz or eng", crate::wire::echoed(text)))),
    }
}

/// A contact checked as the outbox will send to it (`outbox::Email` / `outbox::Phone`), kept
/// in its normal form (a phone in E.164, `+77011234567`).
fn email(field: &str, text: &str) -> Result<String, InvoiceError> {
    outbox::Email::parse(text).map(|e| e.as_str().to_string()).map_err(|e| bad(format!("{field}: {e}")))
}

fn phone(field: &str, text: &str) -> Result<String, InvoiceError> {
    outbox::Phone::parse(text).map(|p| p.as_str().to_string()).map_err(|e| bad(format!("{field}: {e}")))
}

impl NewInvoice {
    /// Checks every field; the first fault is reported, in the order of ePay's field table.
    pub fn check(f: &InvoiceFields, mode: Mode) -> Result<NewInvoice, InvoiceError> {
        let shop_id = trimmed(&f.shop_id);
        if shop_id.is_empty() {
            return Err(bad("shop_id is required"));
        }
        let invoice_id = Some(trimmed(&f.invoice_id))
            .filter(|s| !s.is_empty())
            .map(|s| InvoiceId::parse(&s).map_err(|e| bad(format!("invoice_id: {e}"))))
            .transpose()?;
        let account_id = trimmed(&f.account_id);
        if account_id.chars().count() > MAX_FIELD_CHARS {
            return Err(bad(format!("account_id is longer than {MAX_FIELD_CHARS} characters")));
        }
        let amount = f.amount.ok_or_else(|| bad("amount is required"))?;
        if amount.is_zero() {
            return Err(bad("amount must be greater than 0"));
        }
        let currency = f.currency.unwrap_or(Currency::Kzt);
        let language = language(&trimmed(&f.language))?;
        let description = Description::parse(&trimmed(&f.description)).map_err(|e| bad(e.to_string()))?;
        let expire_period = match trimmed(&f.expire_period) {
            p if p.is_empty() => ExpirePeriod::DEFAULT,
            p => ExpirePeriod::parse(&p).map_err(bad)?,
        };
        let optional = |v: &Option<String>| Some(trimmed(v)).filter(|s| !s.is_empty());
        let recipient_contact =
            optional(&f.recipient_contact).map(|e| email("recipient_contact", &e)).transpose()?.unwrap_or_default();
        let recipient_contact_sms = optional(&f.recipient_contact_sms)
            .map(|p| phone("recipient_contact_sms", &p))
            .transpose()?
            .unwrap_or_default();
        let notifier_contact_sms = optional(&f.notifier_contact_sms)
            .map(|p| phone("notifier_contact_sms", &p))
            .transpose()?
            .unwrap_or_default();
        let mut links = Vec::new();
        for (name, wire, value) in [
            ("postLink", "post_link", &f.post_link),
            ("failurePostLink", "failure_post_link", &f.failure_post_link),
            ("backLink", "back_link", &f.back_link),
            ("failureBackLink", "failure_back_link", &f.failure_back_link),
        ] {
            let link = trimmed(value);
            if link.chars().count() > MAX_LINK_CHARS {
                return Err(bad(format!("{wire} is longer than {MAX_LINK_CHARS} characters")));
            }
            crate::services::links::check_link(name, &link, mode).map_err(|e| bad(format!("{wire}: {e}")))?;
            links.push(link);
        }
        let [post_link, failure_post_link, back_link, failure_back_link]: [String; 4] =
            links.try_into().expect("four links");
        Ok(NewInvoice {
            shop_id,
            invoice_id,
            account_id,
            amount,
            currency,
            language,
            description,
            expire_period,
            recipient_contact,
            recipient_contact_sms,
            notifier_contact_sms,
            post_link,
            failure_post_link,
            back_link,
            failure_back_link,
        })
    }
}

/// The merchant a caller acts for on invoices, and the one terminal its token is limited to.
/// A service token (client credentials, or the password grant's access token) or a cabinet
/// session; a payment token is in a shopper's hands and may not bill anybody.
struct Owner {
    merchant_id: String,
    terminal_id: Option<String>,
}

fn owner(caller: &Caller) -> Result<Owner, InvoiceError> {
    match caller {
        Caller::Token(token) => {
            require_service_token(token).map_err(InvoiceError::Forbidden)?;
            Ok(Owner { merchant_id: token.merchant_id.clone(), terminal_id: token.terminal_id.clone() })
        }
        Caller::Cabinet { merchant_id } => Ok(Owner { merchant_id: merchant_id.clone(), terminal_id: None }),
    }
}

impl Owner {
    /// Whether a link is this caller's to see or change.
    fn owns(&self, row: &InvoiceLinkRow) -> bool {
        row.link.merchant_id == self.merchant_id && self.terminal_id.as_ref().is_none_or(|t| *t == row.link.terminal_id)
    }
}

/// The terminal `shop_id` names for this caller: its own terminal's id, or the test shop id for
/// the test merchant. Another merchant's terminal is "not found", like a missing one.
async fn terminal_of_shop(app: &App, owner: &Owner, shop_id: &str) -> Result<String, InvoiceError> {
    let terminal_id = if shop_id.eq_ignore_ascii_case(TEST_SHOP_ID) && owner.merchant_id == TEST_MERCHANT_ID {
        PAYMENT_TERMINAL
    } else {
        shop_id
    };
    let not_found = || bad(format!("shop_id {:?} not found", crate::wire::echoed(shop_id)));
    let terminal = app.store.terminal(terminal_id).await.map_err(internal)?.ok_or_else(not_found)?;
    if terminal.merchant_id != owner.merchant_id || owner.terminal_id.as_ref().is_some_and(|t| *t != terminal.id) {
        return Err(not_found());
    }
    Ok(terminal.id)
}

/// An invoice link as the API and the cabinet show it.
#[derive(Debug, Clone)]
pub struct InvoiceView {
    pub id: String,
    /// The capability in the link's URL; the surface makes the URL (`/invoice-link/{link_id}`).
    pub link_id: String,
    pub shop_id: String,
    pub terminal_id: String,
    pub invoice_id: String,
    pub account_id: String,
    pub amount: Amount,
    pub currency: String,
    pub language: String,
    pub description: String,
    pub recipient_contact: String,
    pub recipient_contact_sms: String,
    pub notifier_contact_sms: String,
    pub post_link: String,
    pub failure_post_link: String,
    pub back_link: String,
    pub failure_back_link: String,
    pub state: InvoiceLinkState,
    pub payment_id: Option<String>,
    pub payment_status: Option<String>,
    pub expires_at: i64,
    pub created_at: i64,
    pub cancelled_at: Option<i64>,
}

impl InvoiceView {
    fn of(row: InvoiceLinkRow) -> InvoiceView {
        let l = row.link;
        InvoiceView {
            // Written by this module only, so it parses; ACTIVE stands for anything else.
            state: InvoiceLinkState::parse(&row.link_state).unwrap_or(InvoiceLinkState::Active),
            amount: Amount::from_minor(l.amount_minor).unwrap_or(Amount::ZERO),
            id: l.id,
            link_id: l.link_id,
            shop_id: l.shop_id,
            terminal_id: l.terminal_id,
            invoice_id: l.invoice_id,
            account_id: l.account_id,
            currency: l.currency,
            language: l.language,
            description: l.description,
            recipient_contact: l.recipient_contact,
            recipient_contact_sms: l.recipient_contact_sms,
            notifier_contact_sms: l.notifier_contact_sms,
            post_link: l.post_link,
            failure_post_link: l.failure_post_link,
            back_link: l.back_link,
            failure_back_link: l.failure_back_link,
            payment_id: row.payment_id,
            payment_status: row.payment_status,
            expires_at: l.expires_at,
            created_at: l.created_at,
            cancelled_at: l.cancelled_at,
        }
    }
}

/// A 12-digit invoice id for a request without one.
fn new_invoice_id() -> InvoiceId {
    let n: u64 = rand::thread_rng().gen_range(100_000_000_000..1_000_000_000_000);
    InvoiceId::parse(&n.to_string()).expect("12 digits")
}

/// The messages that send a new link to its recipient: an e-mail to `recipient_contact`, an SMS
/// to `recipient_contact_sms` (either, both or none), in the invoice's language.
/// `notifier_contact_sms` is stored only (docs/compatibility.md "Invoice link delivery").
fn link_messages(link: &InvoiceLink, shop_name: &str, link_base: &str) -> Vec<epay_store::NewMessage> {
    let told = outbox::InvoiceLink {
        merchant_id: link.merchant_id.clone(),
        invoice_id: link.invoice_id.clone(),
        shop_name: shop_name.to_string(),
        amount: Amount::from_minor(link.amount_minor).unwrap_or(Amount::ZERO),
        currency: link.currency.clone(),
        description: link.description.clone(),
        link: format!("{link_base}/invoice-link/{}", link.link_id),
        expires_at_ms: link.expires_at,
    };
    let lang = outbox::language(&link.language);
    let mut messages = Vec::new();
    // Checked by `NewInvoice::check`, so these parse; a contact that did not is not sent to.
    if let Ok(to) = outbox::Email::parse(&link.recipient_contact) {
        messages.push(outbox::invoice_link_email(&told, &to, lang));
    }
    if let Ok(to) = outbox::Phone::parse(&link.recipient_contact_sms) {
        messages.push(outbox::invoice_link_sms(&told, &to, lang));
    }
    messages
}

/// `POST /invoice` and the cabinet's form: stores a new link and enqueues its messages in one
/// transaction, or writes nothing and says why. `link_base` is the public base URL the link's
/// URL starts with.
pub async fn create(
    app: &App,
    caller: &Caller,
    invoice: NewInvoice,
    link_base: &str,
) -> Result<InvoiceView, InvoiceError> {
    let owner = owner(caller)?;
    let terminal_id = terminal_of_shop(app, &owner, &invoice.shop_id).await?;
    let sends = !invoice.recipient_contact.is_empty() || !invoice.recipient_contact_sms.is_empty();
    let shop_name = if sends {
        app.store.merchant(&owner.merchant_id).await.map_err(internal)?.map(|m| m.name).unwrap_or_default()
    } else {
        String::new()
    };
    let now = app.clock.now_ms();
    let chosen = invoice.invoice_id.clone();
    // A picked invoice id may collide with one the merchant used: pick again, a few times.
    for _ in 0..3 {
        let invoice_id = chosen.clone().unwrap_or_else(new_invoice_id);
        let link = InvoiceLink {
            id: epay_domain::ids::uuid(),
            link_id: tokens::new_token_id(),
            merchant_id: owner.merchant_id.clone(),
            terminal_id: terminal_id.clone(),
            shop_id: invoice.shop_id.clone(),
            invoice_id: invoice_id.as_str().to_string(),
            account_id: invoice.account_id.clone(),
            amount_minor: invoice.amount.minor(),
            currency: invoice.currency.code().to_string(),
            language: invoice.language.to_string(),
            description: invoice.description.as_str().to_string(),
            recipient_contact: invoice.recipient_contact.clone(),
            recipient_contact_sms: invoice.recipient_contact_sms.clone(),
            notifier_contact_sms: invoice.notifier_contact_sms.clone(),
            post_link: invoice.post_link.clone(),
            failure_post_link: invoice.failure_post_link.clone(),
            back_link: invoice.back_link.clone(),
            failure_back_link: invoice.failure_back_link.clone(),
            state: InvoiceLinkState::Active.as_str().to_string(),
            expires_at: now + invoice.expire_period.secs() * 1000,
            created_at: now,
            cancelled_at: None,
        };
        // Delivery of the link (e-mail to recipient_contact, SMS to recipient_contact_sms) is
        // the outbox's: its rows are written in the link's own transaction
        // (`InvoicesPort::insert_invoice_link`), so a link is sent exactly when it was stored.
        let messages = link_messages(&link, &shop_name, link_base);
        match app.store.insert_invoice_link(&link, &messages).await.map_err(internal)? {
            LinkInsert::Inserted => {
                tracing::info!(merchant_id = %link.merchant_id, invoice_link = %link.id, "invoice link created");
                return Ok(InvoiceView::of(InvoiceLinkRow {
                    link,
                    link_state: InvoiceLinkState::Active.as_str().to_string(),
                    payment_id: None,
                    payment_status: None,
                }));
            }
            LinkInsert::DuplicateInvoice if chosen.is_some() => {
                return Err(InvoiceError::Conflict(format!(
                    "invoice_id {} already exists on this shop (a link or a payment)",
                    invoice_id.as_str()
                )));
            }
            LinkInsert::DuplicateInvoice => continue,
        }
    }
    Err(InvoiceError::Internal)
}

/// One of the caller's invoices, by its id or its invoice_id.
pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<InvoiceView, InvoiceError> {
    let owner = owner(caller)?;
    let row = app.store.invoice_link(&owner.merchant_id, id.trim(), app.clock.now_ms()).await.map_err(internal)?;
    match row.filter(|r| owner.owns(r)) {
        Some(row) => Ok(InvoiceView::of(row)),
        None => Err(InvoiceError::NotFound(format!("invoice {:?} not found", crate::wire::echoed(id)))),
    }
}

/// The caller's invoices, newest first, of one state when asked.
pub async fn list(
    app: &App,
    caller: &Caller,
    state: Option<InvoiceLinkState>,
    offset: i64,
    limit: i64,
) -> Result<Vec<InvoiceView>, InvoiceError> {
    let owner = owner(caller)?;
    let rows = app
        .store
        .invoice_links(
            &owner.merchant_id,
            state.map(InvoiceLinkState::as_str),
            app.clock.now_ms(),
            offset.max(0),
            limit.clamp(1, MAX_PAGE),
        )
        .await
        .map_err(internal)?;
    Ok(rows.into_iter().filter(|r| owner.owns(r)).map(InvoiceView::of).collect())
}

/// Cancels one of the caller's links that nobody paid yet.
pub async fn cancel(app: &App, caller: &Caller, id: &str) -> Result<InvoiceView, InvoiceError> {
    let view = get(app, caller, id).await?;
    let merchant_id = caller.merchant_id();
    match app.store.cancel_invoice_link(merchant_id, &view.id, app.clock.now_ms()).await.map_err(internal)? {
        LinkCancel::Cancelled => get(app, caller, &view.id).await,
        LinkCancel::NotFound => Err(InvoiceError::NotFound(format!("invoice {:?} not found", view.id))),
        LinkCancel::NotActive(state) => {
            Err(InvoiceError::Conflict(format!("the invoice is {state}: only an ACTIVE invoice can be cancelled")))
        }
    }
}

/// What opening a link gives the shopper's browser.
pub enum LinkOpening {
    /// The page for this invoice, with a payment token minted for it.
    Pay { link: InvoiceView, merchant_name: String, token: Secret },
    /// Paid, expired or cancelled: no token; the page says which.
    Closed(InvoiceView),
}

/// Opens a link by the capability in its URL. Only an active link mints a token: bound to the
/// invoice's terminal, invoice, amount, currency and callback links, living until the link
/// expires at the latest.
pub async fn open(app: &App, link_id: &str) -> Result<LinkOpening, InvoiceError> {
    let not_found = || InvoiceError::NotFound("this payment link does not exist".into());
    // Link ids are 32 hex digits: anything else is not looked up.
    if link_id.len() != 32 || !link_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let now = app.clock.now_ms();
    let row = app.store.invoice_link_by_link_id(link_id, now).await.map_err(internal)?.ok_or_else(not_found)?;
    let view = InvoiceView::of(row.clone());
    if view.state != InvoiceLinkState::Active {
        return Ok(LinkOpening::Closed(view));
    }
    let merchant = app.store.merchant(&row.link.merchant_id).await.map_err(internal)?.ok_or_else(not_found)?;
    let l = &row.link;
    let record = TokenRecord {
        token_digest: format!("{LINK_TOKEN_PREFIX}{}", tokens::new_token_id()),
        merchant_id: l.merchant_id.clone(),
        terminal_id: Some(l.terminal_id.clone()),
        scope: "payment".into(),
        invoice_id: Some(l.invoice_id.clone()),
        amount_minor: Some(l.amount_minor),
        currency: Some(l.currency.clone()),
        post_link: l.post_link.clone(),
        failure_post_link: l.failure_post_link.clone(),
        secret_hash: None,
        transfer_kind: None,
        account_id: Some(l.account_id.clone()).filter(|a| !a.is_empty()),
        generation: merchant.token_generation,
        expires_at: (now + app.config.token_ttl_secs * 1000).min(l.expires_at),
        used_at: None,
        created_at: now,
    };
    let token = Secret::new(tokens::seal(&app.keys, &record));
    Ok(LinkOpening::Pay { link: view, merchant_name: merchant.name, token })
}

/// Whether a payment token may still pay: a token minted by a link pays only while its link is
/// active (not cancelled, not expired). Other tokens are the merchant's own and are not checked.
/// Called where every payment finds its payer (`payments::payer`), for a clear early answer.
/// The check that guards the money is the payment's store write itself: it re-checks the link
/// inside its transaction (`StoreError::LinkClosed`), serialized with a cancel.
pub async fn check_link_token(app: &App, token: &TokenRecord) -> Result<(), String> {
    if !token.minted_by_link() {
        return Ok(());
    }
    let (Some(terminal), Some(invoice)) = (&token.terminal_id, &token.invoice_id) else {
        return Err("this payment link's token names no invoice".into());
    };
    let row = app.store.invoice_link_of(terminal, invoice, app.clock.now_ms()).await.map_err(|e| {
        tracing::error!(error = %e, "invoice link lookup failed");
        "internal error, retry later".to_string()
    })?;
    match row.and_then(|r| InvoiceLinkState::parse(&r.link_state)) {
        Some(InvoiceLinkState::Active | InvoiceLinkState::Paid) => Ok(()),
        Some(InvoiceLinkState::Expired) => Err("this payment link has expired".into()),
        Some(InvoiceLinkState::Cancelled) => Err(LINK_CANCELLED.into()),
        None => Err("this payment link does not exist".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> InvoiceFields {
        InvoiceFields {
            shop_id: Some(TEST_SHOP_ID.into()),
            amount: Some(Amount::from_minor(10_000).unwrap()),
            ..Default::default()
        }
    }

    fn refused(f: InvoiceFields) -> String {
        match NewInvoice::check(&f, Mode::Sandbox) {
            Err(InvoiceError::BadRequest(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_new_invoice_has_epay_defaults_and_normalised_contacts() {
        let f = InvoiceFields {
            recipient_contact: Some(" a@shop.kz ".into()),
            recipient_contact_sms: Some("+7 (701) 123-45-67".into()),
            language: Some("KAZ".into()),
            ..fields()
        };
        let i = NewInvoice::check(&f, Mode::Sandbox).unwrap();
        assert_eq!((i.language, i.currency, i.expire_period), ("kaz", Currency::Kzt, ExpirePeriod::DEFAULT));
        assert_eq!((i.recipient_contact.as_str(), i.recipient_contact_sms.as_str()), ("a@shop.kz", "+77011234567"));
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(refused(InvoiceFields { shop_id: None, ..fields() }), "shop_id is required");
        assert_eq!(refused(InvoiceFields { amount: None, ..fields() }), "amount is required");
        assert_eq!(refused(InvoiceFields { amount: Some(Amount::ZERO), ..fields() }), "amount must be greater than 0");
        assert!(refused(InvoiceFields { expire_period: Some("1w".into()), ..fields() }).contains("expire_period"));
        for bad in ["a", "a@b", "a b@c.kz", "@shop.kz", "a@@shop.kz"] {
            let m = refused(InvoiceFields { recipient_contact: Some(bad.into()), ..fields() });
            assert!(m.contains("recipient_contact"), "{bad}: {m}");
        }
        for bad in ["123", "+7701abc4567", "1234567890123456"] {
            let m = refused(InvoiceFields { notifier_contact_sms: Some(bad.into()), ..fields() });
            assert!(m.contains("notifier_contact_sms"), "{bad}: {m}");
        }
        assert!(refused(InvoiceFields { back_link: Some("javascript:alert(1)".into()), ..fields() })
            .starts_with("back_link"));
        assert!(refused(InvoiceFields { invoice_id: Some("12a".into()), ..fields() }).starts_with("invoice_id"));
        assert!(refused(InvoiceFields { language: Some("fr".into()), ..fields() }).contains("language"));
    }
}
