//! The use case every card payment ends in: ask the card network, then record the outcome in one
//! store transaction (the payment, its money, a saved card, the 3-D Secure session, the callback
//! and the Idempotency-Key's answer).

use epay_domain::{ids, CardBrand, Pan, PaymentKind, TxStatus};
use epay_network::AuthRequest;
use epay_store::{CardToSave, Payment, PaymentWrite, SavedCard, StoreError, Terminal, TokenRecord, TokenSpend};

use super::answer::answer;
use super::command::EnteredCard;
use super::error::{attempt_refused, bad, PaymentError, TOKEN_USED};
use super::order::Order;
use super::outcome::{decide, with_conversion, Outcome};
use crate::app::App;
use crate::platform::clock::year_month;
use crate::services::idempotency;
use crate::wire::PaymentAnswer;

/// The card a payment is made with.
pub(crate) enum CardSource {
    Entered(EnteredCard),
    Saved { card: Box<SavedCard>, pan: Pan },
}

/// Pays `order` with the card from `source` on the payer's terminal.
pub(crate) async fn execute(
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

    let payment_id = ids::time_ordered_uuid(now);
    let merchant_account = epay_store::merchant_account(&terminal.id, order.currency.code());
    // A 3-D Secure terminal challenges an enrolled card before any money moves (seed 003), and
    // before a verification saves it for paying: a saved card must be proven as the terminal
    // asks.
    // A recurrent payment by saved card (its agreement checked in `saved_card`) is
    // merchant-initiated: no cardholder is there to be challenged.
    let merchant_initiated = order.recurrent && matches!(source, CardSource::Saved { .. });
    let challenge = !merchant_initiated && crate::services::three_ds::challenges(&terminal, &authorization);
    let Outcome { status, reason, approval_code, issuer, effect, card_account } =
        decide(&authorization, challenge, verification, &terminal, merchant_account);

    let (card_id, save_card) = match &source {
        CardSource::Saved { card, .. } => (Some(card.id.clone()), None),
        CardSource::Entered(c) if order.card_save && !challenge => {
            (None, Some(card_to_save(app, &token, &terminal, &order, c, &payment_id, now)))
        }
        CardSource::Entered(_) => (None, None),
    };
    let approved = reason.is_success() && !challenge;
    let reference = if approved { ids::reference() } else { String::new() };
    let int_reference = ids::int_reference();
    let save_card = save_card.map(|mut card| {
        card.reference = reference.clone();
        card.int_reference = int_reference.clone();
        CardToSave { card, recurrent: order.recurrent }
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
        token_expires_at: token.expires_at,
        token_spend,
        payment,
        effect,
        save_card,
        subscription: None,
        idempotency: {
            let (three_ds, acs_url) = (three_ds.clone(), acs_url.to_string());
            idempotency::record(move |p| answer(p, three_ds.as_ref(), &acs_url))
        },
    };
    let recorded = match app.store.record_payment(write, &crate::services::callbacks::for_payment).await {
        Ok(r) => r,
        Err(StoreError::TokenSpent) => return Err(PaymentError::Unauthorized(TOKEN_USED.into())),
        // Re-checked in the payment's transaction: a cancel committed after `payer`'s check.
        Err(StoreError::LinkClosed) => {
            return Err(PaymentError::Forbidden(crate::services::invoices::LINK_CLOSED.into()))
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

/// A card the payer typed, approved, saved for the order's customer.
fn card_to_save(
    app: &App,
    token: &TokenRecord,
    terminal: &Terminal,
    order: &Order,
    c: &EnteredCard,
    payment_id: &str,
    now: i64,
) -> SavedCard {
    SavedCard {
        id: ids::uuid(),
        merchant_id: token.merchant_id.clone(),
        account_id: order.account_id.clone(),
        pan_fingerprint: app.keys.pan_fingerprint(&c.pan),
        pan_ciphertext: app.keys.seal_pan(&c.pan),
        card_mask: c.pan.masked(),
        card_brand: c.pan.brand().as_str().to_string(),
        expiry_mmyy: c.expiry.mmyy(),
        payer_name: order.payer_name.clone(),
        transaction_id: payment_id.to_string(),
        terminal_pos_id: terminal.pos_id.clone(),
        reference: String::new(),
        int_reference: String::new(),
        card_token: hex::encode_upper(uuid::Uuid::new_v4().as_bytes()),
        active: true,
        // Entered with its expiry and CVC, and approved: proven.
        payable: true,
        created_at: now,
    }
}

fn source_expiry(source: &CardSource) -> String {
    match source {
        CardSource::Entered(c) => c.expiry.mmyy(),
        CardSource::Saved { card, .. } => card.expiry_mmyy.clone(),
    }
}
