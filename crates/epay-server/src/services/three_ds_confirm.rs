//! The 3-D Secure confirm step (seed 003, facts §7): the merchant's TermUrl presents `MD` and
//! `PaRes` with the payment's own token, and the payment or transfer that waited in `3D` ends in
//! AUTH/CHARGE or a failure with a 3-D Secure reason code. Also the sweep that fails challenges
//! abandoned for too long. Sits above the payment and transfer services: it calls them, they
//! never call it.

use epay_domain::{ids, Expiry, PaymentKind, ReasonCode, ThreeDsState, TxStatus};
use epay_network::{AuthRequest, Authorization};
use epay_store::{DebitKind, Payment, PaymentEffect, SavedCard, StoreError, ThreeDsFinish, ThreeDsSession};

use crate::app::App;
use crate::platform::clock::year_month;
use crate::platform::keys::digest;
use crate::services::callbacks;
use crate::services::payments::{payment_response, PaymentError};
use crate::services::three_ds::{acs_trans_id, server_trans_id};
use crate::services::transfers::{self, TransferResponse};
use crate::wire::PaymentResponse;

/// What a successful confirm answers: the payment, or the transfer, now final.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Confirmed {
    Payment(PaymentResponse),
    Transfer(TransferResponse),
}

fn internal(e: StoreError) -> PaymentError {
    tracing::error!(error = %e, "3-D Secure storage failed");
    PaymentError::Internal
}

/// The confirm step (facts §7): `MD` and `PaRes` from the ACS, presented with the payment's own
/// token. Ends the payment; a second confirm is refused.
pub async fn confirm(
    app: &App,
    access_token: &str,
    md_text: &str,
    pa_res_text: &str,
) -> Result<Confirmed, PaymentError> {
    let bad = |m: &str| PaymentError::BadRequest(m.to_string());
    let server_id =
        server_trans_id(md_text).ok_or_else(|| bad("MD is not a 3-D Secure transaction of this gateway"))?;
    let session = app
        .store
        .three_ds_session_by_server_id(&server_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| bad("MD is not a 3-D Secure transaction of this gateway"))?;
    let token = app.store.token(&digest(access_token.trim())).await.map_err(internal)?;
    let token = match token {
        Some(t) if t.token_digest == session.token_digest => t,
        _ => return Err(PaymentError::Unauthorized("the token is not the one this payment was started with".into())),
    };
    if acs_trans_id(pa_res_text).as_deref() != Some(session.id.as_str()) {
        return Err(bad("PaRes does not belong to this MD"));
    }
    let payment = app
        .store
        .payment(&token.merchant_id, &session.payment_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| bad("transaction not found"))?;
    let now = app.clock.now_ms();
    let timed_out = now - session.created_at > app.config.three_ds_timeout_secs * 1000;
    let outcome = match session.state {
        ThreeDsState::Confirmed => {
            return Err(PaymentError::Conflict("this 3-D Secure transaction was already confirmed".into()))
        }
        ThreeDsState::Pending if !timed_out => return Err(bad("the 3-D Secure challenge has not been answered yet")),
        ThreeDsState::Pending => Err(ReasonCode::THREE_DS_UNAVAILABLE),
        ThreeDsState::Passed => Ok(()),
        ThreeDsState::Failed | ThreeDsState::Cancelled => {
            Err(ReasonCode::from_code(session.reason_code).unwrap_or(ReasonCode::THREE_DS_FAILED))
        }
    };
    let finished = finish_any(app, &session, payment, outcome, now).await?;
    if finished.reason_code != 0 {
        let reason = ReasonCode::from_code(finished.reason_code).unwrap_or(ReasonCode::THREE_DS_FAILED);
        return Err(PaymentError::Declined { reason, transaction_id: finished.id });
    }
    Ok(if transfers::is_transfer(&finished) {
        Confirmed::Transfer(transfers::response(&finished))
    } else {
        Confirmed::Payment(payment_response(&finished))
    })
}

/// Ends a 3D transaction, payment or transfer.
async fn finish_any(
    app: &App,
    session: &ThreeDsSession,
    payment: Payment,
    outcome: Result<(), ReasonCode>,
    now: i64,
) -> Result<Payment, PaymentError> {
    if transfers::is_transfer(&payment) {
        transfers::finish_three_ds(app, session, payment, outcome, now).await
    } else {
        finish(app, session, payment, outcome, now).await
    }
}

/// The card a passed challenge saves: entered with its expiry and CVC, then 3-D Secure, so it
/// is proven and may pay.
fn proven_card(
    app: &App,
    payment: &Payment,
    session: &ThreeDsSession,
    pan: &epay_domain::Pan,
    terminal_pos_id: &str,
    now: i64,
) -> SavedCard {
    SavedCard {
        id: ids::uuid(),
        merchant_id: payment.merchant_id.clone(),
        account_id: payment.account_id.clone(),
        pan_fingerprint: app.keys.pan_fingerprint(pan),
        pan_ciphertext: session.pan_ciphertext.clone(),
        card_mask: pan.masked(),
        card_brand: pan.brand().as_str().to_string(),
        expiry_mmyy: session.expiry_mmyy.clone(),
        payer_name: payment.payer_name.clone(),
        transaction_id: payment.id.clone(),
        terminal_pos_id: terminal_pos_id.to_string(),
        reference: payment.reference.clone(),
        int_reference: payment.int_reference.clone(),
        card_token: hex::encode_upper(uuid::Uuid::new_v4().as_bytes()),
        active: true,
        payable: true,
        created_at: now,
    }
}

/// Ends a 3D payment: a passed challenge asks the network again (no CVC: it was checked before
/// the challenge) and moves the money; anything else fails the payment with `reason`.
async fn finish(
    app: &App,
    session: &ThreeDsSession,
    mut payment: Payment,
    outcome: Result<(), ReasonCode>,
    now: i64,
) -> Result<Payment, PaymentError> {
    let terminal = app.store.terminal(&payment.terminal_id).await.map_err(internal)?.ok_or(PaymentError::Internal)?;
    let pan = app.open_pan(&session.pan_ciphertext).await.ok_or(PaymentError::Internal)?;
    let mut effect = PaymentEffect::None;
    let mut save_card = None;
    payment.secure = true;
    match outcome {
        Ok(()) => {
            let amount = epay_domain::Amount::from_minor(payment.amount_minor).map_err(|_| PaymentError::Internal)?;
            let request = AuthRequest {
                pan: &pan,
                expiry: Expiry::parse(&session.expiry_mmyy).ok(),
                cvc: None,
                amount,
                currency: payment.currency.parse().map_err(|_| PaymentError::Internal)?,
                today: year_month(now),
            };
            match app.network.authorize(&request) {
                // A card verification (amount 0) proves the card and moves no money.
                Authorization::Approved { approval_code, issuer, .. } if payment.kind == PaymentKind::Verification => {
                    payment.status = TxStatus::Verified;
                    payment.approval_code = approval_code;
                    payment.issuer = issuer;
                    if session.save_card && !payment.account_id.is_empty() {
                        save_card = Some(proven_card(app, &payment, session, &pan, &terminal.pos_id, now));
                    }
                }
                Authorization::Approved { card_account, approval_code, issuer, .. } => {
                    // The conversion was recorded when the challenge started; it stays.
                    let (status, kind) = if terminal.two_step {
                        (TxStatus::Auth, DebitKind::Pending)
                    } else {
                        (TxStatus::Charge, DebitKind::Posted)
                    };
                    payment.status = status;
                    payment.charged_minor = if status == TxStatus::Charge { payment.amount_minor } else { 0 };
                    payment.approval_code = approval_code;
                    payment.issuer = issuer;
                    payment.reference = ids::reference();
                    payment.card_account = Some(card_account.clone());
                    effect = PaymentEffect::Debit {
                        card_account,
                        merchant_account: epay_store::merchant_account(&terminal.id, &payment.currency),
                        kind,
                    };
                    if session.save_card && !payment.account_id.is_empty() {
                        save_card = Some(proven_card(app, &payment, session, &pan, &terminal.pos_id, now));
                    }
                }
                Authorization::Declined { reason, .. } => {
                    payment.status = TxStatus::Reject;
                    payment.reason_code = reason.code;
                    payment.reason = reason.message.into();
                }
            }
        }
        Err(reason) => {
            payment.status = TxStatus::Failed;
            payment.reason_code = reason.code;
            payment.reason = reason.message.into();
        }
    }
    let finish = ThreeDsFinish { session_id: session.id.clone(), payment, effect, save_card, now_ms: now };
    match app.store.finish_three_ds(finish, &callbacks::for_payment).await {
        Ok(p) => {
            app.metrics.observe_outcome(&p);
            tracing::info!(payment_id = %p.id, status = %p.status, reason_code = p.reason_code, "3-D Secure payment finished");
            Ok(p)
        }
        Err(StoreError::AlreadyConfirmed) => {
            Err(PaymentError::Conflict("this 3-D Secure transaction was already confirmed".into()))
        }
        Err(e) => Err(internal(e)),
    }
}

/// Fails 3D payments whose challenge was abandoned for longer than `three_ds_timeout_secs`.
pub async fn fail_abandoned(app: &App) -> usize {
    let now = app.clock.now_ms();
    let cutoff = now - app.config.three_ds_timeout_secs * 1000;
    let Ok(sessions) = app.store.abandoned_three_ds(cutoff, 200).await else {
        return 0;
    };
    let mut failed = 0;
    for session in sessions {
        let Ok(Some(payment)) = app.store.payment_by_id(&session.payment_id).await else { continue };
        if finish_any(app, &session, payment, Err(ReasonCode::THREE_DS_UNAVAILABLE), now).await.is_ok() {
            failed += 1;
        }
    }
    failed
}
