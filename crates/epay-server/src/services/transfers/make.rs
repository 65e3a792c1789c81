//! Making a transfer: the token and order checked, each card resolved, the network asked (the
//! sender pays amount + fee, the receiver must accept), and the outcome recorded in one
//! transaction with its money, saved cards, callback and 3-D Secure challenge.

use epay_domain::{ids, Amount, CardBrand, Currency, ReasonCode, TransferKind, TxStatus};
use epay_network::{AuthRequest, Authorization, Conversion};
use epay_store::{Payment, StoreError, TokenSpend, TransferWrite};

use super::answer::{answer, callback, TransferResponse};
use super::command::Transfer;
use super::error::{internal, too_many_attempts, Refusal, TransferError};
use super::money::{fee, settlement, transfer_money};
use super::order::{caller_token, check_order, check_token, transfer_terminal};
use super::sides::{new_saved_card, resolve_side, CardGiven, PhoneScope, Side, SENDER};
use crate::app::App;
use crate::platform::clock::year_month;
use crate::services::auth::Caller;
use crate::services::{attempts, capability, idempotency, payments, three_ds};

/// Makes the transfer `command` asks for, for `caller` (the API's bearer token, the transfer
/// form's token), and answers it: the transfer, its 3-D Secure challenge, or why not.
pub async fn transfer(app: &App, caller: Caller, command: Transfer) -> Result<TransferResponse, TransferError> {
    let token = caller_token(caller)?;
    check_token(&token, command.kind)?;
    let token_spend = command.token_spend;
    // Only a token bound to its order id may try again after a decline: one bound to none (seed
    // 002's page token) would try cards on any number of order ids (docs/security.md).
    let token_spend = if token.invoice_id.is_some() { token_spend } else { TokenSpend::Always };
    let Transfer { kind, order: asked, sender: sender_asked, receiver: receiver_asked, acs_url, .. } = command;
    let acs_url = acs_url.as_str();
    let invoice_text = asked
        .id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| TransferError::bad("order.id is required"))?;
    let requested_account = asked.account_id.clone();
    let account_id = capability::account_id(&token, &requested_account)
        .map_err(|e| TransferError::bad(format!("order.{e}")).with_order(&invoice_text, &requested_account))?;
    let fail = |e: TransferError| e.with_order(&invoice_text, &account_id);

    let terminal = transfer_terminal(app, &token, &asked).await.map_err(fail)?;
    let order = check_order(app.config.mode, &asked, &token, &terminal).map_err(fail)?;
    if !terminal.transfers_allowed {
        return Err(fail(Refusal::NotPermitted.into()));
    }

    let phone_scope = PhoneScope { token_digest: &token.token_digest, terminal_id: &terminal.id };
    let sender = match (kind, &sender_asked) {
        (TransferKind::Oct, _) => None,
        (_, Some(f)) => Some(resolve_side(app, &token.merchant_id, &account_id, f, SENDER, None).await.map_err(fail)?),
        (_, None) => return Err(fail(TransferError::bad("card.sender is required"))),
    };
    let receiver = match (kind, &receiver_asked) {
        (TransferKind::Aft, _) => None,
        (_, Some(f)) => Some(
            resolve_side(
                app,
                &token.merchant_id,
                &account_id,
                f,
                "receiver",
                (kind == TransferKind::Oct).then_some(phone_scope),
            )
            .await
            .map_err(fail)?,
        ),
        (_, None) => return Err(fail(TransferError::bad("card.receiver is required"))),
    };
    if let Some(s) = &sender {
        if s.given == CardGiven::Pan && (s.expiry.is_none() || s.cvc.is_none()) {
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
            crate::services::guard::card_keys(
                &app.keys.pan_fingerprint(&s.pan),
                &terminal.id,
                &crate::services::guard::Limits::from_config(&app.config),
            )
            .to_vec()
        })
        .unwrap_or_default();
    let guard_keys = crate::services::guard::as_refs(&guard_keys);
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
        // A 3-D Secure terminal challenges an enrolled sender card before money moves.
        challenge = three_ds::challenges(&terminal, &answer);
        match answer {
            Authorization::Approved { card_account, approval_code: code, issuer: i, .. } => {
                from_account = card_account;
                approval_code = code;
                issuer = i;
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

    let payment_id = ids::time_ordered_uuid(now);
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
        sender_transfer_type: sender.as_ref().map(|s| s.given.as_str().to_string()).unwrap_or_default(),
        receiver_transfer_type: receiver.as_ref().map(|r| r.given.as_str().to_string()).unwrap_or_default(),
        receiver_card_id: receiver.as_ref().and_then(|r| r.saved_card_id.clone()),
        receiver_card_mask: mask(&receiver),
        receiver_card_brand: brand(&receiver),
        receiver_account: receiver.as_ref().map(|_| to_account.clone()),
        ..Payment::default()
    };
    let payment = match &authorization {
        Some(a) => payments::with_conversion(payment, a),
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
            let mut session = three_ds::new_session(
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
        token_expires_at: token.expires_at,
        token_spend,
        settlement: settlement(kind, payment, money, save_sender, save_receiver),
        three_ds: three_ds.clone(),
        idempotency: {
            let (three_ds, acs_url) = (three_ds.clone(), acs_url.to_string());
            let (invoice_text, account_id) = (invoice_text.clone(), account_id.clone());
            idempotency::record(move |p| {
                answer(p, three_ds.as_ref(), &acs_url).map_err(|e| e.with_order(&invoice_text, &account_id))
            })
        },
    };
    let recorded = match app.store.record_transfer(write, &callback).await {
        Ok(p) => p,
        Err(StoreError::TokenSpent) => {
            return Err(fail(Refusal::Unauthorized("token has already been used; request a new token".into()).into()))
        }
        Err(e) => {
            return Err(fail(match attempts::refused(&e, "order id", order.invoice.as_str()) {
                Some(attempts::Refused::Held(message)) => Refusal::Held(message).into(),
                Some(attempts::Refused::Exhausted(message)) => Refusal::AttemptsExhausted(message).into(),
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
