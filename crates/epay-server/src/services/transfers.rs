//! Card transfers (facts §12, seeds 000/001): P2P card to card, AFT (a card pays the
//! merchant) and OCT (the merchant pays out to a card, or to a phone + IIN).

use epay_domain::{
    ids, Amount, CardBrand, Currency, Cvc, Description, Expiry, FxRate, InvoiceId, Pan, ReasonCode, TransferKind,
    TxStatus,
};
use epay_network::{AuthRequest, Authorization, Conversion};
use epay_store::{
    NewCallback, Payment, SavedCard, StoreError, Terminal, ThreeDsSession, TokenRecord, TokenSpend, TransferMoney,
    TransferSettlement, TransferWrite,
};
use serde::Serialize;

use crate::app::App;
use crate::clock::{year_month, KZ_OFFSET};
use crate::config::Mode;
use crate::services::auth::{authenticate, has_scope, BearerError};
use crate::services::capability;
use crate::services::payments::PaymentError;
use crate::services::{callbacks, idempotency};
use crate::wire::{echoed, Fields, JsonAmount, Secure3D};

/// A transfer kind as ePay's lenient fields write it: `p2p`, `aft` or `oct`, in any case.
pub fn kind_named(text: &str) -> Option<TransferKind> {
    text.trim().to_ascii_lowercase().parse().ok()
}

/// Which kind a transfer token may make: the one it was issued for, or P2P when the token
/// request named none. P2P moves only the shopper's own money; an AFT (paying the merchant) or a
/// payout (the merchant's money to a card) happens only when the merchant asked for it
/// server-side, in the token request (DESIGN §5a).
pub fn allowed_kind(token: &TokenRecord) -> TransferKind {
    token.transfer_kind.unwrap_or(TransferKind::P2p)
}

/// Errors in seed 001's shape: `{code, message, invoiceId, id, reference, accountId}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferError {
    pub http_status: u16,
    pub code: i32,
    pub message: String,
    pub invoice_id: String,
    pub id: String,
    pub account_id: String,
    /// Set on `429`: when the client may try again.
    pub retry_after_secs: Option<u64>,
}

impl TransferError {
    pub fn new(http_status: u16, code: i32, message: impl Into<String>) -> TransferError {
        TransferError {
            http_status,
            code,
            message: message.into(),
            invoice_id: String::new(),
            id: String::new(),
            account_id: String::new(),
            retry_after_secs: None,
        }
    }

    fn bad(message: impl Into<String>) -> TransferError {
        TransferError::new(400, -1, message)
    }

    fn with_order(mut self, invoice_id: &str, account_id: &str) -> TransferError {
        self.invoice_id = invoice_id.to_string();
        self.account_id = account_id.to_string();
        self
    }
}

impl From<crate::wire::FieldError> for TransferError {
    fn from(e: crate::wire::FieldError) -> Self {
        TransferError::bad(e.0)
    }
}

fn internal(e: StoreError) -> TransferError {
    tracing::error!(error = %e, "transfer storage failed");
    TransferError::new(500, -1, "internal error, check the transfer status")
}

/// The answer of a successful transfer: seed 001's response, field for field.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransferResponse {
    pub id: String,
    pub amount: JsonAmount,
    pub fee: JsonAmount,
    #[serde(rename = "accountID")]
    pub account_id: String,
    pub currency: String,
    pub email: String,
    pub description: String,
    pub reference: String,
    #[serde(rename = "orderID")]
    pub order_id: String,
    #[serde(rename = "senderCardID")]
    pub sender_card_id: String,
    #[serde(rename = "senderCardPAN")]
    pub sender_card_pan: String,
    #[serde(rename = "senderCardType")]
    pub sender_card_type: String,
    #[serde(rename = "senderTransferType")]
    pub sender_transfer_type: String,
    #[serde(rename = "receiverCardID")]
    pub receiver_card_id: String,
    #[serde(rename = "receiverCardPAN")]
    pub receiver_card_pan: String,
    #[serde(rename = "receiverCardType")]
    pub receiver_card_type: String,
    #[serde(rename = "receiverTransferType")]
    pub receiver_transfer_type: String,
    #[serde(rename = "intReference")]
    pub int_reference: String,
    #[serde(rename = "terminalID")]
    pub terminal_id: String,
    pub status: String,
    /// Only while the transfer waits for the sender's 3-D Secure challenge (status `3D`).
    #[serde(rename = "secure3D", skip_serializing_if = "Option::is_none")]
    pub secure3d: Option<Secure3D>,
}

/// The callback of a transfer: the transfer object of facts §11.3 with `code: 0` on success
/// (to `postLink`); a failed transfer sends the payment failure shape.
pub fn callback(p: &Payment) -> Option<NewCallback> {
    if p.status != TxStatus::Charge {
        return callbacks::for_payment(p);
    }
    let mut payload = serde_json::to_value(response(p)).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
    payload.insert("code".into(), serde_json::json!(0));
    callbacks::event(p, "transfer.success", &p.post_link, payload)
}

pub fn response(p: &Payment) -> TransferResponse {
    TransferResponse {
        id: p.id.clone(),
        amount: JsonAmount(p.amount_minor),
        fee: JsonAmount(p.fee_minor),
        account_id: p.account_id.clone(),
        currency: p.currency.clone(),
        email: p.email.clone(),
        description: p.description.clone(),
        reference: p.reference.clone(),
        order_id: p.invoice_id.clone(),
        sender_card_id: p.card_id.clone().unwrap_or_default(),
        sender_card_pan: p.card_mask.clone(),
        sender_card_type: p.card_brand.clone(),
        sender_transfer_type: p.sender_transfer_type.clone(),
        receiver_card_id: p.receiver_card_id.clone().unwrap_or_default(),
        receiver_card_pan: receiver_shown(p, &p.receiver_card_mask),
        receiver_card_type: receiver_shown(p, &p.receiver_card_brand),
        receiver_transfer_type: p.receiver_transfer_type.clone(),
        int_reference: p.int_reference.clone(),
        terminal_id: p.terminal_id.clone(),
        status: p.status.to_string(),
        secure3d: None,
    }
}

/// A receiver found by phone is shown only once it has been paid: before that, its mask would
/// tell the holder of a token who has which card.
fn receiver_shown(p: &Payment, value: &str) -> String {
    if p.receiver_transfer_type == "TYPEPHONE" && p.status != TxStatus::Charge {
        String::new()
    } else {
        value.to_string()
    }
}

/// The fee of a transfer on `terminal`: percent plus fixed, at least the minimum (half up).
pub fn fee(terminal: &Terminal, amount: Amount, from_tenge: FxRate) -> i64 {
    // The percent applies to the amount in its own currency; the fixed part and the minimum are
    // tenge amounts, converted into the transfer's currency at the network's rate
    // (`from_tenge`: KZT → the transfer's currency).
    let percent = (amount.minor() * terminal.fee_percent_bp + 5_000) / 10_000;
    (percent + from_tenge.convert(terminal.fee_fixed_minor)).max(from_tenge.convert(terminal.fee_min_minor))
}

/// The order part of a transfer request (`order{…}`).
pub(crate) struct Order {
    invoice: InvoiceId,
    amount: Amount,
    currency: Currency,
    description: Description,
    email: String,
    post_link: String,
    failure_post_link: String,
    back_link: String,
    failure_back_link: String,
}

/// One side of a transfer (`card.sender` / `card.receiver`) once resolved.
pub(crate) struct Side {
    pub(crate) pan: Pan,
    transfer_type: &'static str,
    /// The saved card used, when given by id.
    saved_card_id: Option<String>,
    pub(crate) expiry: Option<Expiry>,
    pub(crate) cvc: Option<Cvc>,
    name: String,
    save: bool,
}

pub(crate) fn transfer_type(fields: &Fields, what: &str) -> Result<&'static str, TransferError> {
    match fields.str_or_empty(&["transferType"])?.trim().to_ascii_uppercase().as_str() {
        "TYPEPAN" | "TYPECARD" | "" => Ok("TYPEPAN"),
        "TYPECARDID" => Ok("TYPECARDID"),
        "TYPEPHONE" => Ok("TYPEPHONE"),
        other => Err(TransferError::bad(format!(
            "card.{what}.transferType {other:?} is not one of TYPEPAN, TYPECARDID, TYPEPHONE"
        ))),
    }
}

async fn resolve_side(
    app: &App,
    merchant_id: &str,
    account_id: &str,
    fields: &Fields,
    what: &str,
    phone_scope: Option<PhoneScope<'_>>,
) -> Result<Side, TransferError> {
    let kind = transfer_type(fields, what)?;
    let save = fields.opt_bool(&["save"])?.unwrap_or(false);
    let name = fields.str_or_empty(&["name"])?;
    match kind {
        "TYPECARDID" => {
            let id = fields
                .req_str(&["cardCred"])
                .map_err(|_| TransferError::bad(format!("card.{what}.cardCred is required")))?;
            // A saved card serves only the customer it was saved for, named by the order (and by
            // the token, when it binds one): a card id alone does not spend a card.
            if account_id.is_empty() {
                return Err(TransferError::bad(format!("order.accountID is required to use a saved card as {what}")));
            }
            let card = app
                .store
                .saved_card(merchant_id, id.trim())
                .await
                .map_err(internal)?
                .filter(|c| c.active && c.account_id == account_id)
                .ok_or_else(|| TransferError::bad(format!("card.{what}: saved card {} not found", echoed(&id))))?;
            if what == SENDER && !card.payable {
                return Err(TransferError::bad(format!(
                    "card.{what}: saved card {} was saved as a receiver and can only receive",
                    echoed(&id)
                )));
            }
            let pan = app.open_pan(&card.pan_ciphertext).await.ok_or_else(|| {
                tracing::error!(card_id = %card.id, "saved card cannot be decrypted with the vault key");
                TransferError::new(500, -1, "internal error")
            })?;
            Ok(Side {
                pan,
                transfer_type: "TYPECARDID",
                saved_card_id: Some(card.id),
                expiry: None,
                cvc: None,
                name,
                save: false,
            })
        }
        "TYPEPHONE" => {
            let Some(scope) = phone_scope else {
                return Err(TransferError::bad(format!(
                    "card.{what}.transferType TYPEPHONE is only for payouts (OCT)"
                )));
            };
            let phone =
                fields.req_str(&["phone"]).map_err(|_| TransferError::bad(format!("card.{what}.phone is required")))?;
            let iin =
                fields.req_str(&["iin"]).map_err(|_| TransferError::bad(format!("card.{what}.iin is required")))?;
            let digits = |s: &str| s.chars().filter(char::is_ascii_digit).count();
            if digits(&phone) != 11 || digits(&iin) != 12 {
                return Err(TransferError::bad(format!("card.{what}: phone must be 11 digits and iin 12 digits")));
            }
            let pan = card_by_phone(app, scope, &phone, &iin)?;
            Ok(Side {
                pan,
                transfer_type: "TYPEPHONE",
                saved_card_id: None,
                expiry: None,
                cvc: None,
                name,
                save: false,
            })
        }
        _ => pan_side(fields, what, name, save),
    }
}

/// Who asks for a phone lookup: the token and the terminal its failures count against.
#[derive(Clone, Copy)]
pub(crate) struct PhoneScope<'a> {
    pub token_digest: &'a str,
    pub terminal_id: &'a str,
}

/// The card registered to a phone + IIN, for a payout. Every failed lookup (unknown phone,
/// another IIN) gets one answer, so the answer does not tell who has a card, and counts
/// against the token and the terminal: after the limit the lookup is refused with 429 before
/// the network is asked, and nothing is written.
fn card_by_phone(app: &App, scope: PhoneScope<'_>, phone: &str, iin: &str) -> Result<Pan, TransferError> {
    let keys = crate::guard::phone_keys(
        scope.token_digest,
        scope.terminal_id,
        &crate::guard::Limits::from_config(&app.config),
    );
    let keys = crate::guard::as_refs(&keys);
    let now = app.clock.now_ms();
    app.guard.check_all(&keys, now).map_err(too_many_attempts)?;
    app.network.card_by_phone(phone, iin).map_err(|_| {
        app.guard.fail_all(&keys, now);
        let refused = ReasonCode::IIN_PHONE_MISMATCH;
        TransferError::new(400, refused.code, refused.message)
    })
}

/// `429` with `Retry-After` for a limit that was reached.
fn too_many_attempts(t: crate::guard::TooMany) -> TransferError {
    let mut e =
        TransferError::new(429, -1, format!("too many declined attempts; retry after {} seconds", t.retry_after_secs));
    e.retry_after_secs = Some(t.retry_after_secs);
    e
}

/// A side given by card number (`TYPEPAN`): `cardCred`, and `expire` and `cvc` when given.
pub(crate) fn pan_side(fields: &Fields, what: &str, name: String, save: bool) -> Result<Side, TransferError> {
    let cred =
        fields.req_str(&["cardCred"]).map_err(|_| TransferError::bad(format!("card.{what}.cardCred is required")))?;
    let pan = Pan::parse(&cred).map_err(|e| TransferError::bad(format!("card.{what}.cardCred: {e}")))?;
    let expiry = match fields.opt_object(&["expire"])? {
        Some(e) => Some(
            Expiry::from_parts(&e.str_or_empty(&["month"])?, &e.str_or_empty(&["year"])?)
                .map_err(|err| TransferError::bad(format!("card.{what}.expire: {err}")))?,
        ),
        None => None,
    };
    let cvc = match fields.opt_str(&["cvc"])?.filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(Cvc::parse(&c).map_err(|e| TransferError::bad(format!("card.{what}.cvc: {e}")))?),
        None => None,
    };
    Ok(Side { pan, transfer_type: "TYPEPAN", saved_card_id: None, expiry, cvc, name, save })
}

/// `what` of the paying side in [`resolve_side`] and its messages.
const SENDER: &str = "sender";

fn day_start_ms(now_ms: i64) -> i64 {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(now_ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(KZ_OFFSET);
    let midnight = dt.replace_time(time::Time::MIDNIGHT);
    (midnight.unix_timestamp_nanos() / 1_000_000) as i64
}

pub async fn transfer(
    app: &App,
    auth_header: Option<&str>,
    body: &[u8],
    kind: TransferKind,
    acs_url: &str,
) -> Result<TransferResponse, TransferError> {
    let token = authenticate(app, auth_header).await.map_err(|e| match e {
        BearerError::Storage => TransferError::new(500, -1, "internal error"),
        other => TransferError::new(401, -1, other.to_string()),
    })?;
    let fields = Fields::from_json(body)?;
    transfer_with(app, token, &fields, kind, acs_url, TokenSpend::Always).await
}

/// A transfer whose token is already authenticated (the API and the payment page).
/// `token_spend`: the API spends the token whatever the outcome; the transfer page keeps it
/// after a decline, so the shopper can try again (docs/compatibility.md §48).
pub async fn transfer_with(
    app: &App,
    token: TokenRecord,
    fields: &Fields,
    kind: TransferKind,
    acs_url: &str,
    token_spend: TokenSpend,
) -> Result<TransferResponse, TransferError> {
    if !has_scope(&token, "transfer") {
        return Err(TransferError::new(403, -1, format!("token scope {:?} does not allow transfers", token.scope)));
    }
    if token.used_at.is_some() {
        return Err(TransferError::new(401, -1, "token has already been used; request a new token"));
    }
    check_kind(&token, kind)?;
    // Only a token bound to its order id may try again after a decline: one bound to none (seed
    // 002's page token) would try cards on any number of order ids (docs/security.md).
    let token_spend = if token.invoice_id.is_some() { token_spend } else { TokenSpend::Always };
    let order_fields = fields.opt_object(&["order"])?.ok_or_else(|| TransferError::bad("field order is required"))?;
    let card_fields = fields.opt_object(&["card"])?.ok_or_else(|| TransferError::bad("field card is required"))?;
    let invoice_text =
        order_fields.req_str(&["id", "invoiceId"]).map_err(|_| TransferError::bad("order.id is required"))?;
    let requested_account = order_fields.str_or_empty(&["accountID", "accountId"])?;
    let account_id = capability::account_id(&token, &requested_account)
        .map_err(|e| TransferError::bad(format!("order.{e}")).with_order(&invoice_text, &requested_account))?;
    let fail = |e: TransferError| e.with_order(&invoice_text, &account_id);

    let terminal = transfer_terminal(app, &token, &order_fields).await.map_err(fail)?;
    let order = parse_order(app.config.mode, &order_fields, &token, &terminal).map_err(fail)?;
    if !terminal.transfers_allowed {
        return Err(fail(TransferError::new(400, ReasonCode::NOT_PERMITTED.code, " Not permitted to merchant")));
    }

    let phone_scope = PhoneScope { token_digest: &token.token_digest, terminal_id: &terminal.id };
    let sender_fields = card_fields.opt_object(&["sender"])?;
    let receiver_fields = card_fields.opt_object(&["receiver"])?;
    let sender = match (kind, sender_fields) {
        (TransferKind::Oct, _) => None,
        (_, Some(f)) => Some(resolve_side(app, &token.merchant_id, &account_id, &f, SENDER, None).await.map_err(fail)?),
        (_, None) => return Err(fail(TransferError::bad("card.sender is required"))),
    };
    let receiver = match (kind, receiver_fields) {
        (TransferKind::Aft, _) => None,
        (_, Some(f)) => Some(
            resolve_side(
                app,
                &token.merchant_id,
                &account_id,
                &f,
                "receiver",
                (kind == TransferKind::Oct).then_some(phone_scope),
            )
            .await
            .map_err(fail)?,
        ),
        (_, None) => return Err(fail(TransferError::bad("card.receiver is required"))),
    };
    if let Some(s) = &sender {
        if s.transfer_type == "TYPEPAN" && (s.expiry.is_none() || s.cvc.is_none()) {
            return Err(fail(TransferError::bad("card.sender: expire and cvc are required with TYPEPAN")));
        }
        if s.save && account_id.trim().is_empty() {
            return Err(fail(TransferError::bad("order.accountID is required to save a card")));
        }
    }
    if receiver.as_ref().is_some_and(|r| r.save) && account_id.trim().is_empty() {
        return Err(fail(TransferError::bad("order.accountID is required to save a card")));
    }
    if let (Some(s), Some(r)) = (&sender, &receiver) {
        if s.pan == r.pan {
            return Err(fail(TransferError::bad("sender and receiver must be different cards")));
        }
    }

    let now = app.clock.now_ms();
    let from_tenge = app.network.rate(Currency::Kzt, order.currency);
    let fee_minor = fee(&terminal, order.amount, from_tenge);
    let merchant_account = epay_store::merchant_account(&terminal.id, order.currency.code());
    // Whose conversion the transfer records: the sender card's, or for a payout the receiver's.
    let mut authorization = None;
    // Ask the network: the sender pays amount + fee (P2P, AFT); the receiver must accept.
    let mut decline: Option<ReasonCode> = None;
    let mut issuer = String::new();
    let mut approval_code = String::new();
    let mut from_account = merchant_account.clone();
    let mut challenge = false;
    // Card testing: the sending card and the terminal count declines, as for payments.
    let guard_keys = sender
        .as_ref()
        .map(|s| {
            crate::guard::card_keys(
                &app.keys.pan_fingerprint(&s.pan),
                &terminal.id,
                &crate::guard::Limits::from_config(&app.config),
            )
            .to_vec()
        })
        .unwrap_or_default();
    let guard_keys = crate::guard::as_refs(&guard_keys);
    if let Err(t) = app.guard.check_all(&guard_keys, now) {
        return Err(fail(too_many_attempts(t)));
    }
    if let Some(s) = &sender {
        let total = Amount::from_minor(order.amount.minor() + fee_minor)
            .map_err(|e| fail(TransferError::bad(e.to_string())))?;
        let request = AuthRequest {
            pan: &s.pan,
            expiry: s.expiry,
            cvc: s.cvc.as_ref(),
            amount: total,
            currency: order.currency,
            today: year_month(now),
        };
        let answer = app.network.authorize(&request);
        authorization = Some(answer.clone());
        match answer {
            Authorization::Approved { card_account, approval_code: code, issuer: i, three_ds_enrolled, .. } => {
                from_account = card_account;
                approval_code = code;
                issuer = i;
                // A 3-D Secure terminal challenges an enrolled sender card before money moves.
                challenge = terminal.three_ds && three_ds_enrolled;
            }
            Authorization::Declined { reason, issuer: i } => {
                decline = Some(reason);
                issuer = i;
            }
        }
    }
    let mut to_account = merchant_account.clone();
    let mut receiver_limit = None;
    if let (None, Some(r)) = (&decline, &receiver) {
        match app.network.receiver(&r.pan, year_month(now)) {
            Ok(info) => {
                check_receiver_currency(&authorization, info.currency, order.currency).map_err(fail)?;
                to_account = info.card_account.clone();
                receiver_limit = info.daily_incoming_limit_minor;
                if sender.is_none() {
                    issuer = info.issuer.clone();
                    approval_code = ids::approval_code();
                    authorization = Some(payout_conversion(app, &info, order.currency));
                }
            }
            Err(reason) => decline = Some(reason),
        }
    }
    let challenge = challenge && decline.is_none();

    let payment_id = ids::uuid();
    let reason = decline.unwrap_or(ReasonCode::SUCCESS);
    let approved = decline.is_none() && !challenge;
    let status = if challenge {
        TxStatus::ThreeD
    } else if approved {
        TxStatus::Charge
    } else {
        TxStatus::Reject
    };
    let mask = |side: &Option<Side>| side.as_ref().map(|s| s.pan.masked()).unwrap_or_default();
    let brand = |side: &Option<Side>| {
        side.as_ref().map(|s| CardBrand::of(s.pan.expose()).as_str().to_string()).unwrap_or_default()
    };
    let payment = Payment {
        id: payment_id.clone(),
        merchant_id: token.merchant_id.clone(),
        terminal_id: terminal.id.clone(),
        invoice_id: order.invoice.as_str().to_string(),
        invoice_id_alt: String::new(),
        kind: kind.into(),
        status,
        amount_minor: order.amount.minor(),
        charged_minor: if approved { order.amount.minor() } else { 0 },
        refunded_minor: 0,
        // A transfer waiting for 3-D Secure already shows the fee it will take.
        fee_minor: if decline.is_none() { fee_minor } else { 0 },
        currency: order.currency.code().into(),
        description: order.description.as_str().into(),
        account_id: account_id.clone(),
        email: order.email.clone(),
        phone: String::new(),
        payer_name: sender.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
        language: "RU".into(),
        post_link: order.post_link.clone(),
        failure_post_link: order.failure_post_link.clone(),
        back_link: order.back_link.clone(),
        failure_back_link: order.failure_back_link.clone(),
        secret_hash: token.secret_hash.clone(),
        data: String::new(),
        card_id: sender.as_ref().and_then(|s| s.saved_card_id.clone()),
        card_mask: mask(&sender),
        card_brand: brand(&sender),
        card_account: sender.as_ref().map(|_| from_account.clone()),
        issuer,
        reference: if approved { ids::reference() } else { String::new() },
        int_reference: ids::int_reference(),
        approval_code: if approved { approval_code } else { String::new() },
        reason_code: reason.code,
        reason: reason.message.into(),
        secure: false,
        created_at: now,
        updated_at: now,
        sender_transfer_type: sender.as_ref().map(|s| s.transfer_type.to_string()).unwrap_or_default(),
        receiver_transfer_type: receiver.as_ref().map(|r| r.transfer_type.to_string()).unwrap_or_default(),
        receiver_card_id: receiver.as_ref().and_then(|r| r.saved_card_id.clone()),
        receiver_card_mask: mask(&receiver),
        receiver_card_brand: brand(&receiver),
        receiver_account: receiver.as_ref().map(|_| to_account.clone()),
        ..Payment::default()
    };
    let payment = match &authorization {
        Some(a) => crate::services::payments::with_conversion(payment, a),
        None => payment,
    };
    let to_save = |side: &Option<Side>, payable: bool| {
        side.as_ref().filter(|s| s.save && s.saved_card_id.is_none()).map(|s| {
            let expiry = s.expiry.map(|e| e.mmyy()).unwrap_or_default();
            new_saved_card(app, &payment, &terminal, &s.pan, &expiry, &s.name, payable)
        })
    };
    let (save_sender, save_receiver) =
        if approved { (to_save(&sender, true), to_save(&receiver, false)) } else { (None, None) };
    let three_ds = match (&sender, challenge) {
        (Some(s), true) => {
            let mut session = crate::services::three_ds::new_session(
                app,
                &payment,
                &token,
                &s.pan,
                &s.expiry.map(|e| e.mmyy()).unwrap_or_default(),
                s.save && s.saved_card_id.is_none(),
                token_spend,
            );
            if let Some(r) = &receiver {
                session.receiver_pan_ciphertext = Some(app.keys.seal_pan(&r.pan));
                session.receiver_expiry_mmyy = r.expiry.map(|e| e.mmyy()).unwrap_or_default();
                session.save_receiver = r.save && r.saved_card_id.is_none();
            }
            Some(session)
        }
        _ => None,
    };
    let money = approved.then(|| {
        transfer_money(&terminal, &payment, from_account, to_account, fee_minor, receiver_limit, from_tenge, now)
    });
    let write = TransferWrite {
        token_digest: token.token_digest.clone(),
        token_spend,
        settlement: settlement(kind, payment, money, save_sender, save_receiver),
        three_ds: three_ds.clone(),
        idempotency: {
            let (three_ds, acs_url) = (three_ds.clone(), acs_url.to_string());
            let (invoice_text, account_id) = (invoice_text.clone(), account_id.clone());
            idempotency::record(move |p| {
                answer(p, three_ds.as_ref(), &acs_url)
                    .map(axum::Json)
                    .map_err(|e| e.with_order(&invoice_text, &account_id))
            })
        },
    };
    let recorded = match app.store.record_transfer(write, &callback).await {
        Ok(p) => p,
        Err(StoreError::TokenSpent) => {
            return Err(fail(TransferError::new(401, -1, "token has already been used; request a new token")))
        }
        Err(e) => {
            return Err(fail(match crate::services::attempts::refused(&e, "order id", order.invoice.as_str()) {
                Some(crate::services::attempts::Refused::Held(message)) => TransferError::new(409, -1, message),
                Some(crate::services::attempts::Refused::Exhausted(message)) => {
                    TransferError::new(400, ReasonCode::TOO_MANY_ATTEMPTS.code, message)
                }
                None => internal(e),
            }))
        }
    };
    app.metrics.observe_outcome(&recorded);
    if recorded.reason_code != 0 {
        app.guard.fail_all(&guard_keys, now);
    }
    tracing::info!(
        transfer_id = %recorded.id, kind = kind.as_str(), status = %recorded.status, reason_code = recorded.reason_code,
        sender = %recorded.card_mask, receiver = %recorded.receiver_card_mask, "transfer recorded"
    );
    answer(&recorded, three_ds.as_ref(), acs_url).map_err(fail)
}

/// The answer to a recorded transfer: its decline, or the transfer (with its 3-D Secure
/// challenge when it waits for one).
fn answer(p: &Payment, three_ds: Option<&ThreeDsSession>, acs_url: &str) -> Result<TransferResponse, TransferError> {
    if p.reason_code != 0 {
        let mut e = TransferError::new(400, p.reason_code, p.reason.clone());
        e.id = p.id.clone();
        return Err(e);
    }
    let mut answer = response(p);
    if let Some(session) = three_ds {
        answer.secure3d = Some(crate::services::three_ds::secure3d(session, acs_url));
    }
    Ok(answer)
}

/// A card saved by a successful transfer (either side), sealed under the vault key.
/// `payable` only for the paying side, whose expiry and CVC were just checked; a receiver was
/// never proven and may only receive.
fn new_saved_card(
    app: &App,
    p: &Payment,
    terminal: &Terminal,
    pan: &Pan,
    expiry_mmyy: &str,
    name: &str,
    payable: bool,
) -> SavedCard {
    SavedCard {
        id: ids::uuid(),
        merchant_id: p.merchant_id.clone(),
        account_id: p.account_id.clone(),
        pan_fingerprint: app.keys.pan_fingerprint(pan),
        pan_ciphertext: app.keys.seal_pan(pan),
        card_mask: pan.masked(),
        card_brand: pan.brand().as_str().to_string(),
        expiry_mmyy: expiry_mmyy.to_string(),
        payer_name: name.to_string(),
        transaction_id: p.id.clone(),
        terminal_pos_id: terminal.pos_id.clone(),
        reference: String::new(),
        int_reference: String::new(),
        card_token: hex::encode_upper(uuid::Uuid::new_v4().as_bytes()),
        active: true,
        payable,
        created_at: p.updated_at,
    }
}

/// A payout's conversion: the receiving card's currency at the network's rate (the merchant's
/// account is in the transfer's currency).
fn payout_conversion(app: &App, receiver: &epay_network::Receiver, currency: Currency) -> Authorization {
    Authorization::Approved {
        card_account: receiver.card_account.clone(),
        approval_code: String::new(),
        issuer: receiver.issuer.clone(),
        three_ds_enrolled: false,
        conversion: Conversion {
            card_currency: receiver.currency,
            rate: app.network.rate(currency, receiver.currency),
        },
    }
}

/// A transfer records one conversion, so a receiving card must be in the transfer's currency or
/// in the sending card's.
fn check_receiver_currency(
    sender: &Option<Authorization>,
    receiver: Currency,
    transfer: Currency,
) -> Result<(), TransferError> {
    let sender_currency = match sender {
        Some(Authorization::Approved { conversion, .. }) => Some(conversion.card_currency),
        _ => None,
    };
    if receiver == transfer || sender_currency.is_none_or(|c| c == receiver) {
        return Ok(());
    }
    Err(TransferError::bad(format!(
        "the receiving card is in {receiver}, neither the transfer's currency ({transfer}) nor the sending card's"
    )))
}

/// The money of an approved transfer, with the limits the store checks when it moves it.
/// The terminal's daily limit is a tenge amount: for a transfer
/// in another currency it is converted at the network's rate and counts only that currency.
#[allow(clippy::too_many_arguments)]
fn transfer_money(
    terminal: &Terminal,
    payment: &Payment,
    from_account: String,
    to_account: String,
    fee_minor: i64,
    receiver_daily_limit_minor: Option<i64>,
    from_tenge: FxRate,
    now: i64,
) -> TransferMoney {
    TransferMoney {
        from_account,
        to_account,
        fee_account: epay_store::fee_account(&terminal.id, &payment.currency),
        fee_minor,
        receiver_daily_limit_minor,
        terminal_daily_limit_minor: (terminal.transfer_daily_limit_minor > 0)
            .then(|| from_tenge.convert(terminal.transfer_daily_limit_minor)),
        day_start_ms: day_start_ms(now),
    }
}

fn settlement(
    kind: TransferKind,
    payment: Payment,
    money: Option<TransferMoney>,
    save_sender: Option<SavedCard>,
    save_receiver: Option<SavedCard>,
) -> TransferSettlement {
    let limit = |r: ReasonCode| (r.code, r.message.to_string());
    TransferSettlement {
        payment,
        money,
        save_sender,
        save_receiver,
        insufficient_funds: if kind == TransferKind::Oct {
            (ReasonCode::INSUFFICIENT_FUNDS.code, "Merchant balance is insufficient for this payout".into())
        } else {
            limit(ReasonCode::INSUFFICIENT_FUNDS)
        },
        receiver_limit: limit(ReasonCode::RECEIVER_DAILY_LIMIT),
        terminal_limit: limit(ReasonCode::TERMINAL_DAILY_LIMIT),
    }
}

/// Whether a recorded transaction is a transfer rather than a card payment.
pub fn is_transfer(p: &Payment) -> bool {
    p.kind.is_transfer()
}

/// Ends a transfer that waited for 3-D Secure: a passed challenge asks the network again for the
/// sender (no CVC: it was checked before the challenge) and the receiver, then moves the money;
/// anything else fails the transfer with `outcome`'s reason.
pub async fn finish_three_ds(
    app: &App,
    session: &ThreeDsSession,
    mut payment: Payment,
    outcome: Result<(), ReasonCode>,
    now: i64,
) -> Result<Payment, PaymentError> {
    let kind = payment.kind.transfer().unwrap_or(TransferKind::P2p);
    let broken = |what: &str| {
        tracing::error!(transfer_id = %payment.id, "3-D Secure transfer cannot be finished: {what}");
        PaymentError::Internal
    };
    let terminal = app
        .store
        .terminal(&payment.terminal_id)
        .await
        .map_err(|e| broken(&e.to_string()))?
        .ok_or_else(|| broken("its terminal is missing"))?;
    let sender = app.open_pan(&session.pan_ciphertext).await.ok_or_else(|| broken("a card cannot be unsealed"))?;
    let receiver = match session.receiver_pan_ciphertext.as_deref() {
        Some(text) => Some(app.open_pan(text).await.ok_or_else(|| broken("a card cannot be unsealed"))?),
        None => None,
    };
    payment.secure = true;
    payment.updated_at = now;
    let mut decline = outcome.err().map(|r| (TxStatus::Failed, r));
    let mut from_account = payment.card_account.clone().unwrap_or_default();
    let mut to_account = payment
        .receiver_account
        .clone()
        .unwrap_or_else(|| epay_store::merchant_account(&terminal.id, &payment.currency));
    let currency: Currency = payment.currency.parse().map_err(|_| broken("its currency is unknown"))?;
    let mut receiver_limit = None;
    if decline.is_none() {
        let amount =
            Amount::from_minor(payment.amount_minor + payment.fee_minor).map_err(|e| broken(&e.to_string()))?;
        let request = AuthRequest {
            pan: &sender,
            expiry: Expiry::parse(&session.expiry_mmyy).ok(),
            cvc: None,
            amount,
            currency,
            today: year_month(now),
        };
        match app.network.authorize(&request) {
            Authorization::Approved { card_account, approval_code, issuer, .. } => {
                from_account = card_account;
                payment.approval_code = approval_code;
                payment.issuer = issuer;
            }
            Authorization::Declined { reason, .. } => decline = Some((TxStatus::Reject, reason)),
        }
    }
    if let (None, Some(pan)) = (&decline, &receiver) {
        match app.network.receiver(pan, year_month(now)) {
            Ok(info) => {
                to_account = info.card_account;
                receiver_limit = info.daily_incoming_limit_minor;
            }
            Err(reason) => decline = Some((TxStatus::Reject, reason)),
        }
    }
    let (money, save_sender, save_receiver) = match decline {
        Some((status, reason)) => {
            payment.status = status;
            payment.reason_code = reason.code;
            payment.reason = reason.message.into();
            payment.fee_minor = 0;
            payment.approval_code = String::new();
            (None, None, None)
        }
        None => {
            payment.status = TxStatus::Charge;
            payment.charged_minor = payment.amount_minor;
            payment.reference = ids::reference();
            payment.card_account = Some(from_account.clone());
            if receiver.is_some() {
                payment.receiver_account = Some(to_account.clone());
            }
            let save_sender = session.save_card.then(|| {
                new_saved_card(app, &payment, &terminal, &sender, &session.expiry_mmyy, &payment.payer_name, true)
            });
            let save_receiver = receiver
                .as_ref()
                .filter(|_| session.save_receiver)
                .map(|pan| new_saved_card(app, &payment, &terminal, pan, &session.receiver_expiry_mmyy, "", false));
            let from_tenge = app.network.rate(Currency::Kzt, currency);
            let money = transfer_money(
                &terminal,
                &payment,
                from_account,
                to_account,
                payment.fee_minor,
                receiver_limit,
                from_tenge,
                now,
            );
            (Some(money), save_sender, save_receiver)
        }
    };
    let settled = settlement(kind, payment, money, save_sender, save_receiver);
    let finished = match app.store.finish_three_ds_transfer(&session.id, settled, now, &callback).await {
        Ok(p) => p,
        Err(StoreError::AlreadyConfirmed) => {
            return Err(PaymentError::Conflict("this 3-D Secure transaction was already confirmed".into()))
        }
        Err(e) => {
            tracing::error!(error = %e, "3-D Secure transfer storage failed");
            return Err(PaymentError::Internal);
        }
    };
    app.metrics.observe_outcome(&finished);
    tracing::info!(
        transfer_id = %finished.id, status = %finished.status, reason_code = finished.reason_code,
        "3-D Secure transfer finished"
    );
    Ok(finished)
}

/// A transfer token makes only the kind of transfer it was issued for ([`allowed_kind`]).
pub(crate) fn check_kind(token: &TokenRecord, kind: TransferKind) -> Result<(), TransferError> {
    let allowed = allowed_kind(token);
    if kind == allowed {
        return Ok(());
    }
    let how = if token.transfer_kind.is_some() {
        format!("this token was issued for {} transfers only", allowed.as_str().to_ascii_uppercase())
    } else {
        "a token requested without transferKind makes P2P transfers only".to_string()
    };
    Err(TransferError::new(
        403,
        -1,
        format!("{how}; request a token with transferKind={} for this {} transfer", kind.as_str(), kind.as_str()),
    ))
}

/// The terminal of a transfer: the token's (another `terminalId` in the order is ignored, as
/// seeds 000 and 001 need), or for a token issued without one the order's; either way it must be
/// the merchant's.
async fn transfer_terminal(app: &App, token: &TokenRecord, order: &Fields) -> Result<Terminal, TransferError> {
    let requested = order.opt_str(&["terminalId", "terminal"])?;
    let id = capability::terminal_id(token, requested.as_deref())
        .ok_or_else(|| TransferError::bad("order.terminalId is required when the token has no terminal"))?;
    app.store
        .terminal(&id)
        .await
        .map_err(internal)?
        .filter(|t| t.merchant_id == token.merchant_id)
        .ok_or_else(|| TransferError::bad(format!("terminal {} not found", echoed(&id))))
}

/// What the transfer page shows before the customer confirms.
#[derive(Debug, Clone)]
pub struct PageTransfer {
    pub merchant_name: String,
    pub description: String,
    pub amount: Amount,
    pub fee: Amount,
    pub currency: Currency,
    pub back_link: String,
    pub failure_back_link: String,
    /// The saved cards (id, mask) of the customer the token names: all of them may receive.
    pub saved_cards: Vec<(String, String)>,
    /// Those of them proven for paying, offered as the sender.
    pub paying_cards: Vec<(String, String)>,
    /// The saved cards the page's `senderCardId` / `receiverCardId` pre-select (seed 000), when
    /// they are among the cards offered on that side.
    pub preselected: Preselected,
}

/// Saved cards a transfer page pre-selects on each side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preselected {
    pub sender: Option<String>,
    pub receiver: Option<String>,
}

impl Preselected {
    /// Seed 000's "transfer by saved cards": the page names the sender's (`senderCardId`) or the
    /// receiver's (`receiverCardId`) saved card. An id is kept only when it is one of the cards
    /// the form offers on that side, which are the token's customer's cards (a receive-only card
    /// is never offered as the sender). Any other id is ignored, so the page looks the same
    /// whether the id is another customer's, deactivated or unknown: it reveals nothing.
    fn from_page(
        params: &Fields,
        paying_cards: &[(String, String)],
        saved_cards: &[(String, String)],
    ) -> Result<Preselected, TransferError> {
        let pick = |name: &str, offered: &[(String, String)]| -> Result<Option<String>, TransferError> {
            let Some(asked) = params.opt_str(&[name])?.map(|id| id.trim().to_string()).filter(|id| !id.is_empty())
            else {
                return Ok(None);
            };
            let found = offered.iter().find(|(id, _)| *id == asked).map(|(id, _)| id.clone());
            if found.is_none() {
                tracing::info!(field = name, "the page names a saved card the form does not offer; ignored");
            }
            Ok(found)
        };
        Ok(Preselected { sender: pick("senderCardId", paying_cards)?, receiver: pick("receiverCardId", saved_cards)? })
    }
}

/// The `order` object of a transfer made from the payment page's parameters.
pub fn page_order(params: &Fields) -> Result<serde_json::Value, TransferError> {
    let text = |names: &[&str]| params.str_or_empty(names).map_err(TransferError::from);
    Ok(serde_json::json!({
        "id": text(&["invoiceId", "invoiceID"])?,
        "amount": text(&["amount"])?,
        "currency": text(&["currency"])?,
        "description": text(&["description"])?,
        "accountID": text(&["accountId", "accountID"])?,
        "senderEmail": text(&["email"])?,
        "terminalId": text(&["terminal", "terminalId"])?,
        "backLink": text(&["backLink"])?,
        "failureBackLink": text(&["failureBackLink"])?,
        "postLink": text(&["postLink"])?,
        "failurePostLink": text(&["failurePostLink"])?,
    }))
}

/// Checks a transfer page's token and order exactly as the API would, writing nothing.
pub async fn check_page_transfer(
    app: &App,
    access_token: &str,
    params: &Fields,
    kind: TransferKind,
) -> Result<(TokenRecord, PageTransfer), TransferError> {
    let header = format!("Bearer {access_token}");
    let token = authenticate(app, Some(&header)).await.map_err(|e| TransferError::new(401, -1, e.to_string()))?;
    if !has_scope(&token, "transfer") {
        return Err(TransferError::new(403, -1, format!("token scope {:?} does not allow transfers", token.scope)));
    }
    if token.used_at.is_some() {
        return Err(TransferError::new(401, -1, "token has already been used; request a new token"));
    }
    check_kind(&token, kind)?;
    let order_fields = Fields::from_value(page_order(params)?, "order")?;
    capability::account_id(&token, &order_fields.str_or_empty(&["accountID"])?)
        .map_err(|e| TransferError::bad(format!("order.{e}")))?;
    let terminal = transfer_terminal(app, &token, &order_fields).await?;
    let order = parse_order(app.config.mode, &order_fields, &token, &terminal)?;
    if !terminal.transfers_allowed {
        return Err(TransferError::new(400, ReasonCode::NOT_PERMITTED.code, " Not permitted to merchant"));
    }
    // The page offers saved cards only of the customer the merchant named in the token request;
    // an accountId in the page's params is the shopper's to write, so it never lists cards.
    let cards = match token.account_id.as_deref() {
        Some(account_id) => app.store.saved_cards(&token.merchant_id, account_id).await.map_err(internal)?,
        None => Vec::new(),
    };
    let paying_cards: Vec<_> =
        cards.iter().filter(|c| c.payable).map(|c| (c.id.clone(), c.card_mask.clone())).collect();
    let saved_cards: Vec<_> = cards.into_iter().map(|c| (c.id, c.card_mask)).collect();
    let preselected = Preselected::from_page(params, &paying_cards, &saved_cards)?;
    let merchant = app.store.merchant(&token.merchant_id).await.map_err(internal)?;
    let from_tenge = app.network.rate(Currency::Kzt, order.currency);
    let fee = Amount::from_minor(fee(&terminal, order.amount, from_tenge)).unwrap_or_default();
    Ok((
        token,
        PageTransfer {
            merchant_name: merchant.map(|m| m.name).unwrap_or_default(),
            description: order.description.as_str().to_string(),
            amount: order.amount,
            fee,
            currency: order.currency,
            back_link: order.back_link,
            failure_back_link: order.failure_back_link,
            saved_cards,
            paying_cards,
            preselected,
        },
    ))
}

/// The transfer form a `halyk.pay` call opens, if its token is a transfer token: seed 002 gets a
/// `transfer` token and calls `halyk.pay`. The token, not the page's call, fixes the kind
/// ([`allowed_kind`]: its `transferKind`, P2P without one), as it does for `halyk.p2p`,
/// `halyk.aft` and `halyk.oct`. `None` for every other token (a payment token, or an unknown one,
/// which the payment form then refuses with its own message).
pub async fn kind_for_pay_call(app: &App, access_token: &str) -> Option<TransferKind> {
    let header = format!("Bearer {access_token}");
    let token = authenticate(app, Some(&header)).await.ok()?;
    (has_scope(&token, "transfer") && !has_scope(&token, "payment")).then(|| allowed_kind(&token))
}

pub(crate) fn parse_order(
    mode: Mode,
    f: &Fields,
    token: &TokenRecord,
    terminal: &Terminal,
) -> Result<Order, TransferError> {
    let invoice = InvoiceId::parse_transfer_order(&f.req_str(&["id", "invoiceId"])?)
        .map_err(|e| TransferError::bad(format!("order.id: {e}")))?;
    let amount = f
        .req_amount(&["amount"])
        .map_err(|e| TransferError::bad(format!("order.{}", e.0.trim_start_matches("field "))))?;
    if amount.is_zero() {
        return Err(TransferError::bad("order.amount must be greater than 0"));
    }
    let currency = f.opt_currency(&["currency"])?.unwrap_or(Currency::Kzt);
    let description = Description::parse(&f.str_or_empty(&["description"])?)
        .map_err(|e| TransferError::bad(format!("order.description: {e}")))?;
    // A token issued for an order serves exactly that order (DESIGN §4).
    if let Some(bound) = &token.invoice_id {
        if bound != invoice.as_str() {
            return Err(TransferError::bad(format!("order.id {invoice} does not match the token's invoiceID {bound}")));
        }
    }
    if let Some(bound) = token.amount_minor {
        if bound != amount.minor() {
            return Err(TransferError::bad(format!("order.amount {amount} does not match the token's amount")));
        }
    }
    if let Some(bound) = token.currency.as_deref().filter(|_| token.invoice_id.is_some()) {
        if bound != currency.code() {
            return Err(TransferError::bad(format!("order.currency {currency} does not match the token's currency")));
        }
    }
    let (post_link, failure_post_link) = (f.str_or_empty(&["postLink"])?, f.str_or_empty(&["failurePostLink"])?);
    let links = capability::callback_links(token, terminal, &post_link, &failure_post_link, mode)
        .map_err(|e| TransferError::bad(format!("order.{e}")))?;
    let order = Order {
        invoice,
        amount,
        currency,
        description,
        email: f.str_or_empty(&["senderEmail", "email"])?,
        post_link: links.post_link,
        failure_post_link: links.failure_post_link,
        back_link: f.str_or_empty(&["backLink"])?,
        failure_back_link: f.str_or_empty(&["failureBackLink"])?,
    };
    for (name, url) in [("backLink", &order.back_link), ("failureBackLink", &order.failure_back_link)] {
        crate::services::links::check_link(name, url, mode)
            .map_err(|e| TransferError::bad(format!("order.{name}: {e}")))?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rule() {
        let t = Terminal { fee_percent_bp: 100, fee_min_minor: 9_500, ..Terminal::default() };
        let one = FxRate::ONE;
        assert_eq!(fee(&t, Amount::from_minor(10_000).unwrap(), one), 9_500, "seed 001: fee 95 on 100");
        assert_eq!(fee(&t, Amount::from_minor(10_000_000).unwrap(), one), 100_000);
        // In USD (1 USD = 500 KZT) the 95-tenge minimum is 0.19 USD: 1% of 10 USD is less.
        let usd = FxRate::from_micros(2_000);
        assert_eq!(fee(&t, Amount::from_minor(1_000).unwrap(), usd), 19);
        assert_eq!(fee(&t, Amount::from_minor(100_000).unwrap(), usd), 1_000);
        let t = Terminal { fee_percent_bp: 150, fee_fixed_minor: 2_000, ..Terminal::default() };
        assert_eq!(fee(&t, Amount::from_minor(33_333).unwrap(), one), 500 + 2_000);
        assert_eq!(fee(&Terminal::default(), Amount::from_minor(12_345).unwrap(), one), 0);
    }
}
